"""The floor script, the pipeline from bytes, the full-shape sign-ins and the report bench's
model (no timing assertions)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from bench import bench_report, floor, pipeline
from bench.pages import SignInPages, signin_bytes
from bench.table import table
from bench.tenant import SIZES, EntraTenant
from connectors.entra import parse_signin
from reports.json_report import validate
from scanner.net.jsonbody import decode_json


def tenant(events: int) -> EntraTenant:
    return EntraTenant(replace(SIZES["large"], signins=events), seed=7)


def test_signins_have_the_documented_shape_and_size() -> None:
    made = tenant(1000).signin(5)
    for key in (
        "status",
        "deviceDetail",
        "location",
        "appliedConditionalAccessPolicies",
        "authenticationDetails",
        "correlationId",
        "riskState",
    ):
        assert key in made
    assert set(made["location"]["geoCoordinates"]) == {"altitude", "latitude", "longitude"}
    assert 1400 <= signin_bytes(tenant(1000)) <= 2200
    assert parse_signin(made).event_id == made["id"]


def test_pages_are_graph_answers_newest_first_and_repeatable() -> None:
    pages = SignInPages(tenant(2500), 2500)
    bodies = list(pages)
    first = decode_json(bodies[0])
    assert [len(decode_json(b)["value"]) for b in bodies] == [1000, 1000, 500]
    assert "@odata.nextLink" in first and "@odata.nextLink" not in decode_json(bodies[-1])
    stamps = [item["createdDateTime"] for item in first["value"]]
    assert stamps == sorted(stamps, reverse=True)
    crc, size = pages.crc, pages.bytes
    list(pages)
    assert (pages.crc, pages.bytes) == (crc, size) and size == sum(len(b) for b in bodies)


def test_floor_counts_every_event_once(tmp_path: Path) -> None:
    found = floor.measure(SignInPages(tenant(3000), 3000), tmp_path / "floor.db")
    with sqlite3.connect(tmp_path / "floor.db") as db:
        counted = db.execute("SELECT sum(count) + sum(failures) FROM daily").fetchone()[0]
    assert counted == 3000
    assert found["events"] == 3000 and found["floor_json_s"] > 0 and found["bytes_per_event"] > 0


def test_pipeline_from_bytes_reports_its_ratio_to_the_floor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        pipeline.main(["--events", "3000", "--db", str(tmp_path / "p.db"), "--clock", "cpu"]) == 0
    )
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["events"] == 3000 and figures["floor"]["pages_crc"]
    assert figures["ratio_to_floor_json"] > 0 and figures["bytes_per_event"] > 1000
    row = {**figures, "events_per_s": 1, "events_per_s_without_generator": 1}
    row |= {"target_events_per_s": 1, "verdict": "PASS", "peak_rss_mb": 1, "floor_verdict": "MISS"}
    printed = table([], row)
    assert "pipeline / floor script (json.loads)" in printed and "B/ev" in printed


def test_report_bench_model_is_valid_for_the_current_schema() -> None:
    base = bench_report.demo_model()
    model = bench_report.synthetic_model(40, 300, 8, base=base)
    validate(model)
    assert model["schema_version"] == base["schema_version"]
    assert len(model["apps"]) == 40 and len({a["key"] for a in model["apps"]}) == 40
    assert {f["app_key"] for f in model["findings"]} <= {a["key"] for a in model["apps"]}
    # User lists capped as the report model's are; department counts cover every user.
    for app in model["apps"]:
        assert len(app["user_list"]) == min(app["users"], bench_report.USERS_LISTED)
        assert app["users_more"] == app["users"] - len(app["user_list"])
        assert sum(d["users"] for d in app["departments"]) == app["users"]
