"""``shadowit sanction`` merges field by field, records who changed what, ``--revert`` drops
the changes; ``shadowit policy`` shows each field's source. Ends with the scenario of the
nightly gate: accepted findings pass ``--fail-on``, a new review date keeps the owner and the
approved scopes (``over_scoped`` still fires), and ``--revert`` restores the file's entry."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from scanner.store import migrations
from scanner.store import sanctions as stored
from scanner.store.database import Store
from tests.decisions_support import SANCTIONED, Tenant, lines, make_tenant

LATER = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()


@pytest.fixture()
def tenant(tmp_path: Path) -> Tenant:
    return make_tenant(tmp_path)


def fields(t: Tenant, app: str = "HubSpot") -> dict[str, dict[str, object]]:
    result = t.cli("policy", "--app", app, "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    return dict(row["fields"])


def overrides(t: Tenant) -> list[tuple[str, str]]:
    with sqlite3.connect(t.store) as db:
        return db.execute("SELECT app, field FROM sanction_overrides ORDER BY 1, 2").fetchall()


def test_sanction_changes_only_the_fields_given(tenant: Tenant) -> None:
    result = tenant.cli("sanction", "HubSpot", "--review-by", "2100-01-31", "--by", "dana")
    assert result.exit_code == 0
    assert lines(result) == ["HubSpot: review_by: 2099-11-10 -> 2100-01-31"]
    policy = fields(tenant)
    file = str(tenant.sanctioned)
    assert policy["owner"] == {"value": "ops@example.com", "source": "file", "where": f"{file}:5"}
    assert policy["team"] == {"value": "Marketing ops", "source": "file", "where": f"{file}:6"}
    assert policy["approved_scopes"] == {
        "value": ["openid", "Mail.Read"],
        "source": "file",
        "where": f"{file}:8",
    }
    review = policy["review_by"]
    assert (review["value"], review["source"], review["by"]) == ("2100-01-31", "change", "dana")
    assert overrides(tenant) == [("HubSpot", "review_by")]

    store = Store.open(tenant.store)
    try:
        (change,) = stored.change_history(store, "HubSpot")
    finally:
        store.close()
    assert (change.field, change.event, change.old, change.new) == (
        "review_by",
        "set",
        "2099-11-10",
        "2100-01-31",
    )
    assert change.actor == "dana" and change.at == review["at"]


def test_the_same_value_again_changes_nothing(tenant: Tenant) -> None:
    result = tenant.cli("sanction", "HubSpot", "--owner", "ops@example.com")
    assert lines(result) == [
        "HubSpot: nothing changed; the policy in force already has these values"
    ]
    assert overrides(tenant) == []


def test_later_edits_to_the_file_apply_to_fields_not_overridden(tenant: Tenant) -> None:
    tenant.cli("sanction", "HubSpot", "--review-by", "2100-01-31", "--by", "dana")
    tenant.sanctioned.write_text(
        SANCTIONED.replace("ops@example.com", "crm@example.com").replace(
            "2099-11-10", "2099-12-01"
        ),
        encoding="utf-8",
    )
    policy = fields(tenant)
    assert policy["owner"]["value"] == "crm@example.com"
    assert policy["owner"]["source"] == "file"
    assert (policy["review_by"]["value"], policy["review_by"]["source"]) == ("2100-01-31", "change")


def test_revert_puts_the_file_entry_back_in_force(tenant: Tenant) -> None:
    tenant.cli("sanction", "HubSpot", "--review-by", "2100-01-31", "--team", "", "--by", "dana")
    assert "team" not in fields(tenant)
    result = tenant.cli("sanction", "HubSpot", "--revert", "--by", "kim")
    assert result.exit_code == 0
    assert lines(result) == [
        "HubSpot: team: (none) -> Marketing ops",
        "HubSpot: review_by: 2100-01-31 -> 2099-11-10",
        "HubSpot: recorded changes dropped; the sanctioned list's entry is in force "
        f"({tenant.sanctioned}:2)",
    ]
    policy = fields(tenant)
    assert {f["source"] for f in policy.values()} == {"file"}
    assert policy["review_by"]["value"] == "2099-11-10"
    assert overrides(tenant) == []
    store = Store.open(tenant.store)
    try:
        events = [(c.field, c.event, c.actor) for c in stored.change_history(store)]
    finally:
        store.close()
    assert events == [
        ("team", "set", "dana"),
        ("review_by", "set", "dana"),
        ("team", "revert", "kim"),
        ("review_by", "revert", "kim"),
    ]
    again = tenant.cli("sanction", "HubSpot", "--revert")
    assert lines(again) == [
        "HubSpot: no recorded changes to revert; the sanctioned list's entry is in force "
        f"({tenant.sanctioned}:2)"
    ]


def test_an_app_not_in_the_file_is_added_and_reverted(tenant: Tenant) -> None:
    added = tenant.cli("sanction", "Canva", "--status", "tolerated", "--scopes", "openid, email")
    assert lines(added) == [
        "Canva: status: (none) -> tolerated",
        "Canva: approved_scopes: (none) -> openid, email",
    ]
    assert fields(tenant, "canva")["status"]["source"] == "change"
    text = tenant.cli("policy", "--app", "Canva")
    assert lines(text)[0] == "Canva: tolerated"
    assert lines(text)[1].startswith("  status: tolerated (changed by ")
    reverted = tenant.cli("sanction", "Canva", "--revert")
    assert lines(reverted)[-1] == (
        "Canva: recorded changes dropped; the sanctioned list has no entry for Canva: it is "
        "unsanctioned"
    )
    none = tenant.cli("policy", "--app", "Canva")
    assert lines(none) == ["Canva: no entry in the policy (it is unsanctioned)"]


def test_policy_text_names_the_file_line_of_each_field(tenant: Tenant) -> None:
    result = tenant.cli("policy")
    file = tenant.sanctioned
    assert result.exit_code == 0
    assert lines(result) == [
        "HubSpot: sanctioned",
        f"  status: sanctioned ({file}:4)",
        f"  owner: ops@example.com ({file}:5)",
        f"  team: Marketing ops ({file}:6)",
        f"  purpose: CRM ({file}:7)",
        f"  approved_scopes: openid, Mail.Read ({file}:8)",
        f"  review_by: 2099-11-10 ({file}:9)",
    ]
    assert not tenant.store.exists(), "showing the policy creates no inventory"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["HubSpot"],
            "Error: shadowit sanction HubSpot: nothing to change; give one or more of --status, "
            "--owner, --team, --purpose, --scopes, --data-classification, --approved-on, "
            "--review-by, --notes, --renewal-date, --notice-days, --annual-cost, "
            "--cost-currency, --alternative-of, or --revert to drop the recorded changes",
        ),
        (
            ["HubSpot", "--revert", "--team", "Ops"],
            "Error: shadowit sanction HubSpot: --revert drops every recorded change of the app; "
            "give it without --team",
        ),
        (
            ["Canva", "--owner", "ana@example.com"],
            "Error: shadowit sanction: Canva has no entry in the sanctioned list; give --status "
            "(sanctioned, tolerated, banned) to add one",
        ),
        (
            ["HubSpot", "--status", "approved"],
            "Error: shadowit sanction: status 'approved' for HubSpot is not one of sanctioned, "
            "tolerated, banned",
        ),
        (
            ["HubSpot", "--status", ""],
            "Error: shadowit sanction HubSpot: --status cannot be cleared; give one of "
            "sanctioned, tolerated, banned, or --revert to go back to the sanctioned list",
        ),
        (
            ["HubSpot", "--review-by", "next year"],
            "Error: shadowit sanction: review_by 'next year' is not a date like 2026-01-31",
        ),
        (
            ["Hubspt", "--status", "banned"],
            "Error: shadowit sanction: unknown app 'Hubspt': did you mean HubSpot? (or add the "
            "app to [catalog] to keep this name)",
        ),
    ],
)
def test_sanction_mistakes_are_one_line_and_change_nothing(
    tenant: Tenant, args: list[str], message: str
) -> None:
    result = tenant.cli("sanction", *args)
    assert result.exit_code == 2
    assert lines(result) == [message]
    if tenant.store.exists():
        assert overrides(tenant) == []


def test_an_entry_recorded_whole_before_becomes_field_overrides(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    step = migrations.STEPS.index(migrations._sanction_changes)
    migrations.migrate(db, migrations.STEPS[:step])
    db.execute(
        "INSERT INTO sanctions (app, status, owner, approved_scopes, approved_on, updated) "
        "VALUES ('Canva', 'tolerated', 'ana@example.com', '[]', '2026-01-05', "
        "'2026-01-05T10:00:00Z')"
    )
    db.conn.commit()
    db.close()
    store = Store.open(path)
    try:
        recorded = {(r.field, str(r.value), r.changed_by) for r in stored.recorded_overrides(store)}
        tables = set(store.db.table_names())
    finally:
        store.close()
    assert recorded == {
        ("status", "tolerated", "unknown"),
        ("owner", "ana@example.com", "unknown"),
        ("approved_on", "2026-01-05", "unknown"),
    }
    assert "sanctions" not in tables


def test_scenario_accept_the_mediums_re_sanction_then_revert(tenant: Tenant) -> None:
    assert tenant.scan("--fail-on", "medium").exit_code == 4
    listed = json.loads(tenant.cli("findings", "--status", "open", "--json").output)
    mediums = [r["id"] for r in listed if r["severity"] == "medium"]
    assert sorted(mediums) == ["cat:canva:unsanctioned", "cat:hubspot:over_scoped"]
    for finding in mediums:
        accepted = tenant.cli("accept", finding, "--reason", "reviewed", "--until", LATER)
        assert accepted.exit_code == 0, accepted.output
    assert tenant.scan("--fail-on", "medium").exit_code == 0

    changed = tenant.cli("sanction", "HubSpot", "--review-by", "2100-06-30", "--by", "dana")
    assert lines(changed) == ["HubSpot: review_by: 2099-11-10 -> 2100-06-30"]
    third = tenant.scan("--fail-on", "medium")
    assert third.exit_code == 0, third.output
    policy = fields(tenant)
    assert policy["owner"]["value"] == "ops@example.com"
    assert policy["approved_scopes"]["value"] == ["openid", "Mail.Read"]
    with sqlite3.connect(tenant.store) as db:
        status, last_scan, extra = db.execute(
            "SELECT status, last_scan, evidence FROM findings WHERE id = ?",
            ["cat:hubspot:over_scoped"],
        ).fetchone()
        latest = db.execute("SELECT max(id) FROM scan_runs").fetchone()[0]
    assert (status, last_scan) == ("accepted", latest), "over_scoped fired in the latest scan"
    assert json.loads(extra)["extra_scopes"] == ["Contacts.Read"]

    reverted = tenant.cli("sanction", "HubSpot", "--revert")
    assert lines(reverted)[0] == "HubSpot: review_by: 2100-06-30 -> 2099-11-10"
    assert fields(tenant)["review_by"] == {
        "value": "2099-11-10",
        "source": "file",
        "where": f"{tenant.sanctioned}:9",
    }
