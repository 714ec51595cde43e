"""The log-engine bench line on a tiny sample: both paths printed, the ratios computed."""

from __future__ import annotations

import pytest

pytest.importorskip(
    "azure.monitor.query", reason="the logs extra is not installed (pip install -e '.[logs]')"
)
pytest.importorskip("duckdb", reason="the logs extra is not installed (pip install -e '.[logs]')")

from bench.log_engines import figures, render  # noqa: E402


def test_log_engine_path_is_printed_next_to_the_api_path() -> None:
    rows = figures(people=10_000, events=1_000_000, sample_people=50, shards=2)
    table = render(rows)
    assert "Graph sign-in listing" in table and "Log Analytics summarize" in table
    graph, logs, bigquery, ratio = rows[1], rows[2], rows[3], rows[4]
    assert graph[1] == "1,000,000" and graph[2] == "1,000"
    moved = int(logs[1].replace(",", ""))
    assert 0 < moved < 1_000_000  # aggregates, not events, cross the wire
    assert logs[1] == bigquery[1]  # both engines count the same (app, person, day) rows
    assert float(ratio[2].rstrip("x").replace(",", "")) > 10
