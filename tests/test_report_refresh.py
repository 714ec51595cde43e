"""`shadowit report` reconciles the stored inventory again: an owner's answer and a
`shadowit sanction` count without a scan, and no provider is called (the demo's are gone)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner.analysis.confirm import (
    FormAnswer,
    Plan,
    apply_plan,
    mark_sent,
    plan,
    record_answer,
    request,
    settings,
    validate_answer,
)
from scanner.app import config as configuration
from scanner.app.cli import main
from scanner.app.pipeline import scan_lock
from scanner.store import reconciliations
from scanner.store.database import Store
from scanner.store.findings import finding_rows

PURPOSE = "Webinar sign-up pages for the spring launch"
DATA_HELD = "names and work emails of attendees"


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(main, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def out(demo_store: Path, tmp_path: Path) -> Path:
    """A fresh copy of the demo folder per test (the store, config and sanctioned list)."""
    copy = tmp_path / "demo"
    shutil.copytree(demo_store, copy)
    return copy


def report_json(out: Path) -> dict[str, Any]:
    return json.loads((out / "report.json").read_text("utf-8"))


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, list(args), env=env)


def _scan_runs(out: Path) -> list[dict[str, Any]]:
    store = Store.open(out / "shadowit.db")
    try:
        return store.scans(status=None)
    finally:
        store.close()


def open_findings(data: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {f["app_key"]: f for f in data["findings"] if f["kind"] == kind and f["open"]}


def answer_mine(out: Path, app_key: str, now: datetime) -> str:
    """Ask the app's likely owner and record their "yes, mine", as the page would."""
    cfg = configuration.load(out / "config.toml")
    store = Store.open(cfg.store_path)
    try:
        planned = plan(store, cfg, settings(cfg), now)
        delivery = next(d for d in planned.deliveries if d.app_key == app_key)
        [(_, request_id)] = apply_plan(store, Plan((delivery,)), now - timedelta(hours=2))
        mark_sent(store, request_id, False, now - timedelta(hours=1))
        asked = request(store, request_id)
        assert asked is not None
        form = FormAnswer("mine", purpose=PURPOSE, data_held=DATA_HELD, renewal="2027-03-31")
        assert record_answer(store, validate_answer(form, asked, cfg.organisation), now)
        return delivery.owner
    finally:
        store.close()


def targets(out: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A marketing app whose owner has not confirmed it (and who can be asked), and another,
    unsanctioned app."""
    data = report_json(out)
    cfg = configuration.load(out / "config.toml")
    store = Store.open(cfg.store_path)
    try:
        askable = {d.app_key for d in plan(store, cfg, settings(cfg), _now()).deliveries}
    finally:
        store.close()
    apps = {a["key"]: a for a in data["apps"]}
    unconfirmed = open_findings(data, "owner_unconfirmed")
    answered = next(apps[k] for k in sorted(unconfirmed) if k in askable)
    unsanctioned = open_findings(data, "unsanctioned")
    sanctioned = next(apps[k] for k in sorted(unsanctioned) if k != answered["key"])
    return answered, sanctioned


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def test_report_shows_an_answer_and_a_sanction_without_a_scan(out: Path) -> None:
    config = str(out / "config.toml")
    answered, sanctioned = targets(out)
    scans_before = _scan_runs(out)
    owner = answer_mine(out, answered["key"], _now())
    result = run(
        "sanction", "--config", config, sanctioned["name"], "--status", "sanctioned",
        "--by", "it-lead",
    )  # fmt: skip
    assert result.exit_code == 0, result.output

    # As the scan left it: neither counts yet.
    result = run("report", "--config", config, "--no-refresh")
    assert result.exit_code == 0, result.output
    stale = report_json(out)
    assert answered["key"] in open_findings(stale, "owner_unconfirmed")
    assert sanctioned["key"] in open_findings(stale, "unsanctioned")

    result = run("report", "--config", config)
    assert result.exit_code == 0, result.output
    assert "Reconciled scan" in result.output and "resolved" in result.output
    data = report_json(out)
    apps = {a["key"]: a for a in data["apps"]}

    mine = apps[answered["key"]]
    assert mine["confirmation"]["state"] == "confirmed"
    assert mine["confirmation"]["owner"] == owner
    ownership = mine["ownership"]
    answered_at = ownership.pop("answered_at")
    assert answered_at and datetime.fromisoformat(answered_at) <= datetime.now(UTC)
    assert ownership == {
        "owner": owner,
        "owner_source": "confirmed",
        "owner_source_text": "confirmed by the owner",
        "team": answered["ownership"]["team"],
        "purpose": PURPOSE,
        "data_held": DATA_HELD,
        "renewal_date": "2027-03-31",
        "answer": "mine",
        "answer_text": "Yes, my team owns it",
        "answered_by": owner,
        "note": None,
    }
    assert answered["key"] not in open_findings(data, "owner_unconfirmed")
    assert not [f for f in mine["findings"] if f["kind"] == "owner_unconfirmed"]

    now_sanctioned = apps[sanctioned["key"]]
    assert now_sanctioned["sanction_status"] == "sanctioned"
    assert sanctioned["key"] not in open_findings(data, "unsanctioned")
    assert not [f for f in now_sanctioned["findings"] if f["kind"] == "unsanctioned"]
    assert data["scan"]["id"] == stale["scan"]["id"]

    html = (out / "report.html").read_text("utf-8")
    assert PURPOSE in html and DATA_HELD in html

    # Recorded as a reconciliation of the latest scan, with no new scan run.
    assert _scan_runs(out) == scans_before
    listing = run("scans", "--config", config, env={"COLUMNS": "250"})
    assert "Reconciled again" in listing.output and "1 time, last" in listing.output
    store = Store.open(out / "shadowit.db")
    try:
        scan_id = store.latest_scan()
        assert scan_id == data["scan"]["id"]
        [done] = reconciliations.of_scan(store, scan_id)
        assert done.resolved >= 2
        rows = {(r["app_key"], r["kind"]): r for r in finding_rows(store)}
        for key in ((answered["key"], "owner_unconfirmed"), (sanctioned["key"], "unsanctioned")):
            assert rows[key]["status"] == "resolved" and rows[key]["resolved_scan"] == scan_id
    finally:
        store.close()


def test_a_second_report_changes_nothing(out: Path) -> None:
    config = str(out / "config.toml")
    answered, _ = targets(out)
    answer_mine(out, answered["key"], _now())
    assert run("report", "--config", config).exit_code == 0
    first = report_json(out)
    store = Store.open(out / "shadowit.db")
    try:
        rows_before = _states(store)
    finally:
        store.close()

    result = run("report", "--config", config)
    assert result.exit_code == 0, result.output
    assert "no finding changed" in result.output
    second = report_json(out)
    for part in ("apps", "findings", "summary", "changes", "scan"):
        assert second[part] == first[part], part
    store = Store.open(out / "shadowit.db")
    try:
        assert _states(store) == rows_before
        runs = reconciliations.of_scan(store, first["scan"]["id"])
        assert [r.changed for r in runs][-1] == 0 and len(runs) == 2
    finally:
        store.close()


def _states(store: Store) -> list[dict[str, Any]]:
    """Every finding as stored but when it was last refreshed (a refresh is not a change)."""
    return [{k: v for k, v in r.items() if k != "updated"} for r in finding_rows(store)]


def test_a_finding_the_scan_did_not_recheck_is_kept(out: Path) -> None:
    """A finding the scan kept without re-checking it (its source failed) is not resolved by a
    reconciliation, even when its condition is gone: only a scan can check it."""
    config = str(out / "config.toml")
    answered, _ = targets(out)
    answer_mine(out, answered["key"], _now())
    store = Store.open(out / "shadowit.db")
    try:
        scan_id = store.latest_scan()
        assert scan_id is not None
        store.db.execute(
            "UPDATE findings SET last_scan = ? WHERE app_key = ? AND kind = 'owner_unconfirmed'",
            [scan_id - 1, answered["key"]],
        )
        store.db.conn.commit()
    finally:
        store.close()
    assert run("report", "--config", config).exit_code == 0
    assert answered["key"] in open_findings(report_json(out), "owner_unconfirmed")


def test_report_while_a_scan_holds_the_lock_says_what_to_do(out: Path) -> None:
    with scan_lock(out / "shadowit.db"):
        result = run("report", "--config", str(out / "config.toml"))
    assert result.exit_code == 2
    assert "a shadowit scan is running" in result.output
    assert "--no-refresh" in result.output and "Traceback" not in result.output
    result = run("report", "--config", str(out / "config.toml"), "--no-refresh")
    assert result.exit_code == 0, result.output


def test_a_source_run_keeps_the_record_sources_it_wrote(tmp_path: Path) -> None:
    """A file import names its own source ("expenses"): the reconciliation and the report
    model read which records each source wrote from the store, as the scan knew them."""
    from scanner.app.demo import run_demo
    from scanner.store.database import Store

    run_demo(tmp_path / "demo")
    store = Store.open(tmp_path / "demo" / "shadowit.db")
    try:
        first, latest = store.record_sources(1), store.record_sources(store.latest_scan() or 0)
    finally:
        store.close()
    assert first["files"] == {"expenses", "browser-usage"} and first["entra"] == {"entra"}
    assert latest["files"] == set(), "unchanged files are not read again: no records"


def test_exports_tell_a_reconciled_state_from_the_scans_own(out: Path) -> None:
    """A SIEM keys OCSF events on metadata.uid and a GRC tool BOMs on serialNumber: after a
    reconciliation changed the scan's findings, both are new; one that changed nothing keeps
    them."""
    pytest.importorskip("py_ocsf_models", reason="the exports extra is not installed")
    from reports import cyclonedx, ocsf

    config = str(out / "config.toml")
    assert run("report", "--config", config, "--no-refresh").exit_code == 0
    before = report_json(out)
    assert before["scan"]["reconciled"] is None
    first = {e["finding_info"]["uid"]: e["metadata"]["uid"] for e in ocsf.events(before)}
    serial = json.loads(cyclonedx.render_json(before))["serialNumber"]

    assert run("sanction", "--config", config, "Loom", "--status", "banned").exit_code == 0
    assert run("report", "--config", config).exit_code == 0
    after = report_json(out)
    assert after["scan"]["reconciled"]["changes"] == 1
    again = {e["finding_info"]["uid"]: e["metadata"]["uid"] for e in ocsf.events(after)}
    common = set(first) & set(again)
    assert common and all(again[u] == first[u] + "+1" for u in common)
    assert json.loads(cyclonedx.render_json(after))["serialNumber"] != serial

    assert run("report", "--config", config).exit_code == 0  # nothing new to reconcile
    assert report_json(out)["scan"]["reconciled"] == after["scan"]["reconciled"]
