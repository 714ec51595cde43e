"""Entra incremental scans and the background sign-in listing, against FakeGraph over HTTPS.

Between weekly sweeps a scan reads users through /users/delta and grants only for the apps the
directory audit (or the service principal delta round) says changed.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from connectors import entra
from scanner.core.errors import AuthError, RetryableError
from scanner.core.models import Checkpoint, Grant, Removed, SignIn, SourceRecord, User
from scanner.store.database import Store
from tests import test_entra as base
from tests.test_entra import NOW, SIGNINS, Harness, completed, cursors, of

# The HTTPS fixtures of the end-to-end suite: a FakeGraph per test behind one TLS server.
tls_server = base.tls_server
fake = base.fake
server = base.server
session = base.session
harness = base.harness

CANVA_SP = "a1000000-0000-4000-8000-000000000001"
CANVA_APP = "c0c0a000-1111-4222-8333-444455556666"
ACME_SP = "a1000000-0000-4000-8000-000000000003"
GRAPH_SP = "7d1e2c3b-0a4f-4e5d-8c6b-1a2b3c4d5e01"
ALICE = "b2000000-0000-4000-8000-000000000001"
BOB = "b2000000-0000-4000-8000-000000000002"
CAROL = "b2000000-0000-4000-8000-000000000003"
AUDITS = "/v1.0/auditLogs/directoryAudits"
GRANTS = "/v1.0/oauth2PermissionGrants"
LATER = NOW + dt.timedelta(days=1)


def grant_event(activity: str, client_sp: str, at: str = "2026-03-01T18:00:00Z") -> dict[str, Any]:
    """A grant audit event as Entra writes it: the resource is the target, the client in
    ``ServicePrincipal.ObjectID``."""
    return {
        "id": f"Directory_{activity[:6]}_{client_sp[-4:]}",
        "category": "ApplicationManagement",
        "result": "success",
        "activityDisplayName": activity,
        "activityDateTime": at,
        "loggedByService": "Core Directory",
        "operationType": "Assign",
        "initiatedBy": {"user": {"id": ALICE, "userPrincipalName": "alice@contoso.example"}},
        "targetResources": [
            {
                "id": GRAPH_SP,
                "displayName": "Microsoft Graph",
                "type": "ServicePrincipal",
                "modifiedProperties": [
                    {"displayName": "DelegatedPermissionGrant.Scope", "newValue": '"Mail.Read"'},
                    {
                        "displayName": "ServicePrincipal.ObjectID",
                        "oldValue": None,
                        "newValue": f'"{client_sp}"',
                    },
                ],
            }
        ],
    }


def scan_at(harness: Harness, since: dict[str, str], now: dt.datetime) -> list[SourceRecord]:
    return list(harness.connector(now=now).collect(since))


def test_grant_change_events_name_the_client_not_the_resource() -> None:
    event = grant_event("Add delegated permission grant", CANVA_SP)
    assert entra.parse_grant_change(event) == (
        frozenset({CANVA_SP}),
        dt.datetime(2026, 3, 1, 18, 0, tzinfo=dt.UTC),
    )
    consent = {
        **event,
        "targetResources": [{"id": ACME_SP, "type": "ServicePrincipal"}],
    }
    assert entra.parse_grant_change(consent) == (frozenset({ACME_SP}), consent_time(consent))
    assert entra.parse_grant_change({**event, "result": "failure"}) is None


def consent_time(event: dict[str, Any]) -> dt.datetime:
    stamp = entra.parse_time(event["activityDateTime"])
    assert stamp is not None
    return stamp


def test_second_scan_reads_only_changes_and_the_changed_apps_grants(harness: Harness) -> None:
    fake = harness.fake
    first = harness.collect()
    assert {"users", "grants"} <= completed(first)  # a first scan is a full sweep
    since = cursors(first)
    # Bob's Canva grant is revoked; the audit log says so.
    fake.grants = [g for g in fake.grants if g["id"] != "Q2FudmEtYm9i"]
    fake.directory_audits.append(grant_event("Remove delegated permission grant", CANVA_SP))
    fake.log.clear()

    second = scan_at(harness, since, LATER)

    paths = {r.path for r in fake.log}
    assert paths == {
        f"/{fake.tenant}/v2.0/.well-known/openid-configuration",
        f"/{fake.tenant}/oauth2/v2.0/token",
        "/v1.0/users/delta",
        AUDITS,
        "/v1.0/servicePrincipals/delta",
        GRANTS,
        f"/v1.0/servicePrincipals/{CANVA_SP}",
        f"/v1.0/servicePrincipals/{CANVA_SP}/appRoleAssignments",
        f"/v1.0/servicePrincipals/{GRAPH_SP}",  # the resource of Canva's grants
        SIGNINS,
        "/beta/reports/servicePrincipalSignInActivities",
    }
    # Grants only for Canva, with the documented filter; one audit call per activity.
    assert [r.args["$filter"] for r in fake.requests_to(GRANTS)] == [f"clientId eq '{CANVA_SP}'"]
    activities = [r.args["$filter"].split("'")[1] for r in fake.requests_to(AUDITS)]
    assert activities == [entra.CONSENT_ACTIVITY, *entra.GRANT_ACTIVITIES]
    assert all(
        r.args["$filter"].endswith("activityDateTime ge 2026-03-01T12:00:00Z")
        for r in fake.requests_to(AUDITS)[1:]
    )
    assert "$deltatoken" in fake.requests_to("/v1.0/users/delta")[0].args

    # Removal first, then Canva's current grants; nothing marked complete.
    canva = [r for r in second if isinstance(r, Removed | Grant) and r.client_id == CANVA_APP]
    assert canva[0] == Removed("entra", "grant", client_id=CANVA_APP)
    assert [g.user_id for g in canva[1:]] == [ALICE]
    assert not completed(second)
    marks = cursors(second)
    assert marks["grants_audit"] == "2026-03-01T18:00:00Z"
    assert "sweep" not in marks  # only a full sweep moves it


def test_revoked_grant_disappears_and_new_grant_appears_in_the_store(
    harness: Harness, tmp_path: Path
) -> None:
    fake = harness.fake
    store = Store.open(tmp_path / "inventory.db")

    def scan(now: dt.datetime) -> list[SourceRecord]:
        connector = harness.connector(now=now)
        run = store.begin_scan()
        store.begin_source(run, "entra")
        kept: list[SourceRecord] = []

        def tee() -> Any:
            for record in connector.collect(store.cursors("entra")):
                kept.append(record)
                yield record

        stats = store.ingest(run, "entra", tee())
        store.end_source(run, "entra", "ok", stats)
        store.finish_scan(run)
        return kept

    def live_grants() -> set[tuple[str, str]]:
        rows = store.db.query(
            "SELECT client_id, user_key FROM grants WHERE gone_scan IS NULL "
            "AND consent_type != 'application'"
        )
        return {(r["client_id"], r["user_key"]) for r in rows}

    try:
        scan(NOW)
        assert (CANVA_APP, BOB) in live_grants()
        before = live_grants()
        # Bob's Canva grant is revoked; Carol consents to Canva.
        fake.grants = [g for g in fake.grants if g["id"] != "Q2FudmEtYm9i"]
        fake.grants.append(
            {
                "id": "Q2FudmEtY2Fyb2w",
                "clientId": CANVA_SP,
                "consentType": "Principal",
                "principalId": CAROL,
                "resourceId": GRAPH_SP,
                "scope": "User.Read Calendars.Read",
            }
        )
        fake.directory_audits += [
            grant_event("Remove delegated permission grant", CANVA_SP),
            grant_event("Add delegated permission grant", CANVA_SP, "2026-03-01T19:00:00Z"),
        ]
        second = scan(LATER)
        assert not completed(second)
        after = live_grants()
        assert (CANVA_APP, BOB) not in after
        assert (CANVA_APP, CAROL) in after
        assert after == (before - {(CANVA_APP, BOB)}) | {(CANVA_APP, CAROL)}
        # Application permissions of untouched apps stay as they were.
        app_only = store.db.execute(
            "SELECT count(*) FROM grants WHERE consent_type='application' AND gone_scan IS NULL"
        ).fetchone()[0]
        assert app_only == 2
    finally:
        store.close()


def test_users_delta_adds_changes_and_removes(harness: Harness) -> None:
    fake = harness.fake
    since = cursors(harness.collect())
    fake.delete_user("b2000000-0000-4000-8000-000000000004")
    fake.upsert_user(
        {
            "id": "b2000000-0000-4000-8000-000000000007",
            "userPrincipalName": "grace@contoso.example",
            "mail": "grace@contoso.example",
            "displayName": "Grace",
            "department": "Marketing",
            "accountEnabled": True,
            "userType": "Member",
        }
    )
    second = scan_at(harness, since, LATER)
    assert [u.email for u in of(second, User)] == ["grace@contoso.example"]
    assert Removed("entra", "user", user_id="b2000000-0000-4000-8000-000000000004") in second
    assert "users" not in completed(second)
    assert cursors(second)["users_delta"] != since["users_delta"]


def test_weekly_full_sweep_after_full_sweep_days(harness: Harness) -> None:
    fake = harness.fake
    since = cursors(harness.collect())
    six_days = scan_at(harness, since, NOW + dt.timedelta(days=6, hours=23))
    assert not completed(six_days)
    since = {**since, **cursors(six_days)}
    fake.log.clear()

    week = scan_at(harness, since, NOW + dt.timedelta(days=7))

    assert {"users", "grants"} <= completed(week)
    assert [r for r in fake.log if r.path == "/v1.0/users"]
    assert {r.args.get("$filter") for r in fake.requests_to(GRANTS)} == {None}
    assert len(of(week, Grant)) == 7
    assert cursors(week)["sweep"] == "2026-03-08T12:00:00Z"
    # A sweep lists, it does not ask the audit log which apps changed.
    assert all(entra.CONSENT_ACTIVITY in r.args["$filter"] for r in fake.requests_to(AUDITS))

    # full_sweep_days = 0: every scan lists everything.
    every = harness.connector(full_sweep_days=0)
    assert {"users", "grants"} <= completed(list(every.collect(cursors(week))))


def test_missing_audit_permission_falls_back_to_listing_grants(harness: Harness) -> None:
    since = cursors(harness.collect())
    harness.fake.denied = {"AuditLog.Read.All"}
    second = scan_at(harness, since, LATER)
    assert "grants" in completed(second)
    assert len(of(second, Grant)) == 7


# -- the background sign-in listing ---------------------------------------------------------


def test_signins_are_read_while_the_directory_streams_run(harness: Harness) -> None:
    fake = harness.fake
    listed = fake._grants
    signins_before_grants: list[int] = []

    def grants_after_signins(request: Any) -> Any:
        # Give the reader up to 2 s: read in the background, all three sign-in pages are in by
        # the time the directory streams reach the grants; read afterwards, none would be.
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and len(fake.requests_to(SIGNINS)) < 3:
            time.sleep(0.01)
        signins_before_grants.append(len(fake.requests_to(SIGNINS)))
        return listed(request)

    fake._handlers["GET /v1.0/oauth2PermissionGrants"] = fake._guard(grants_after_signins)
    records = harness.collect()
    assert signins_before_grants[0] == 3
    # Yielded after the directory records, the sign-in watermark last.
    kinds = [type(r).__name__ for r in records if not isinstance(r, Checkpoint)]
    last_grant = max(i for i, k in enumerate(kinds) if k == "Grant")
    first_signin = min(i for i, k in enumerate(kinds) if k == "SignIn")
    assert last_grant < first_signin
    assert records[-1] == Checkpoint("entra", "signins", cursor="2026-02-28T16:05:11Z")


def test_signin_errors_reach_the_caller_unchanged(harness: Harness) -> None:
    harness.fake.fail(SIGNINS, 503, times=50, headers={"Retry-After": "1"})
    seen: list[SourceRecord] = []
    with pytest.raises(RetryableError) as caught:
        for record in harness.connector().collect({}):
            seen.append(record)
    assert str(caught.value).startswith("Entra: gave up after 6 attempts: HTTP 503 from")
    assert SIGNINS in str(caught.value)
    # The directory streams finished and were yielded first; no sign-in watermark moved.
    assert {"users", "apps", "grants"} <= completed(seen)
    assert "signins" not in cursors(seen)
    assert not [s for s in of(seen, SignIn) if not s.event_id.startswith("spsa:")]


def test_an_auth_error_on_the_reader_thread_propagates(harness: Harness) -> None:
    harness.fake.fail(SIGNINS, 401)
    with pytest.raises(AuthError, match="Graph rejected the access token"):
        harness.collect()


def test_closing_the_scan_stops_the_reader_thread(harness: Harness) -> None:
    # Real sleeps and one report call per 30 s: the reader is waiting on the pacing when the
    # consumer stops after the first record.
    records = harness.connector(real_sleep=True, reports_calls=1, reports_period=30.0).collect({})
    assert isinstance(next(records), User)
    started = time.monotonic()
    records.close()
    assert time.monotonic() - started < 5
    assert not [t for t in threading.enumerate() if t.name == "entra-signins"]
    made = len(harness.fake.requests_to("/beta/") + harness.fake.requests_to(SIGNINS))
    time.sleep(0.2)
    assert len(harness.fake.requests_to("/beta/") + harness.fake.requests_to(SIGNINS)) == made
