"""The inventory is built from evidence: every record that names an app makes it exist, its
evidence is counted per source and kind, and only successful sign-ins make users and use.

Payloads are in the providers' documented shapes (tests/payloads/evidence/): Okta System Log
``user.authentication.sso`` events (https://developer.okta.com/docs/reference/api/system-log/),
Google SAML audit ``login_success``/``login_failure``
(https://developers.google.com/admin-sdk/reports/v1/appendix/activity/saml), Graph ``signIn``
whose ``status.errorCode`` 0 is success and anything else a failure
(https://learn.microsoft.com/en-us/graph/api/resources/signinstatus) and the beta
``servicePrincipalSignInActivity`` per-app last use
(https://learn.microsoft.com/en-us/graph/api/resources/serviceprincipalsigninactivity).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from connectors.entra import parse_app as entra_app
from connectors.entra import parse_signin, parse_sp_activity
from connectors.google.parse import _parse_activity, _signin
from connectors.okta import parse_app as okta_app
from connectors.okta import parse_sso_event
from scanner.analysis import inventory
from scanner.analysis.catalog import Catalog
from scanner.analysis.risk import ScopeTable
from scanner.core.config import OrganisationSettings
from scanner.core.models import Checkpoint, InventoryApp, SourceRecord
from scanner.store import migrations
from scanner.store.database import Store

PAYLOADS = Path(__file__).parent / "payloads" / "evidence"
NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


def scan(store: Store, source: str, records: Iterable[SourceRecord]) -> None:
    scan_id = store.begin_scan()
    store.begin_source(scan_id, source)
    stats = store.ingest(scan_id, source, records)
    store.end_source(scan_id, source, "ok", stats)
    store.finish_scan(scan_id)


def build(store: Store) -> dict[str, InventoryApp]:
    apps = inventory.build(
        store, Catalog.load(), ScopeTable.load(None), OrganisationSettings(), NOW
    )
    return {a.name: a for a in apps}


def okta_listing(apps: list[dict[str, Any]]) -> Iterator[SourceRecord]:
    yield from (okta_app(a) for a in apps)
    yield Checkpoint("okta", "apps", complete=True)


def okta_sso() -> Iterator[SourceRecord]:
    for event in payload("okta-logs-sso-miro.json"):
        signin = parse_sso_event(event)
        assert signin is not None
        yield signin
    yield Checkpoint("okta", "signins", "2026-11-13T10:00:01Z")


def google_saml() -> Iterator[SourceRecord]:
    for raw in payload("google-saml-miro.json"):
        for event in _parse_activity(raw):
            signin = _signin("saml", event)
            assert signin is not None
            yield signin
    yield Checkpoint("google", "saml", "2026-11-14T09:30:01Z")


def entra_listing() -> Iterator[SourceRecord]:
    yield from (entra_app(a) for a in payload("entra-servicePrincipals-figma.json"))
    yield Checkpoint("entra", "apps", complete=True)


def entra_signins() -> Iterator[SourceRecord]:
    yield from (parse_signin(s) for s in payload("entra-signIns-figma.json"))
    yield Checkpoint("entra", "signins", "2026-11-13T08:15:01Z")


def entra_activity(raw: dict[str, Any] | None = None) -> Iterator[SourceRecord]:
    for item in [raw] if raw else payload("entra-servicePrincipalSignInActivities-figma.json"):
        signin = parse_sp_activity(item)
        assert signin is not None
        yield signin
    yield Checkpoint("entra", "activity", None)


def test_okta_app_deleted_after_sso_is_present_sso_only_with_google_saml(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "inv.db", clock=lambda: NOW)
    scan(store, "okta", okta_listing(payload("okta-apps-miro.json")))
    scan(store, "okta", okta_sso())
    # The app is deleted from Okta: the next complete listing no longer has it.
    scan(store, "okta", okta_listing([]))
    scan(store, "google", google_saml())

    miro = build(store)["Miro"]

    assert miro.sources == ("google", "okta")
    assert miro.access == "sso_only"
    assert dict(((s, k), n) for s, k, n in miro.evidence) == {
        ("okta", "sso"): 3,  # two successful, one failed
        ("google", "saml"): 1,
    }
    assert miro.users == ("alice.moreau@acme.example", "bob.martin@acme.example")
    assert miro.failed_sign_ins == 1
    assert miro.last_sign_in == datetime(2026, 11, 14, 9, 30, tzinfo=UTC)
    assert miro.app.domain == "miro.com"  # resolved through the catalog like any raw app
    store.close()


def test_saml_sign_ins_alone_make_an_app_never_listed(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "inv.db", clock=lambda: NOW)
    scan(store, "google", google_saml())

    miro = build(store)["Miro"]

    assert miro.sources == ("google",)
    assert miro.kinds == ("saml",)
    assert miro.access == "sso_only"
    assert miro.users == ("alice.moreau@acme.example",)
    store.close()


def test_an_app_known_only_from_events_is_gone_once_its_events_are_older_than_retention(
    tmp_path: Path,
) -> None:
    """Miro's SAML sign-in is on 2026-11-14; with 90 days kept it is still seen on 2027-02-11
    and no longer on 2027-02-13, while a listed app stays whatever its events' age."""
    store = Store.open(tmp_path / "inv.db", clock=lambda: NOW)
    scan(store, "google", google_saml())
    scan(store, "entra", entra_listing())

    def names(on: datetime) -> set[str]:
        apps = inventory.build(
            store,
            Catalog.load(),
            ScopeTable.load(None),
            OrganisationSettings(),
            on,
            events_days=90,
        )
        return {a.name for a in apps}

    assert {"Miro", "Figma"} <= names(datetime(2027, 2, 11, tzinfo=UTC))
    later = names(datetime(2027, 2, 13, tzinfo=UTC))
    assert "Miro" not in later and "Figma" in later
    store.close()


def test_user_with_only_failed_sign_ins_is_not_a_user_and_counts_as_failures(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "inv.db", clock=lambda: NOW)
    scan(store, "entra", entra_listing())
    scan(store, "entra", entra_signins())

    apps = build(store)
    figma = apps["Figma"]

    assert figma.users == ("ana.lopez@acme.example",)  # Ben's two attempts failed
    assert figma.failed_sign_ins == 2
    assert figma.sign_ins_30d == 1
    # Ben failed later than Ana signed in: a failure is no last use.
    assert figma.last_sign_in == datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
    assert figma.access == "sso"
    assert ("entra", "sign_in", 3) in figma.evidence
    assert ("entra", "listing", 1) in figma.evidence
    # A sign-in to an app missing from the service-principal listing still makes the app.
    notion = apps["Notion"]
    assert notion.access == "sso_only"
    assert notion.users == ("dina.rossi@acme.example",)
    store.close()


def test_last_sign_in_activity_row_adds_no_sign_in(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "inv.db", clock=lambda: NOW)
    scan(store, "entra", entra_listing())
    scan(store, "entra", entra_signins())
    scan(store, "entra", entra_activity())
    # The next scan's report has a newer last use: still no sign-in, no user "*".
    later = payload("entra-servicePrincipalSignInActivities-figma.json")[0]
    later["lastSignInActivity"] = {"lastSignInDateTime": "2026-11-15T06:00:00Z"}
    scan(store, "entra", entra_activity(later))

    figma = build(store)["Figma"]

    assert figma.sign_ins_30d == 1
    assert figma.users == ("ana.lopez@acme.example",)
    assert figma.last_sign_in == datetime(2026, 11, 15, 6, 0, tzinfo=UTC)
    assert ("entra", "activity", 2) in figma.evidence
    starred = store.db.execute("SELECT count(*) FROM signin_daily WHERE user_key = '*'")
    assert starred.fetchone()[0] == 0
    store.close()


def test_migration_moves_failures_and_activity_rows_out_of_the_counts(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    before = migrations.STEPS.index(migrations._evidence)
    migrations.migrate(db, migrations.STEPS[:before])
    rows = [
        ("entra", "e1", "app-1", "2026-11-10T09:00:00Z", "u1", "ana@acme.example", "Figma", 1),
        ("entra", "e2", "app-1", "2026-11-10T10:00:00Z", "u2", "ben@acme.example", "Figma", 0),
        (
            "entra",
            "spsa:app-1:2026-11-11T07:00:00Z",
            "app-1",
            "2026-11-11T07:00:00Z",
            None,
            None,
            None,
            1,
        ),
    ]
    db.conn.executemany(
        "INSERT INTO signins (source, event_id, client_id, at, user_id, user_email, app_name, "
        "success, interactive, scan_id) VALUES (?,?,?,?,?,?,?,?,1,1)",
        rows,
    )
    db.conn.executemany(
        "INSERT INTO signin_daily VALUES (?,?,?,?,?,?)",
        [
            ("entra", "app-1", "ana@acme.example", "2026-11-10", 1, "2026-11-10T09:00:00Z"),
            ("entra", "app-1", "ben@acme.example", "2026-11-10", 1, "2026-11-10T10:00:00Z"),
            ("entra", "app-1", "*", "2026-11-11", 1, "2026-11-11T07:00:00Z"),
        ],
    )
    db.conn.commit()
    db.close()

    store = Store.open(path, clock=lambda: NOW)
    daily = {
        r["user_key"]: (r["count"], r["failures"], r["last_at"])
        for r in store.db.query("SELECT * FROM signin_daily")
    }
    assert daily == {
        "ana@acme.example": (1, 0, "2026-11-10T09:00:00Z"),
        "ben@acme.example": (0, 1, None),
    }
    evidence = {
        r["kind"]: (r["events"], r["failures"], r["name"])
        for r in store.db.query("SELECT * FROM app_evidence")
    }
    assert evidence["sign_in"] == (2, 1, "Figma")
    assert evidence["activity"][1] == 0
    store.close()
