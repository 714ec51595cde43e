"""The same store and the same clock give the same inventory, scores and findings, whether the
analysis runs a millisecond before or after a second boundary, and whatever second the store
stamped the records with."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import tests.memory_source  # noqa: F401 - registers the "feed" connector
from scanner.analysis import sanctions
from scanner.analysis.catalog import Catalog
from scanner.app import config as configuration
from scanner.app import pipeline
from scanner.app.demo import run_demo
from scanner.core.models import Checkpoint, Grant, RawApp, SourceRecord, SourceStatus, User
from scanner.store.database import IngestStats, Store

BEFORE = datetime(2026, 11, 20, 12, 0, 0, 999000, tzinfo=UTC)
AFTER = datetime(2026, 11, 20, 12, 0, 1, tzinfo=UTC)
STORED = datetime(2026, 11, 20, 12, 0, 1, 200000, tzinfo=UTC)
"""The pages commit a moment after the scan read its clock, in the next second."""


@pytest.fixture
def cfg(tmp_path: Path) -> configuration.Config:
    path = tmp_path / "config.toml"
    path.write_text('[organisation]\nname = "Test Co"\n[sources.feed]\n', encoding="utf-8")
    return configuration.load(path)


def night(extra: bool) -> list[SourceRecord]:
    records: list[SourceRecord] = [
        User("feed", "u1", "ana@example.com", "Ana", "Marketing"),
        User("feed", "u2", "bo@example.com", "Bo", "Engineering"),
        Checkpoint("feed", "users", complete=True),
        RawApp("feed", "zn", "Zephyr Notes Tool"),
        RawApp("feed", "hs", "HubSpot", publisher="HubSpot, Inc.", publisher_verified=True),
    ]
    if extra:
        records.append(RawApp("feed", "qf", "Quill Forms"))
    records += [
        Checkpoint("feed", "apps", complete=True),
        Grant("feed", "zn", "u1", ("openid", "Mail.Read")),
        Grant("feed", "hs", "u2", ("openid", "Mail.Read", "Mail.Send")),
    ]
    if extra:
        records.append(Grant("feed", "qf", "u1", ("Files.Read.All",)))
    return [*records, Checkpoint("feed", "grants", complete=True)]


def ingest(store: Store, records: Iterable[SourceRecord]) -> tuple[int, SourceStatus]:
    scan_id = store.begin_scan()
    store.begin_source(scan_id, "feed")
    stats = store.ingest(scan_id, "feed", iter(records), IngestStats())
    return scan_id, store.end_source(scan_id, "feed", stats.status(), stats)


def analysed(
    store: Store, cfg: configuration.Config, scan_id: int, status: SourceStatus, now: datetime
) -> pipeline.ScanResult:
    catalog = Catalog.load(cfg.catalog, cfg.file.parent if cfg.file else None)
    entries = sanctions.load(cfg.sanctioned, cfg.file.parent if cfg.file else None, catalog)
    return pipeline.analyse(
        store, cfg, scan_id, now, [status], {"feed": {"feed"}}, catalog, entries
    )


def comparable(result: pipeline.ScanResult) -> tuple[Any, ...]:
    """Apps (scores, levels, reasons and all), findings with their evidence, new apps."""
    return (
        [asdict(a) for a in result.apps],
        [asdict(f) for f in result.findings],
        result.new_apps,
    )


def test_first_scan_analysed_across_a_second_boundary_is_identical(
    cfg: configuration.Config,
) -> None:
    store = Store.open(cfg.store_path, clock=lambda: STORED)
    scan_id, status = ingest(store, night(extra=False))

    before = analysed(store, cfg, scan_id, status, BEFORE)
    after = analysed(store, cfg, scan_id, status, AFTER)

    assert comparable(before) == comparable(after)
    zephyr = next(a for a in after.apps if a.name == "Zephyr Notes Tool")
    # Stored in the next second, still first seen in this scan: new, 0 days old, either way.
    assert "new: first seen today" in zephyr.risk_reasons


def test_second_scan_analysed_across_a_second_boundary_is_identical(
    cfg: configuration.Config,
) -> None:
    baseline = Store.open(cfg.store_path, clock=lambda: STORED - timedelta(days=1))
    first_id, first_status = ingest(baseline, night(extra=False))
    analysed(baseline, cfg, first_id, first_status, BEFORE - timedelta(days=1))
    baseline.finish_scan(first_id)
    store = Store(baseline.db, clock=lambda: STORED)
    scan_id, status = ingest(store, night(extra=True))

    before = analysed(store, cfg, scan_id, status, BEFORE)
    after = analysed(store, cfg, scan_id, status, AFTER)

    assert comparable(before) == comparable(after)
    assert after.new_apps == [next(a.key for a in after.apps if a.name == "Quill Forms")]
    assert {f.app_name for f in after.findings if f.kind == "new_app"} == {"Quill Forms"}


def test_new_apps_are_judged_by_the_scans_recorded_starts(cfg: configuration.Config) -> None:
    """An app first seen in a scan exactly ``new_app_days`` before this one is still new, however
    many milliseconds past the second the analysis runs."""
    days = cfg.policy.new_app_days
    start = STORED - timedelta(days=days + 1)
    store = Store.open(cfg.store_path, clock=lambda: start)
    first_id, first_status = ingest(store, night(extra=False))
    analysed(store, cfg, first_id, first_status, start)
    store.finish_scan(first_id)
    store.clock = lambda: STORED - timedelta(days=days)
    second_id, second_status = ingest(store, night(extra=True))
    analysed(store, cfg, second_id, second_status, STORED - timedelta(days=days))
    store.finish_scan(second_id)
    store.clock = lambda: STORED
    scan_id, status = ingest(store, night(extra=True))

    results = [analysed(store, cfg, scan_id, status, now) for now in (BEFORE, AFTER, STORED)]

    assert [r.new_apps for r in results] == [results[0].new_apps] * 3
    assert len(results[0].new_apps) == 1


# -- the demo ----------------------------------------------------------------------------------

RANDOM_IDS = {("confirmations", "request_id"), ("pending_requests", "id")}
"""Confirmation request ids: random by design (they are the secret in each link)."""


def normalised(report: dict[str, Any], out: Path) -> dict[str, Any]:
    """``report`` without what a run generates (its time, request ids, its folder's name)."""
    data = json.loads(json.dumps(report).replace(str(out), "<out>"))
    data.pop("generated_at", None)
    for section, key in RANDOM_IDS:
        for row in data.get(section) or []:
            row.pop(key, None)
    return data


def demo_report(out: Path) -> dict[str, Any]:
    run_demo(out)
    report: dict[str, Any] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return normalised(report, out)


def test_demo_analysis_twice_gives_the_same_report(tmp_path: Path) -> None:
    first, second = (demo_report(tmp_path / name) for name in ("one", "two"))
    assert first["apps"] and first["findings"]
    assert_same(first, second)


def assert_same(first: dict[str, Any], second: dict[str, Any]) -> None:
    for section in sorted(set(first) | set(second)):
        assert first.get(section) == second.get(section), section
