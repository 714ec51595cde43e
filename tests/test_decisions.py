"""Decisions that stick: an accepted finding is not open anywhere until its end date, an
acknowledged one is open and says by whom; ``accept`` needs ``--until`` or ``--no-expiry``."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from reports import model as report_model
from reports.tables import app_rows
from scanner.analysis import findings as lifecycle
from scanner.app import config as configuration
from scanner.app import notify
from scanner.store import findings as stored
from scanner.store import notifications as stored_notifications
from scanner.store.database import Store
from tests.decisions_support import Tenant, lines, make_tenant

TODAY = datetime.now(UTC).date()
LATER = (TODAY + timedelta(days=30)).isoformat()
CANVA = "cat:canva:unsanctioned"
OVER = "cat:hubspot:over_scoped"


@pytest.fixture()
def tenant(tmp_path: Path) -> Tenant:
    t = make_tenant(tmp_path)
    first = t.scan()
    assert first.exit_code == 0, first.output
    return t


def statuses(t: Tenant, today: date = TODAY) -> dict[str, tuple[str, bool]]:
    store = Store.open(t.store)
    try:
        return {r["id"]: (r["status"], r["open"]) for r in lifecycle.listing(store, today=today)}
    finally:
        store.close()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--reason", "trial"],
            "Error: shadowit accept: give --until YYYY-MM-DD (the day the acceptance ends) or "
            "--no-expiry (it never ends)",
        ),
        (
            ["--reason", "trial", "--until", LATER, "--no-expiry"],
            "Error: shadowit accept: give --until YYYY-MM-DD or --no-expiry, not both",
        ),
        (
            ["--reason", "trial", "--until", "soon"],
            "Error: --until 'soon' is not a date like 2026-12-31",
        ),
        (
            ["--reason", "trial", "--until", TODAY.isoformat()],
            f"Error: --until {TODAY.isoformat()} is not in the future; the acceptance ends at the "
            "start of that day: give a later date, or --no-expiry",
        ),
        (
            ["--until", LATER],
            "Error: shadowit accept: give --reason (why; it is kept in the finding's history)",
        ),
    ],
)
def test_accept_refuses_without_an_end_date_in_one_line(
    tenant: Tenant, extra: list[str], message: str
) -> None:
    result = tenant.cli("accept", CANVA, *extra)
    assert result.exit_code == 2
    assert lines(result) == [message]
    assert statuses(tenant)[CANVA] == ("open", True)


def test_acknowledge_needs_a_reason(tenant: Tenant) -> None:
    result = tenant.cli("acknowledge", CANVA)
    assert result.exit_code == 2
    assert lines(result) == [
        "Error: shadowit acknowledge: give --reason (why; it is kept in the finding's history)"
    ]


def test_accepted_findings_are_not_open_anywhere(tenant: Tenant) -> None:
    gate = tenant.scan("--fail-on", "medium")
    assert gate.exit_code == 4, gate.output
    until = tenant.cli("accept", CANVA, "--reason", "design trial", "--until", LATER, "--by", "sam")
    assert lines(until) == [
        f"{CANVA}: accepted until {LATER} by sam; not counted as open until then"
    ]
    forever = tenant.cli("accept", OVER, "--reason", "known", "--no-expiry", "--by", "sam")
    assert lines(forever) == [f"{OVER}: accepted with no end date by sam; not counted as open"]

    gate = tenant.scan("--fail-on", "medium")
    assert gate.exit_code == 0, gate.output
    assert "  open findings: 2 (2 low)" in lines(gate)

    cfg = configuration.load(Path(tenant.config))
    store = Store.open(tenant.store)
    try:
        model = report_model.build(store, cfg)
        news = notify.gather(store, model["scan"]["id"], "info")
    finally:
        store.close()
    assert model["summary"]["open_findings"] == 2
    assert model["summary"]["findings_by_severity"]["medium"] == 0
    assert [h["open_findings"] for h in model["history"]] == [4, 4, 2]
    by_id = {f["id"]: f for f in model["findings"]}
    assert (by_id[CANVA]["status"], by_id[CANVA]["open"]) == ("accepted", False)
    assert by_id[CANVA]["decision"] == f"accepted by sam until {LATER}: design trial"
    assert by_id[OVER]["decision"] == "accepted by sam with no end date: known"
    hubspot = next(a for a in model["apps"] if a["name"] == "HubSpot")
    assert {f["id"]: f["open"] for f in hubspot["findings"]}[OVER] is False
    assert {r["app"]: r["open_findings"] for r in app_rows(model)} == {"HubSpot": 1, "Canva": 1}
    assert news.open_by_severity == {"low": 2}
    assert {f.id for f in news.findings} == {
        "cat:canva:owner_unconfirmed",
        "cat:hubspot:owner_unconfirmed",
    }

    listed = tenant.cli("findings", "--status", "open", "--json")
    assert {r["id"] for r in json.loads(listed.output)} == {
        "cat:canva:owner_unconfirmed",
        "cat:hubspot:owner_unconfirmed",
    }


def test_acknowledged_findings_stay_open_and_say_by_whom(tenant: Tenant) -> None:
    result = tenant.cli("acknowledge", CANVA, "--reason", "asked the owner", "--by", "sam")
    assert lines(result) == [f"{CANVA}: acknowledged by sam; still counted as open"]
    assert tenant.scan("--fail-on", "medium").exit_code == 4
    listing = tenant.cli("findings", "--status", "acknowledged")
    assert lines(listing) == [
        f"{CANVA}  [medium, acknowledged] Canva: unsanctioned",
        "    Canva is not on the sanctioned list; 1 person uses it",
        "    acknowledged by sam: asked the owner",
    ]
    cfg = configuration.load(Path(tenant.config))
    store = Store.open(tenant.store)
    try:
        model = report_model.build(store, cfg)
        open_now = stored_notifications.open_findings_by_severity(store)
    finally:
        store.close()
    (canva,) = [f for f in model["findings"] if f["id"] == CANVA]
    assert (canva["open"], canva["decision"]) == (True, "acknowledged by sam: asked the owner")
    assert model["summary"]["findings_by_severity"]["medium"] == 2
    assert open_now == {"medium": 2, "low": 2}


def test_an_acceptance_is_open_again_from_its_end_date(tenant: Tenant) -> None:
    tomorrow = TODAY + timedelta(days=1)
    tenant.cli("accept", CANVA, "--reason", "trial", "--until", tomorrow.isoformat(), "--by", "sam")
    assert statuses(tenant)[CANVA] == ("accepted", False)
    assert statuses(tenant, tomorrow)[CANVA] == ("open", True)

    cfg = configuration.load(Path(tenant.config))
    then = datetime.combine(tomorrow, datetime.min.time(), UTC)
    store = Store.open(tenant.store, clock=lambda: then)
    try:
        model = report_model.build(store, cfg, now=then)
        open_then = stored_notifications.open_findings_by_severity(store)
        listed = lifecycle.listing(store, "open", tomorrow)
    finally:
        store.close()
    (canva,) = [f for f in model["findings"] if f["id"] == CANVA]
    assert (canva["status"], canva["open"]) == ("open", True)
    assert canva["decision"] == f"acceptance by sam ended {tomorrow.isoformat()}: trial"
    assert model["summary"]["findings_by_severity"]["medium"] == 2
    assert open_then["medium"] == 2
    assert CANVA in {r["id"] for r in listed}


def test_the_sql_and_the_python_definition_of_open_agree(tenant: Tenant) -> None:
    tenant.cli("accept", CANVA, "--reason", "r", "--until", LATER)
    tenant.cli("accept", OVER, "--reason", "r", "--no-expiry")
    tenant.cli("acknowledge", "cat:canva:owner_unconfirmed", "--reason", "r")
    ends = date.fromisoformat(LATER)
    expected = {TODAY: False, ends - timedelta(days=1): False, ends: True}
    store = Store.open(tenant.store)
    try:
        for day, canva_open in expected.items():
            condition, params = stored.open_condition(day)
            query = f"SELECT id FROM findings WHERE {condition}"
            in_sql = {r["id"] for r in store.db.query(query, params)}
            in_python = {
                r["id"]
                for r in stored.finding_rows(store)
                if stored.is_open(r["status"], r["decided_until"], day)
            }
            assert in_sql == in_python, day
            assert (CANVA in in_sql, OVER in in_sql) == (canva_open, False), day
            assert "cat:canva:owner_unconfirmed" in in_sql
    finally:
        store.close()


def test_findings_shows_state_who_why_and_until(tenant: Tenant) -> None:
    tenant.cli("accept", CANVA, "--reason", "design trial", "--until", LATER, "--by", "sam")
    rows = {r["id"]: r for r in json.loads(tenant.cli("findings", "--json").output)}
    canva = rows[CANVA]
    assert (canva["status"], canva["open"], canva["decided_by"]) == ("accepted", False, "sam")
    assert (canva["decision_reason"], canva["decided_until"]) == ("design trial", LATER)
    assert canva["decision"] == f"accepted by sam until {LATER}: design trial"
    assert rows[OVER]["decision"] is None and rows[OVER]["open"] is True

    narrow = tenant.cli("findings", "--status", "accepted")
    assert lines(narrow) == [
        f"{CANVA}  [medium, risk accepted] Canva: unsanctioned",
        "    Canva is not on the sanctioned list; 1 person uses it",
        f"    accepted by sam until {LATER}: design trial",
    ]
    table = tenant.cli("findings", "--status", "accepted", columns=220)
    assert table.exit_code == 0
    header = next(line for line in lines(table) if "Decision" in line)
    assert "Status" in header and "Why" in header
    assert any(
        CANVA in line and f"accepted by sam until {LATER}: design trial" in line
        for line in lines(table)
    ), table.output


def test_a_resolved_finding_cannot_be_accepted(tenant: Tenant) -> None:
    store = Store.open(tenant.store)
    try:
        store.db.execute(
            "UPDATE findings SET status = 'resolved', resolved_scan = 1 WHERE id = ?", [CANVA]
        )
    finally:
        store.close()
    result = tenant.cli("accept", CANVA, "--reason", "r", "--no-expiry")
    assert result.exit_code == 2
    assert lines(result) == [
        f"Error: finding {CANVA} is already resolved (scan 1); nothing to accept"
    ]
