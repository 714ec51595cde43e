"""Google Workspace connector: the real googleapiclient + google-auth (service-account JWT flow)
against FakeGoogle on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from connectors.base import ConnectorContext
from connectors.google import (
    SCOPE_REPORTS,
    SCOPE_TOKENS,
    SCOPES,
    GoogleConnector,
    GoogleSettings,
)
from connectors.google.parse import (
    _parse_activity,
    _parse_token,
    _parse_user,
    _signin,
    _token_event_records,
)
from connectors.testing.google import FakeGoogle, google_error
from connectors.testing.server import LoopbackServer
from scanner.core.errors import AuthError, ConfigError
from scanner.core.models import (
    Checkpoint,
    Grant,
    RawApp,
    Removed,
    SignIn,
    Skipped,
    SourceRecord,
    SourceWarning,
    User,
)
from scanner.store.database import IngestStats, Store

PAYLOADS = Path(__file__).parent / "payloads" / "google"
FIRST = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SECOND = FIRST + timedelta(days=1)
ADMIN = "ada.admin@example.com"
CLIENT_ID = "102938475610293847561"
BULK_USERS = 1100  # three users.list pages of at most 500


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def bulk_users(count: int) -> list[dict[str, Any]]:
    """The payload users plus ``count`` generated ones (in the same shape)."""
    template = load("users.json")[1]
    users = load("users.json")
    for n in range(count):
        users.append({**template, "id": uid(n), "primaryEmail": f"user{n:05d}@example.com"})
    return users


def bulk_tokens(users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tokens for two users in three: a web app, a native app or an anonymous client."""
    templates = load("tokens.json")
    tokens = list(templates)
    for n, user in enumerate(users[3:]):
        if n % 3 == 2:
            continue
        tokens.append({**templates[n % 3], "userKey": user["id"]})
    return tokens


def activities() -> dict[str, list[dict[str, Any]]]:
    return {app: load(f"activities-{app}.json") for app in ("token", "login", "saml")}


def uid(n: int) -> str:
    """The id of generated user ``n``."""
    return f"2000{n:05d}"


@pytest.fixture
def fake(request: pytest.FixtureRequest) -> FakeGoogle:
    """A tenant of the payload users plus 40 generated ones (``indirect`` for more)."""
    users = bulk_users(getattr(request, "param", 40))
    return FakeGoogle(users, bulk_tokens(users), activities())


@pytest.fixture
def server(fake: FakeGoogle) -> Iterator[LoopbackServer]:
    with LoopbackServer(fake) as srv:
        yield srv


class Harness:
    """Builds connectors for one fake: key file, settings, recorded sleeps."""

    def __init__(self, fake: FakeGoogle, server: LoopbackServer, tmp: Path, **delegation: Any):
        self.fake = fake
        self.server = server
        self.key = fake.add_service_account(client_id=CLIENT_ID, **delegation)
        self.key_path = tmp / "key.json"
        self.key_path.write_text(json.dumps(self.key), encoding="utf-8")
        self.sleeps: list[float] = []

    def settings(self, **overrides: Any) -> GoogleSettings:
        values: dict[str, Any] = {
            "admin_email": ADMIN,
            "key_file": str(self.key_path),
            "api_root": self.server.url + "/",
            "token_uri": self.server.url + "/token",
        }
        values.update(overrides)
        return GoogleSettings(**values)

    def connector(self, now: datetime = FIRST, **overrides: Any) -> GoogleConnector:
        context = ConnectorContext(now=now, sleep=self.sleeps.append)
        return GoogleConnector(self.settings(**overrides), context)

    def collect(
        self, since: dict[str, str] | None = None, now: datetime = FIRST, **overrides: Any
    ) -> list[SourceRecord]:
        return list(self.connector(now, **overrides).collect(since or {}))


@pytest.fixture
def harness(fake: FakeGoogle, server: LoopbackServer, tmp_path: Path) -> Harness:
    return Harness(fake, server, tmp_path)


def of(records: list[SourceRecord], kind: type) -> list[Any]:
    return [r for r in records if isinstance(r, kind)]


def cursors(records: list[SourceRecord]) -> dict[str, str]:
    return {r.stream: r.cursor for r in of(records, Checkpoint) if r.cursor}


def complete(records: list[SourceRecord]) -> set[str]:
    return {r.stream for r in of(records, Checkpoint) if r.complete}


# -- parsing ----------------------------------------------------------------------------------


def test_parse_user_takes_primary_department_org_unit_and_state() -> None:
    admin, marketer, suspended = (_parse_user(u) for u in load("users.json"))
    assert admin == User(
        "google",
        "104000000000000000001",
        "ada.admin@example.com",
        "Ada Admin",
        department="IT",
        job_title="IT lead",
        groups=("/",),
        is_admin=True,
    )
    assert marketer.department == "Marketing"  # the primary organisation, not the first
    assert marketer.groups == ("/Marketing",)
    assert suspended.enabled is False and suspended.department is None


def test_parse_token_kinds_and_anonymous_clients() -> None:
    user = _parse_user(load("users.json")[1])
    web, native, anonymous = (_parse_token(t, user)[0] for t in load("tokens.json"))
    assert (web.kind, web.name) == ("oauth", "Meeting Notetaker")
    assert native.kind == "native"
    assert anonymous.name == "anonymous" and anonymous.tags == ("anonymous",)
    grant = _parse_token(load("tokens.json")[0], user)[1]
    assert grant.user_id == user.id and grant.user_email == "mia.marketer@example.com"
    assert grant.resource == "Google" and "openid" in grant.scopes


def test_parse_token_events_authorize_and_revoke() -> None:
    authorize, revoke, activity = (next(_parse_activity(a)) for a in load("activities-token.json"))
    app, grant = _token_event_records(authorize)
    assert isinstance(app, RawApp) and app.name == "Social Scheduler" and app.kind == "oauth"
    assert isinstance(grant, Grant)
    assert grant.scopes == ("https://www.googleapis.com/auth/drive", "openid")
    assert grant.granted_at == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert _token_event_records(revoke) == [
        Removed(
            "google",
            "grant",
            client_id="880011223344-notetaker.apps.googleusercontent.com",
            user_id="104000000000000000002",
            at=datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
        )
    ]
    assert activity.name == "activity" and activity.params["num_response_bytes"] == "670"


def test_parse_saml_and_login_events() -> None:
    success, failure = (next(_parse_activity(a)) for a in load("activities-saml.json"))
    signin = _signin("saml", success)
    assert signin is not None and signin.client_id == "Canva" and signin.success
    assert signin.event_id == "saml:9901@2026-11-24T08:05:00.000Z"
    failed = _signin("saml", failure)
    assert failed is not None and failed.success is False
    login, logout = (next(_parse_activity(a)) for a in load("activities-login.json"))
    assert _signin("login", logout) is None
    google_login = _signin("login", login)
    assert google_login is not None and google_login.client_id == "google-workspace"


# -- first scan: the full sweep ----------------------------------------------------------------


@pytest.mark.parametrize("fake", [BULK_USERS], indirect=True)
def test_first_scan_sweeps_every_users_tokens_in_batches(harness: Harness) -> None:
    records = harness.collect()
    fake = harness.fake

    users = of(records, User)
    assert len(users) == BULK_USERS + 3
    grants = of(records, Grant)
    assert len(grants) == len(bulk_tokens(fake.users))
    apps = {a.client_id: a for a in of(records, RawApp)}
    assert apps["77185425430.apps.googleusercontent.com"].kind == "native"
    assert apps["anonymous"].tags == ("anonymous",)
    assert {"users", "grants", "apps"} <= complete(records)
    assert cursors(records)["tokens_sweep"] == "2026-11-23T12:00:00.000Z"

    # Three users pages; tokens.list for every user, inside batches of at most 100 to
    # <root>batch (the first few smaller: the pacer's slow start, scanner.net.pacing).
    assert len([r for r in fake.log if r.path == "/admin/directory/v1/users"]) == 3
    assert 12 <= len(fake.requests_to("/batch", "POST")) <= 40  # 500/100 * 2 + 103/100 up
    token_calls = [r for r in fake.log if r.path.endswith("/tokens")]
    assert len(token_calls) == BULK_USERS + 3
    assert harness.sleeps == []
    # Read-only: besides the token and batch envelopes, every call (inner ones too) is a GET.
    assert {r.method for r in fake.log if r.path not in ("/token", "/batch")} == {"GET"}

    # One token request: a JWT for the admin with exactly our three scopes.
    (token_request,) = fake.requests_to("/token")
    claims = jwt.decode(token_request.form["assertion"], options={"verify_signature": False})
    assert claims["sub"] == ADMIN
    assert set(claims["scope"].split()) == set(SCOPES)


@pytest.mark.parametrize("fake", [BULK_USERS], indirect=True)
def test_every_page_is_checkpointed_before_the_complete_marks(harness: Harness) -> None:
    records = harness.collect()
    streams = [(r.stream, r.complete) for r in of(records, Checkpoint)]
    assert streams.count(("users", False)) == 3
    first_complete = streams.index(("users", True))
    assert streams[first_complete + 1 : first_complete + 3] == [
        ("grants", True),
        ("apps", True),
    ]


def test_sign_in_pages_say_their_events_can_arrive_late(harness: Harness) -> None:
    """The Reports API shows an event some time after it happened ("Data retention and lag
    times", https://support.google.com/a/answer/7061566); the connector re-reads
    ``overlap_minutes`` and its sign-in pages say so, so the store counts them by id."""
    records = harness.collect(overlap_minutes=90)
    pages = [r for r in of(records, Checkpoint) if r.cursor is None]
    late = {p.stream for p in pages if p.late_minutes}
    assert late == {"login_events", "saml_events"}
    assert all(p.late_minutes == 90 for p in pages if p.stream in late)


def test_tls_with_a_configured_ca_bundle(fake: FakeGoogle, tmp_path: Path) -> None:
    with LoopbackServer(fake, tls=True) as server:
        harness = Harness(fake, server, tmp_path)
        assert server.ca_path is not None
        assert server.url.startswith("https://")
        records = harness.collect(ca_bundle=server.ca_path)
    assert len(of(records, User)) == len(fake.users)
    assert {"users", "grants", "apps"} <= complete(records)


def test_key_from_environment_variable(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_SA_KEY", json.dumps(harness.key))
    records = harness.collect(key_file=None, key_env="GOOGLE_SA_KEY")
    assert len(of(records, User)) == len(harness.fake.users)


# -- throttling ------------------------------------------------------------------------------


def test_429_inside_a_batch_is_retried_after_retry_after(harness: Harness) -> None:
    fake = harness.fake
    fake.fail(
        "/admin/directory/v1/users/104000000000000000002/tokens",
        429,
        headers={"Retry-After": "7"},
    )
    records = harness.collect()
    assert harness.sleeps == [7.0]
    mia = [g for g in of(records, Grant) if g.user_id == "104000000000000000002"]
    assert len(mia) == 2
    assert len(fake.requests_to("/admin/directory/v1/users/104000000000000000002/tokens")) == 2
    assert {"grants", "apps"} <= complete(records)


def test_403_user_rate_limit_is_retried_not_skipped(harness: Harness) -> None:
    harness.fake.fail(
        "/admin/directory/v1/users", 403, body=load("error-403-user-rate.json"), method="GET"
    )
    records = harness.collect()
    assert not of(records, Skipped)
    assert len(harness.sleeps) == 1 and 1.0 <= harness.sleeps[0] <= 1.5  # backoff, no hint
    assert len(of(records, User)) == len(harness.fake.users)


def test_reports_503_quota_is_retried(harness: Harness) -> None:
    harness.fake.fail("/admin/reports/v1/activity/users/all/applications/saml", 503)
    records = harness.collect(now=SECOND)
    assert not of(records, Skipped)
    assert len([s for s in of(records, SignIn) if s.client_id == "Canva"]) == 2
    assert len(harness.sleeps) == 1


# -- failures -------------------------------------------------------------------------------


def test_unauthorized_client_names_client_id_and_scopes(
    fake: FakeGoogle, server: LoopbackServer, tmp_path: Path
) -> None:
    harness = Harness(fake, server, tmp_path, delegated_scopes=None)
    with pytest.raises(AuthError) as caught:
        harness.collect()
    message = str(caught.value)
    assert "unauthorized_client" in message and CLIENT_ID in message
    assert (
        "https://www.googleapis.com/auth/admin.directory.user.readonly,"
        "https://www.googleapis.com/auth/admin.reports.audit.readonly,"
        "https://www.googleapis.com/auth/admin.directory.user.security"
    ) in message
    assert caught.value.exit_code == 2
    assert [r.path for r in fake.log] == ["/token"]


def test_a_missing_scope_in_the_delegation_entry_is_unauthorized_client(
    fake: FakeGoogle, server: LoopbackServer, tmp_path: Path
) -> None:
    harness = Harness(fake, server, tmp_path, delegated_scopes=SCOPES[:2])
    with pytest.raises(AuthError, match="Manage Domain Wide Delegation"):
        harness.collect()


def test_unknown_admin_is_invalid_grant(harness: Harness) -> None:
    with pytest.raises(AuthError, match="sources.google.admin_email"):
        harness.collect(admin_email="nobody@example.com")


def test_missing_key_file_names_the_path(harness: Harness, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "key.json"
    with pytest.raises(ConfigError) as caught:
        harness.connector(key_file=str(missing))
    assert f"sources.google.key_file: cannot read {missing}" in str(caught.value)


def test_key_file_that_is_not_json_names_the_path(harness: Harness, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("-----BEGIN PRIVATE KEY-----\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"sources.google.key_file: {bad} does not hold JSON"):
        harness.connector(key_file=str(bad))


def test_key_that_is_not_a_service_account(harness: Harness, tmp_path: Path) -> None:
    oauth_client = tmp_path / "client_secret.json"
    oauth_client.write_text(json.dumps({"installed": {"client_id": "x"}}), encoding="utf-8")
    with pytest.raises(ConfigError, match="is not a service account key"):
        harness.connector(key_file=str(oauth_client))


def test_broken_private_key_is_a_config_error(harness: Harness, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**harness.key, "private_key": "not a key"}), encoding="utf-8")
    with pytest.raises(ConfigError, match="sources.google.key_file: the service account key"):
        harness.connector(key_file=str(broken))


def test_unset_key_variable_names_the_variable(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_GOOGLE_KEY", raising=False)
    with pytest.raises(
        ConfigError,
        match="sources.google.key_env: environment variable NO_SUCH_GOOGLE_KEY is not set",
    ):
        harness.connector(key_file=None, key_env="NO_SUCH_GOOGLE_KEY")


def test_no_key_setting_at_all(harness: Harness) -> None:
    with pytest.raises(ConfigError, match="set sources.google.key_file"):
        harness.connector(key_file=None)


def test_batch_size_over_the_documented_limit_is_refused(harness: Harness) -> None:
    with pytest.raises(ConfigError, match="sources.google.batch_size: 1001 is out of range"):
        harness.connector(batch_size=1001)


def test_user_deleted_mid_scan_is_a_warning_not_a_failure(harness: Harness) -> None:
    harness.fake.fail(f"/admin/directory/v1/users/{uid(7)}/tokens", 404)
    records = harness.collect()
    (warning,) = of(records, SourceWarning)
    assert warning.stream == "grants"
    assert "user00007@example.com" in warning.message and "deleted" in warning.message
    assert not of(records, Skipped)
    assert {"grants", "apps"} <= complete(records)


def test_forbidden_audit_log_skips_only_that_stream(harness: Harness) -> None:
    harness.fake.fail(
        "/admin/reports/v1/activity/users/all/applications/login",
        403,
        body=load("error-403-forbidden.json"),
    )
    records = harness.collect()
    (skipped,) = of(records, Skipped)
    assert skipped.stream == "login_events" and skipped.permission == SCOPE_REPORTS
    assert "Not Authorized to access this resource/api" in skipped.reason
    assert "login_events" not in cursors(records)
    assert "saml_events" in cursors(records)


def test_forbidden_tokens_skip_grants_keep_users(harness: Harness) -> None:
    harness.fake.fail("/batch", 403, body=load("error-403-forbidden.json"))
    records = harness.collect()
    (skipped,) = of(records, Skipped)
    assert skipped.stream == "grants" and skipped.permission == SCOPE_TOKENS
    assert "users" in complete(records) and "grants" not in complete(records)
    assert "tokens_sweep" not in cursors(records)


# -- the store: partial scans keep what they read and mark nothing gone ------------------------


def ingest(store: Store, records: list[SourceRecord]) -> tuple[int, IngestStats]:
    scan_id = store.begin_scan()
    store.begin_source(scan_id, "google")
    stats = store.ingest(scan_id, "google", records)
    store.end_source(scan_id, "google", stats.status(), stats)
    return scan_id, stats


def test_quota_beyond_the_retry_budget_is_partial_and_marks_nothing_gone(
    harness: Harness, tmp_path: Path
) -> None:
    store = Store.open(tmp_path / "inventory.db")
    first_scan, _ = ingest(store, harness.collect())
    # A forced full sweep where one batch stays throttled through every attempt.
    harness.fake.fail(
        f"/admin/directory/v1/users/{uid(20)}/tokens",
        403,
        times=100,
        body=load("error-403-user-rate.json"),
    )
    records = harness.collect(now=SECOND, batch_size=10)
    (skipped,) = of(records, Skipped)
    assert skipped.stream == "grants" and "gave up" in skipped.reason
    assert len(harness.sleeps) == 5  # six attempts
    assert "tokens_sweep" not in cursors(records)
    second_scan, stats = ingest(store, records)
    assert stats.status() == "partial"
    gone = store.db.execute("SELECT count(*) FROM grants WHERE gone_scan IS NOT NULL").fetchone()
    assert gone[0] == 0
    # What was read before the quota ran out was saved in this scan.
    refreshed = store.db.execute(
        "SELECT count(*) FROM grants WHERE last_scan = ?", [second_scan]
    ).fetchone()[0]
    assert refreshed > 0
    assert first_scan < second_scan


def test_deleted_user_counts_as_a_warning_in_the_source_status(
    harness: Harness, tmp_path: Path
) -> None:
    harness.fake.fail(f"/admin/directory/v1/users/{uid(7)}/tokens", 404)
    store = Store.open(tmp_path / "inventory.db")
    _, stats = ingest(store, harness.collect())
    assert stats.status() == "ok" and stats.warning_count == 1


# -- later scans: token events instead of the sweep --------------------------------------------


@pytest.mark.parametrize("fake", [BULK_USERS], indirect=True)
def test_second_scan_reads_token_events_after_the_watermark(harness: Harness) -> None:
    first = harness.collect()
    fake = harness.fake
    before = len(fake.log)
    records = harness.collect(since=cursors(first), now=SECOND)
    later = fake.log[before:]

    assert not [r for r in later if r.path == "/batch" or r.path.endswith("/tokens")]
    token_listings = [r for r in later if r.path.endswith("/applications/token")]
    assert [r.args["eventName"] for r in token_listings] == ["authorize", "revoke"]
    # From the watermark minus the 60-minute overlap, up to now.
    assert {r.args["startTime"] for r in token_listings} == {"2026-11-23T11:00:00.000Z"}
    assert {r.args["endTime"] for r in token_listings} == {"2026-11-24T12:00:00.000Z"}

    (grant,) = of(records, Grant)
    assert grant.client_id == "551122-socialscheduler.apps.googleusercontent.com"
    assert grant.user_id == "104000000000000000002"
    (removed,) = of(records, Removed)
    assert removed.client_id == "880011223344-notetaker.apps.googleusercontent.com"
    assert "grants" not in complete(records) and "apps" not in complete(records)
    assert cursors(records)["token_events"] == "2026-11-24T12:00:00.000Z"
    assert "tokens_sweep" not in cursors(records)
    assert len(of(records, User)) == len(fake.users)  # users are listed in full every scan
    signins = of(records, SignIn)
    assert {(s.client_id, s.success) for s in signins} == {
        ("Canva", True),
        ("Canva", False),
        ("google-workspace", True),
    }
    assert [a.kind for a in of(records, RawApp) if a.client_id == "Canva"] == ["saml"]


def token_event(n: int, name: str, minute: int, client: str, qualifier: str = "") -> dict:
    return {
        "kind": "admin#reports#activity",
        "id": {
            "time": (SECOND - timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "uniqueQualifier": qualifier or f"9{n:06d}",
            "applicationName": "token",
        },
        "actor": {"email": f"user{n:05d}@example.com", "profileId": f"2000{n:05d}"},
        "events": [
            {
                "type": "auth",
                "name": name,
                "parameters": [
                    {"name": "client_id", "value": client},
                    {"name": "app_name", "value": f"App {client}"},
                    {"name": "client_type", "value": "NATIVE_DESKTOP"},
                    {"name": "scope", "multiValue": ["openid"]},
                ],
            }
        ],
    }


def test_token_events_across_pages_deduplicated_newest_wins(
    harness: Harness, tmp_path: Path
) -> None:
    store = Store.open(tmp_path / "inventory.db")
    first = harness.collect()
    ingest(store, first)
    harness.fake.log.clear()  # the first scan read the token log of its look-back window too
    events = [token_event(n, "authorize", 100 + n % 600, f"c{n % 7}") for n in range(1500)]
    events.append(json.loads(json.dumps(events[5])))  # the same event served twice
    # User 1 revoked after authorizing (gone); user 2's revoke predates its authorize (kept).
    events.append(token_event(1, "revoke", 10, "c1"))
    events.append(token_event(2, "revoke", 2000, "c2"))
    harness.fake.activities["token"] = events
    records = harness.collect(since=cursors(first), now=SECOND, overlap_minutes=24 * 60)

    listings = harness.fake.requests_to("/admin/reports/v1/activity/users/all/applications/token")
    pages = [r.args.get("pageToken") for r in listings if r.args["eventName"] == "authorize"]
    assert len(pages) == 2 and pages[0] is None  # 1,501 events, 1,000 a page
    assert len(of(records, Grant)) == 1500  # the repeated event counted once
    assert [(r.user_id, r.client_id) for r in of(records, Removed)] == [(uid(1), "c1")]
    assert {a.kind for a in of(records, RawApp) if a.client_id.startswith("c")} == {"native"}

    ingest(store, records)
    state = {
        (r["user_key"], r["client_id"]): r["gone_scan"]
        for r in store.db.query("SELECT user_key, client_id, gone_scan FROM grants")
    }
    assert state[(uid(1), "c1")] is not None
    assert state[(uid(2), "c2")] is None
    assert state[(uid(3), "c3")] is None


def test_full_sweep_again_after_full_sweep_days(harness: Harness) -> None:
    since = cursors(harness.collect())
    harness.fake.log.clear()
    records = harness.collect(since=since, now=FIRST + timedelta(days=7))
    assert harness.fake.requests_to("/batch")
    assert not harness.fake.requests_to("/admin/reports/v1/activity/users/all/applications/token")
    assert {"grants", "apps"} <= complete(records)


def test_context_full_forces_a_sweep(harness: Harness) -> None:
    since = cursors(harness.collect())
    harness.fake.log.clear()
    connector = GoogleConnector(
        harness.settings(), ConnectorContext(now=SECOND, full=True, sleep=harness.sleeps.append)
    )
    list(connector.collect(since))
    assert harness.fake.requests_to("/batch")


# -- doctor -----------------------------------------------------------------------------------


def test_check_probes_token_and_each_scope(harness: Harness) -> None:
    probes = list(harness.connector().check())
    assert [p.ok for p in probes] == [True, True, True, True]
    harness.fake.fail("/admin/directory/v1/users/ada.admin@example.com/tokens", 403)
    probes = list(harness.connector().check())
    failed = [p for p in probes if not p.ok]
    assert len(failed) == 1 and "admin.directory.user.security" in failed[0].check
    assert failed[0].fix and CLIENT_ID in failed[0].fix


def test_check_reports_unauthorized_client(
    fake: FakeGoogle, server: LoopbackServer, tmp_path: Path
) -> None:
    harness = Harness(fake, server, tmp_path, delegated_scopes=None)
    (probe,) = list(harness.connector().check())
    assert not probe.ok and "unauthorized_client" in probe.detail


def test_fake_error_bodies_are_google_shaped() -> None:
    body = FakeGoogle().error_body(429)
    assert body == google_error(429, "rateLimitExceeded", "injected fault (rateLimitExceeded)")
