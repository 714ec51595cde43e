"""Google's first scan reads the token audit events of the look-back window, so an app
authorised and revoked before night one is still seen; later scans read from the watermark and
count nothing twice. (Entra's consent audit: tests/test_first_scan_consent_window.py.)"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.testing.google import FakeGoogle
from connectors.testing.server import LoopbackServer
from scanner.analysis import inventory
from scanner.analysis.catalog import Catalog
from scanner.analysis.risk import ScopeTable
from scanner.core.config import OrganisationSettings
from scanner.core.models import Grant, RawApp, Removed, User
from scanner.store.database import Store
from tests.test_google import FIRST, Harness, cursors, ingest, load, of

MIA = "104000000000000000002"  # holds the notetaker token in tests/payloads/google/tokens.json
ADA = "104000000000000000001"
NOTETAKER = "880011223344-notetaker.apps.googleusercontent.com"
FORMS = "445566-quickforms.apps.googleusercontent.com"
PDF = "778899-pdfsigner.apps.googleusercontent.com"
TOKEN_LOG = "/admin/reports/v1/activity/users/all/applications/token"


def token_event(
    name: str, at: datetime, user: str, email: str, client: str, app: str, qualifier: str
) -> dict[str, Any]:
    """A token audit activity in the documented shape
    (https://developers.google.com/admin-sdk/reports/v1/appendix/activity/token)."""
    return {
        "kind": "admin#reports#activity",
        "id": {
            "time": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "uniqueQualifier": qualifier,
            "applicationName": "token",
            "customerId": "C0example",
        },
        "actor": {"email": email, "profileId": user},
        "events": [
            {
                "type": "auth",
                "name": name,
                "parameters": [
                    {"name": "client_id", "value": client},
                    {"name": "app_name", "value": app},
                    {"name": "client_type", "value": "WEB"},
                    {"name": "scope", "multiValue": ["https://www.googleapis.com/auth/drive"]},
                ],
            }
        ],
    }


def window_events() -> list[dict[str, Any]]:
    mia = (MIA, "mia.marketer@example.com")
    ada = (ADA, "ada.admin@example.com")
    return [
        # Quick Forms: authorised and revoked inside the 30-day window, no token left.
        token_event("authorize", FIRST - timedelta(days=10), *mia, FORMS, "Quick Forms", "81"),
        token_event("revoke", FIRST - timedelta(days=3), *mia, FORMS, "Quick Forms", "82"),
        # PDF Signer: authorised before the window, revoked inside it.
        token_event("revoke", FIRST - timedelta(days=5), *ada, PDF, "PDF Signer", "83"),
        # The notetaker token Mia still holds, authorised half an hour before night one.
        token_event(
            "authorize", FIRST - timedelta(minutes=30), *mia, NOTETAKER, "Meeting Notetaker", "84"
        ),
        # Long before the window: not read.
        token_event("authorize", FIRST - timedelta(days=45), *ada, "old-client", "Old App", "85"),
    ]


@pytest.fixture
def fake() -> FakeGoogle:
    return FakeGoogle(load("users.json"), load("tokens.json"), {"token": window_events()})


@pytest.fixture
def harness(fake: FakeGoogle, tmp_path: Path) -> Any:
    with LoopbackServer(fake) as server:
        yield Harness(fake, server, tmp_path)


def grant_rows(store: Store) -> dict[tuple[str, str], list[Any]]:
    rows: dict[tuple[str, str], list[Any]] = {}
    for r in store.db.query("SELECT user_key, client_id, gone_scan, granted_at FROM grants"):
        rows.setdefault((r["user_key"], r["client_id"]), []).append(r)
    return rows


def built(store: Store, now: datetime) -> dict[str, Any]:
    apps = inventory.build(store, Catalog.load(), ScopeTable.load(), OrganisationSettings(), now)
    return {client: a for a in apps for client in a.client_ids}


def test_google_first_scan_reads_the_token_log_of_the_lookback_window(harness: Harness) -> None:
    records = harness.collect()
    listings = harness.fake.requests_to(TOKEN_LOG)
    assert [r.args["eventName"] for r in listings] == ["authorize", "revoke"]
    # The whole look-back window (lookback_days = 30), up to the scan's clock.
    assert {r.args["startTime"] for r in listings} == {"2026-10-24T12:00:00.000Z"}
    assert {r.args["endTime"] for r in listings} == {"2026-11-23T12:00:00.000Z"}
    # The token events come before the sweep, so the token listing has the last word.
    first_user = next(i for i, r in enumerate(records) if isinstance(r, User))
    assert {g.client_id for g in of(records[:first_user], Grant)} == {FORMS, NOTETAKER}
    assert cursors(records)["token_events"] == "2026-11-23T12:00:00.000Z"
    assert "old-client" not in {a.client_id for a in of(records, RawApp)}


def test_google_app_authorised_and_revoked_in_the_window_appears_after_the_first_scan(
    harness: Harness, tmp_path: Path
) -> None:
    store = Store.open(tmp_path / "inventory.db", clock=lambda: FIRST)
    ingest(store, harness.collect())
    apps = built(store, FIRST)
    assert apps[FORMS].name == "Quick Forms"
    assert apps[PDF].name == "PDF Signer"  # named by its revoke alone
    grants = grant_rows(store)
    # The authorisation is kept as history, revoked; it counts nobody as holding access now.
    assert [r["gone_scan"] is not None for r in grants[(MIA, FORMS)]] == [True]
    assert apps[FORMS].users == ()
    # The notetaker token is listed: the listing's grant, with the authorisation's time.
    (notetaker,) = grants[(MIA, NOTETAKER)]
    assert notetaker["gone_scan"] is None and notetaker["granted_at"] == "2026-11-23T11:30:00Z"
    assert apps[NOTETAKER].users == ("mia.marketer@example.com",)


def test_google_window_authorisation_without_a_token_is_gone_after_the_sweep(
    harness: Harness, tmp_path: Path
) -> None:
    # Ada authorised Quick Forms; the token is gone but its revoke is not in the log yet.
    harness.fake.activities["token"].append(
        token_event(
            "authorize", FIRST - timedelta(days=2), ADA, "ada.admin@example.com", FORMS, "QF", "86"
        )
    )
    records = harness.collect()
    assert (ADA, FORMS) in {(r.user_id, r.client_id) for r in of(records, Removed)}
    store = Store.open(tmp_path / "inventory.db", clock=lambda: FIRST)
    ingest(store, records)
    assert all(r["gone_scan"] is not None for r in grant_rows(store)[(ADA, FORMS)])


def test_google_incomplete_sweep_removes_no_window_authorisation(harness: Harness) -> None:
    harness.fake.fail("/batch", 403, body=load("error-403-forbidden.json"))
    records = harness.collect()
    removed = {(r.user_id, r.client_id) for r in of(records, Removed)}
    # Only what the log itself revoked; the notetaker grant was not confirmed, nor dropped.
    assert removed == {(MIA, FORMS), (ADA, PDF)}


def test_google_second_scan_does_not_count_the_window_events_twice(
    harness: Harness, tmp_path: Path
) -> None:
    first = harness.collect()
    store = Store.open(tmp_path / "inventory.db", clock=lambda: FIRST)
    ingest(store, first)
    before = grant_rows(store)
    harness.fake.log.clear()

    later = FIRST + timedelta(days=1)
    second = harness.collect(since=cursors(first), now=later)
    listings = harness.fake.requests_to(TOKEN_LOG)
    # From the watermark minus the overlap: the notetaker authorisation is read again.
    assert {r.args["startTime"] for r in listings} == {"2026-11-23T11:00:00.000Z"}
    assert [(g.user_id, g.client_id) for g in of(second, Grant)] == [(MIA, NOTETAKER)]
    later_store = Store(store.db, clock=lambda: later)
    ingest(later_store, second)

    after = grant_rows(later_store)
    assert {k: len(v) for k, v in after.items()} == {k: len(v) for k, v in before.items()}
    raw = later_store.db.execute(
        "SELECT count(*) FROM raw_apps WHERE client_id IN (?, ?, ?)", [FORMS, PDF, NOTETAKER]
    ).fetchone()[0]
    assert raw == 3
    apps = built(later_store, later)
    assert apps[NOTETAKER].users == ("mia.marketer@example.com",)
    assert FORMS in apps and PDF in apps
