"""The Entra connector end to end: real msal and real HTTPS to FakeGraph on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from connectors import entra
from connectors.base import ConnectorContext
from connectors.testing.graph import FakeGraph
from connectors.testing.server import LoopbackServer
from scanner.core.errors import AuthError, ConfigError, RetryableError
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
from scanner.core.settings import build

PAYLOADS = Path(__file__).parent / "payloads" / "entra"
CLIENT_ID = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
SECRET = "correct-horse-battery-staple~42"
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
ACME_SP = "a1000000-0000-4000-8000-000000000003"
ACME_APP = "e0e0c000-1111-4222-8333-444455556666"
SIGNINS = "/v1.0/auditLogs/signIns"


@pytest.fixture
def fake() -> FakeGraph:
    graph = FakeGraph.from_dir(PAYLOADS, page_size=2)
    graph.add_client(CLIENT_ID, secret=SECRET)
    return graph


def entra_config_text(server: LoopbackServer, fake: FakeGraph, policy: str = "") -> str:
    """A config scanning ``fake`` through ``server`` (secret in ENTRA_TEST_SECRET), with an
    optional ``[policy]`` body."""
    policy_table = f"[policy]\n{policy}\n" if policy else ""
    return f"""
[organisation]
name = "Contoso"
[store]
path = "shadowit.db"
{policy_table}[sources.entra]
tenant_id = "{fake.tenant}"
client_id = "{CLIENT_ID}"
client_secret_env = "ENTRA_TEST_SECRET"
authority_host = "{server.url}"
graph_url = "{server.url}"
reports_calls = 100
"""


class Switch:
    """One TLS server for the module (a CA per test is slow); each test plugs in its fake."""

    target: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.target(environ, start_response)


@pytest.fixture(scope="module")
def tls_server() -> Iterator[tuple[LoopbackServer, Switch]]:
    switch = Switch()
    with LoopbackServer(switch, tls=True) as srv:
        yield srv, switch


@pytest.fixture
def server(tls_server: tuple[LoopbackServer, Switch], fake: FakeGraph) -> LoopbackServer:
    srv, switch = tls_server
    switch.target = fake
    return srv


@pytest.fixture
def session(server: LoopbackServer) -> Iterator[requests.Session]:
    s = requests.Session()
    s.trust_env = False
    s.verify = server.ca_path
    yield s
    s.close()


class Harness:
    """Builds the connector through SPEC like the pipeline does, recording sleeps."""

    def __init__(
        self, server: LoopbackServer, session: requests.Session, fake: FakeGraph, monkeypatch: Any
    ) -> None:
        self.server, self.session, self.fake = server, session, fake
        self.sleeps: list[float] = []
        monkeypatch.setenv("ENTRA_TEST_SECRET", SECRET)

    def connector(
        self,
        full: bool = False,
        real_sleep: bool = False,
        now: dt.datetime = NOW,
        **overrides: Any,
    ) -> entra.EntraConnector:
        table: dict[str, Any] = {
            "tenant_id": self.fake.tenant,
            "client_id": CLIENT_ID,
            "client_secret_env": "ENTRA_TEST_SECRET",
            "authority_host": self.server.url,
            "graph_url": self.server.url,
            "reports_calls": 100,
            **overrides,
        }
        table = {k: v for k, v in table.items() if v is not None}  # TOML has no null
        settings = build(entra.EntraSettings, table, "sources.entra", None)
        sleep = None if real_sleep else self.sleeps.append
        ctx = ConnectorContext(session=self.session, sleep=sleep, now=now, full=full)
        return entra.SPEC.factory(settings, ctx)  # type: ignore[return-value]

    def collect(self, since: dict[str, str] | None = None, **overrides: Any) -> list[SourceRecord]:
        """Run one scan; ``since`` holds last scan's cursors."""
        return list(self.connector(**overrides).collect(since or {}))


@pytest.fixture
def harness(
    server: LoopbackServer, session: requests.Session, fake: FakeGraph, monkeypatch: Any
) -> Harness:
    return Harness(server, session, fake, monkeypatch)


def of(records: list[SourceRecord], kind: type) -> list[Any]:
    return [r for r in records if isinstance(r, kind)]


def completed(records: list[SourceRecord]) -> set[str]:
    return {r.stream for r in of(records, Checkpoint) if r.complete}


def cursors(records: list[SourceRecord]) -> dict[str, str]:
    return {r.stream: r.cursor for r in of(records, Checkpoint) if r.cursor}


def test_first_scan_collects_users_apps_grants_and_signins(harness: Harness) -> None:
    records = harness.collect()
    fake = harness.fake

    users = {u.email: u for u in of(records, User)}
    assert len(users) == 6
    assert users["alice@contoso.example"].department == "Marketing"
    assert users["eve@agency.example"].is_guest
    assert not users["dave@contoso.example"].enabled

    apps = {a.client_id: a for a in of(records, RawApp)}
    assert len(apps) == 7
    canva = apps["c0c0a000-1111-4222-8333-444455556666"]
    assert canva.publisher_verified and canva.publisher == "Canva Pty Ltd"
    assert canva.object_id == "a1000000-0000-4000-8000-000000000001"
    # First consent time from the directory audit (Alice, before Bob).
    assert canva.created == dt.datetime(2026, 2, 10, 8, 59, tzinfo=dt.UTC)
    assert apps["d0d0b000-1111-4222-8333-444455556666"].kind == "saml"
    assert not apps[ACME_APP].publisher_verified

    grants = of(records, Grant)
    delegated = [g for g in grants if g.consent_type != "application"]
    assert len(delegated) == 5
    admin = next(g for g in delegated if g.consent_type == "admin")
    assert admin.user_id is None and admin.scopes == ("User.Read", "Mail.Read", "Contacts.Read")
    alice = next(g for g in delegated if g.user_email == "alice@contoso.example")
    assert alice.client_id == canva.client_id and alice.resource == "Microsoft Graph"
    assert "offline_access" in alice.scopes
    app_only = {g.client_id: g for g in grants if g.consent_type == "application"}
    # Mail.Read from Graph's appRoles, Sites.Read.All from the shipped GraphAppRoles.csv.
    assert app_only[ACME_APP].scopes == ("Mail.Read", "Sites.Read.All")
    assert app_only[ACME_APP].user_id is None
    assert app_only["f0f0d000-1111-4222-8333-444455556666"].scopes == ("User.Read.All",)
    assert len(app_only) == 2  # HubSpot's default-access assignment is not a permission

    signins = of(records, SignIn)
    events = [s for s in signins if not s.event_id.startswith("spsa:")]
    assert len(events) == 6  # interactive, inside the 30-day look-back
    assert all(s.interactive for s in events)
    assert not next(s for s in events if s.client_id == ACME_APP).success
    activity = [s for s in signins if s.event_id.startswith("spsa:")]
    assert {s.event_id for s in activity} == {
        f"spsa:{ACME_APP}:2026-02-27T14:00:00Z",  # "-8:00" read leniently
        "spsa:f0f0d000-1111-4222-8333-444455556666:2026-01-15T00:00:00Z",
    }

    assert completed(records) == {"users", "apps", "grants"}
    marks = cursors(records)
    assert marks["signins"] == "2026-02-28T16:05:11Z"
    assert marks["consents"] == "2026-02-12T10:00:00Z"
    assert "$deltatoken=" in unquote(marks["apps_delta"])
    assert not of(records, Skipped) and not of(records, SourceWarning)

    # Several pages per collection, largest page sizes asked for, fields trimmed.
    for path in ("/v1.0/users", "/v1.0/servicePrincipals/delta", "/v1.0/oauth2PermissionGrants"):
        assert len(fake.requests_to(path)) >= 3, path
    assert len(fake.requests_to(SIGNINS)) == 3
    user_pages = [r for r in fake.log if r.path == "/v1.0/users"]
    first_users = user_pages[0].args
    assert first_users["$top"] == "999" and "department" in first_users["$select"]
    # Largest page of delegated grants and of the activity report, not Graph's default 100.
    assert {r.args["$top"] for r in fake.requests_to("/v1.0/oauth2PermissionGrants")} == {"999"}
    assert fake.requests_to("/beta/reports")[0].args["$top"] == "999"
    # A users delta link "from now on", without paging every user through delta.
    (latest,) = fake.requests_to("/v1.0/users/delta")
    assert latest.args["$deltatoken"] == "latest" and "department" in latest.args["$select"]
    assert "$deltatoken=" in unquote(marks["users_delta"])
    assert marks["grants_audit"] == marks["sweep"] == "2026-03-01T12:00:00Z"
    first_signins = fake.requests_to(SIGNINS)[0].args
    assert first_signins["$filter"] == "createdDateTime ge 2026-01-30T12:00:00Z"
    assert first_signins["$top"] == "1000"
    # A Checkpoint follows every page of users.
    user_marks = [r for r in records if isinstance(r, Checkpoint) and r.stream == "users"]
    assert len(user_marks) == len(user_pages) + 1
    # One token for the whole scan (msal's cache), one OIDC discovery.
    assert len(fake.requests_to(f"/{fake.tenant}/oauth2/v2.0/token")) == 1


def test_app_permissions_are_read_for_third_party_apps_only(harness: Harness) -> None:
    harness.collect(concurrency=3)
    asked = {
        r.path.split("/")[3] for r in harness.fake.log if r.path.endswith("/appRoleAssignments")
    }
    # Not Microsoft's own (Graph, Teams) nor the managed identity.
    assert asked == {f"a1000000-0000-4000-8000-00000000000{i}" for i in (1, 2, 3, 4)}
    # The resource's appRoles were read once even with parallel workers.
    assert len(harness.fake.requests_to("/v1.0/servicePrincipals/7d1e2c3b")) == 1


def test_429_with_fractional_retry_after_mid_signin_paging(harness: Harness) -> None:
    harness.fake.fail_later_page(SIGNINS, 429, headers={"Retry-After": "2.128"})
    connector = harness.connector()
    records = list(connector.collect({}))
    assert len([s for s in of(records, SignIn) if not s.event_id.startswith("spsa:")]) == 6
    statuses = [r.status for r in harness.fake.requests_to(SIGNINS)]
    assert statuses == [200, 429, 200, 200]
    assert connector.client.retries == 1
    assert 2.128 in harness.sleeps


def test_transient_503_is_retried(harness: Harness) -> None:
    harness.fake.fail("/v1.0/users", 503)
    connector = harness.connector()
    records = list(connector.collect({}))
    assert len(of(records, User)) == 6
    assert "users" in completed(records)
    assert [r.status for r in harness.fake.requests_to("/v1.0/users")][:2] == [503, 200]
    assert connector.client.retries == 1


def test_throttling_storm_ends_in_a_source_error_keeping_what_was_read(harness: Harness) -> None:
    harness.fake.fail("/v1.0/oauth2PermissionGrants", 503, times=50, headers={"Retry-After": "1"})
    seen: list[SourceRecord] = []
    with pytest.raises(RetryableError) as caught:
        for record in harness.connector().collect({}):
            seen.append(record)
    assert "Entra: gave up after 6 attempts: HTTP 503" in str(caught.value)
    assert "/v1.0/oauth2PermissionGrants" in str(caught.value)
    assert len(of(seen, User)) == 6 and len(of(seen, RawApp)) == 7
    # Users and apps were complete; grants never declared complete, so nothing looks gone.
    assert completed(seen) == {"users", "apps"}
    assert len(harness.fake.requests_to("/v1.0/oauth2PermissionGrants")) == 6


def test_403_on_the_audit_log_skips_audit_streams_only(harness: Harness) -> None:
    harness.fake.denied = {"AuditLog.Read.All"}
    records = harness.collect()
    skipped = {s.stream: s for s in of(records, Skipped)}
    assert set(skipped) == {"consents", "signins", "signin_activity"}
    reason = skipped["signins"].reason
    assert skipped["signins"].permission == "AuditLog.Read.All"
    assert "lacks the Microsoft Graph application permission AuditLog.Read.All" in reason
    assert "403 Authorization_RequestDenied" in reason
    assert "Grant admin consent" in reason
    assert completed(records) == {"users", "apps", "grants"}
    assert len(of(records, Grant)) == 7
    assert "signins" not in cursors(records)


def test_missing_directory_permission_skips_grants(harness: Harness) -> None:
    harness.fake.denied = {"Directory.Read.All"}
    records = harness.collect()
    (skipped,) = of(records, Skipped)
    assert skipped.stream == "grants" and skipped.permission == "Directory.Read.All"
    assert "application permission Directory.Read.All" in skipped.reason
    assert "grants" not in completed(records)
    assert len(of(records, SignIn)) > 0 and len(of(records, RawApp)) == 7


def test_tenant_without_premium_licence_skips_signins_and_keeps_grants(harness: Harness) -> None:
    harness.fake.premium = False
    records = harness.collect()
    skipped = {s.stream: s.reason for s in of(records, Skipped)}
    assert skipped["signins"].startswith(
        "no Microsoft Entra ID P1 or P2 licence: sign-ins not available"
    )
    assert "signin_activity" in skipped
    assert not of(records, SignIn)
    assert "grants" in completed(records) and len(of(records, Grant)) == 7


def test_rejected_client_secret_is_an_auth_error(harness: Harness, monkeypatch: Any) -> None:
    monkeypatch.setenv("ENTRA_TEST_SECRET", "an-old-secret-value")
    with pytest.raises(AuthError) as caught:
        harness.collect()
    message = str(caught.value)
    assert message.startswith(
        f"Entra: the client secret for app {CLIENT_ID} in tenant {harness.fake.tenant} "
        "was rejected (AADSTS7000215: Invalid client secret provided."
    )
    assert "sources.entra.client_secret_env/_file" in message
    assert "an-old-secret-value" not in message
    assert caught.value.exit_code == 2
    assert not harness.fake.requests_to("/v1.0/")


def test_unknown_tenant_is_an_auth_error(harness: Harness) -> None:
    with pytest.raises(AuthError, match="tenant contoso.invalid is unknown"):
        harness.collect(tenant_id="contoso.invalid")


def test_expired_token_mid_scan_is_an_auth_error(harness: Harness) -> None:
    harness.fake.fail_later_page(
        "/v1.0/users",
        401,
    )
    harness.fake.error_body = lambda status: {  # type: ignore[method-assign]
        "error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired."}
    }
    with pytest.raises(AuthError, match="Graph rejected the access token .*InvalidAuth"):
        harness.collect()


def _certificate(tmp_path: Path) -> tuple[Path, str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shadowit-test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    thumbprint = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest()  # noqa: S324
    key_file = tmp_path / "entra.key"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key_file, thumbprint, public.decode()


def test_certificate_credentials(harness: Harness, tmp_path: Path) -> None:
    key_file, thumbprint, public = _certificate(tmp_path)
    harness.fake.add_client(CLIENT_ID, thumbprint=thumbprint, public_key_pem=public)
    cert: dict[str, Any] = {
        "client_secret_env": None,
        "certificate_thumbprint": thumbprint.upper(),
        "private_key_file": str(key_file),
    }
    records = harness.collect(**cert)
    assert len(of(records, User)) == 6
    form = harness.fake.requests_to(f"/{harness.fake.tenant}/oauth2/v2.0/token")[0].form
    assert "client_secret" not in form and form["client_assertion"]

    harness.fake.add_client(CLIENT_ID, thumbprint="00" * 20, public_key_pem=public)
    with pytest.raises(AuthError) as caught:
        harness.collect(**cert)
    assert f"the certificate {thumbprint.upper()} for app {CLIENT_ID}" in str(caught.value)
    assert "AADSTS700027" in str(caught.value)


def test_second_scan_uses_watermark_and_delta(harness: Harness) -> None:
    first = harness.collect()
    since = cursors(first)
    fake = harness.fake
    fake.delete_service_principal(ACME_SP)
    newcomer = {
        **next(sp for sp in fake.service_principals if sp["id"].endswith("0001")),
        "id": "a1000000-0000-4000-8000-000000000099",
        "appId": "99999999-1111-4222-8333-444455556666",
        "displayName": "Newsletter Wizard",
    }
    fake.upsert_service_principal(newcomer)
    fake.log.clear()

    second = harness.collect(since)

    signin_args = fake.requests_to(SIGNINS)[0].args
    assert signin_args["$filter"] == "createdDateTime ge 2026-02-28T16:05:11Z"
    audit_filter = fake.requests_to("/v1.0/auditLogs/directoryAudits")[0].args["$filter"]
    assert audit_filter.endswith("activityDateTime ge 2026-02-12T10:00:00Z")
    assert [s.event_id for s in of(second, SignIn) if not s.event_id.startswith("spsa")] == [
        "c3000000-0000-4000-8000-000000000001"  # the boundary event again; the store dedups
    ]
    # Apps from the delta link: the newcomer and the removal, nothing else.
    assert [a.name for a in of(second, RawApp)] == ["Newsletter Wizard"]
    # The removed app's grants go with it; the new app's grants are read again (it has none).
    assert of(second, Removed) == [
        Removed("entra", "app", client_id=ACME_APP),
        Removed("entra", "grant", client_id=newcomer["appId"]),
    ]
    assert not of(second, Grant)
    delta = fake.requests_to("/v1.0/servicePrincipals/delta")
    assert "$deltatoken" in delta[0].args
    # Incremental: nothing is marked complete, no full listing of apps, users or grants.
    assert not completed(second)
    assert not [r for r in fake.log if r.path in ("/v1.0/servicePrincipals", "/v1.0/users")]
    assert cursors(second)["apps_delta"] != since["apps_delta"]

    # --full ignores the cursors.
    fake.log.clear()
    full = list(harness.connector(full=True).collect(since))
    assert "apps" in completed(full)
    assert fake.requests_to(SIGNINS)[0].args["$filter"].endswith("2026-01-30T12:00:00Z")


def test_expired_delta_link_starts_a_full_round(harness: Harness) -> None:
    since = cursors(harness.collect())
    harness.fake.delta_expired = True
    records = harness.collect(since)
    warnings = {w.stream: w.message for w in of(records, SourceWarning)}
    assert set(warnings) == {"users", "apps"}
    assert "users delta link has expired (syncStateNotFound)" in warnings["users"]
    assert "delta link has expired (syncStateNotFound)" in warnings["apps"]
    assert {"users", "apps"} <= completed(records) and len(of(records, RawApp)) == 7
    assert len(of(records, User)) == 6


def test_non_interactive_signins_come_from_beta(harness: Harness) -> None:
    records = harness.collect(non_interactive_signins=True, sign_in_activity=False)
    beta = harness.fake.requests_to("/beta/auditLogs/signIns")
    assert beta[0].args["$filter"] == (
        "createdDateTime ge 2026-01-30T12:00:00Z and "
        "signInEventTypes/any(t: t eq 'nonInteractiveUser')"
    )
    quiet = [s for s in of(records, SignIn) if not s.interactive]
    assert {s.event_id[-1] for s in quiet} == {"8", "9"}
    assert not harness.fake.requests_to("/beta/reports")


def test_reports_are_paced(harness: Harness) -> None:
    harness.collect(reports_calls=2, reports_period=10.0)
    # 2 audit + 3 sign-in + 2 activity pages = 7 report requests at 2 per 10 s.
    waits = [s for s in harness.sleeps if s > 1]
    assert len(waits) >= 3
    assert sum(waits) == pytest.approx(30, abs=1)


def test_doctor_probes_name_missing_permissions(harness: Harness) -> None:
    harness.fake.denied = {"AuditLog.Read.All"}
    probes = list(harness.connector().check())
    assert [p.check for p in probes][:2] == ["token", "User.Read.All"]
    by_check = {p.check: p for p in probes}
    assert by_check["token"].ok and by_check["Directory.Read.All"].ok
    failed = by_check["AuditLog.Read.All"]
    assert not failed.ok and failed.fix and "AuditLog.Read.All" in failed.fix
    assert all(r.args.get("$top") == "1" for r in harness.fake.requests_to("/v1.0/"))


def test_doctor_reports_a_rejected_secret(harness: Harness, monkeypatch: Any) -> None:
    monkeypatch.setenv("ENTRA_TEST_SECRET", "wrong")
    (probe,) = list(harness.connector().check())
    assert probe.check == "token" and not probe.ok and "AADSTS7000215" in probe.detail


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({}, "sources.entra.client_secret: set sources.entra.client_secret_env"),
        (
            {"client_secret_env": "ENTRA_UNSET_FOR_TEST"},
            "sources.entra.client_secret_env: environment variable ENTRA_UNSET_FOR_TEST is not set",
        ),
        (
            {"client_secret_env": "X", "private_key_file": "k.pem"},
            "sources.entra: set either client_secret_env/_file or certificate_thumbprint",
        ),
        (
            {"private_key_file": "k.pem"},
            "sources.entra.certificate_thumbprint: required with a private key",
        ),
        (
            {"client_secret_env": "X", "authority_host": "http://login.example"},
            "sources.entra.authority_host: must start with https://",
        ),
    ],
)
def test_settings_errors_name_the_key(
    table: dict[str, Any], message: str, monkeypatch: Any
) -> None:
    monkeypatch.delenv("ENTRA_UNSET_FOR_TEST", raising=False)
    monkeypatch.setenv("X", "value")
    settings = build(
        entra.EntraSettings,
        {"tenant_id": "t", "client_id": "c", **table},
        "sources.entra",
        None,
    )
    with pytest.raises(ConfigError) as caught:
        entra.SPEC.factory(settings, ConnectorContext(session=requests.Session()))
    assert str(caught.value).startswith(message)


def test_settings_require_tenant_and_client() -> None:
    with pytest.raises(ConfigError, match="sources.entra.tenant_id: required setting is missing"):
        build(entra.EntraSettings, {"client_id": "c"}, "sources.entra", None)


def test_records_land_in_the_store_and_feed_the_next_scan(harness: Harness, tmp_path: Path) -> None:
    from scanner.store.database import Store

    store = Store.open(tmp_path / "inventory.db")
    try:
        for _ in range(2):
            scan = store.begin_scan()
            store.begin_source(scan, "entra")
            stats = store.ingest(scan, "entra", harness.connector().collect(store.cursors("entra")))
            store.end_source(scan, "entra", "ok", stats)
            store.finish_scan(scan)
        db = store.db
        grants = {
            (r["consent_type"]) for r in db.query("SELECT * FROM grants WHERE gone_scan IS NULL")
        }
        assert grants == {"user", "admin", "application"}
        assert (
            db.execute("SELECT count(*) FROM raw_apps WHERE gone_scan IS NULL").fetchone()[0] == 7
        )
        assert (
            db.execute("SELECT count(*) FROM users WHERE department='Marketing'").fetchone()[0] == 2
        )
        assert set(store.cursors("entra")) >= {"signins", "consents", "apps_delta"}
    finally:
        store.close()
    # The second scan continued from the watermark and the delta link.
    assert harness.fake.requests_to(SIGNINS)[-1].args["$filter"].endswith("2026-02-28T16:05:11Z")
    assert "$deltatoken" in harness.fake.requests_to("/v1.0/servicePrincipals/delta")[-1].args


def test_ca_bundle_setting_builds_its_own_session(harness: Harness) -> None:
    settings = build(
        entra.EntraSettings,
        {
            "tenant_id": harness.fake.tenant,
            "client_id": CLIENT_ID,
            "client_secret_env": "ENTRA_TEST_SECRET",
            "authority_host": harness.server.url,
            "graph_url": harness.server.url,
            "ca_bundle": harness.server.ca_path,
            "sign_in_activity": False,
        },
        "sources.entra",
        None,
    )
    connector = entra.SPEC.factory(settings, ConnectorContext(sleep=harness.sleeps.append, now=NOW))
    records = list(connector.collect({}))
    assert completed(records) == {"users", "apps", "grants"}
