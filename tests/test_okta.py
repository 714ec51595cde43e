"""The Okta connector against FakeOkta on 127.0.0.1: paging, pacing, 429, 401, 403, OAuth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.base import ConnectorContext
from connectors.okta import (
    LOG_FILTER,
    OktaConnector,
    OktaSettings,
    parallel,
    parse_app,
    parse_app_user,
    parse_consent_event,
    parse_sso_event,
    parse_user,
)
from connectors.testing.okta import FakeOkta
from connectors.testing.server import LoopbackServer
from scanner.core.errors import AuthError, ConfigError, ResponseShapeError, RetryableError
from scanner.core.models import Checkpoint, Grant, RawApp, SignIn, Skipped, SourceWarning, User

PAYLOADS = Path(__file__).parent / "payloads" / "okta"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TOKEN = "00aBcD-test-token"


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


class Sleeps(list[float]):
    """A fake sleep that records every wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake() -> FakeOkta:
    return FakeOkta.from_dir(PAYLOADS, api_tokens={TOKEN: None}, now=lambda: NOW)


@pytest.fixture
def server(fake: FakeOkta) -> Iterator[LoopbackServer]:
    with LoopbackServer(fake) as srv:
        yield srv


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture(autouse=True)
def token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKTA_TOKEN", TOKEN)


def connector(
    server: LoopbackServer, sleeps: Sleeps, clock: Any = None, **settings: Any
) -> OktaConnector:
    values: dict[str, Any] = {"org_url": server.url, "token_env": "OKTA_TOKEN", **settings}
    context = ConnectorContext(now=NOW, sleep=sleeps)
    if clock is not None:
        return OktaConnector(OktaSettings(**values), context, clock=clock)
    return OktaConnector(OktaSettings(**values), context)


def of(records: list[Any], kind: type) -> list[Any]:
    return [r for r in records if isinstance(r, kind)]


# -- parsers on payload files -------------------------------------------------------------


def test_parse_app_maps_sign_on_mode_and_domains() -> None:
    apps = {a["id"]: parse_app(a) for a in load("apps.json")}
    salesforce = apps["0oa1sfdcA8bXkQ2Lp5d7"]
    assert (salesforce.name, salesforce.kind) == ("Salesforce.com", "saml")
    assert salesforce.domains == ("acme.my.salesforce.com",)
    assert salesforce.created == datetime(2024, 3, 4, 9, 12, 44, tzinfo=UTC)
    assert salesforce.tags == ("okta:salesforce",)
    canva = apps["0oa3canvaZp8Kd2Xw3d7"]
    assert canva.kind == "oauth"
    assert canva.domains == ("www.canva.com",)
    assert canva.reply_urls == ("https://www.canva.com/oauth/authorized/okta",)
    assert apps["0oa4hubspHn3Qm7Vt2d7"].kind == "sso"
    assert apps["0oa4hubspHn3Qm7Vt2d7"].domains == ("app.hubspot.com",)
    assert apps["0oa5wikiBk6Fn1Rz8d7"].enabled is False
    assert apps["0oa2slackT4vRw9Lq1d7"].domains == ()


def test_parse_app_never_takes_okta_hosts_as_app_domains() -> None:
    raw = {"id": "0oaX", "label": "X", "settings": {"app": {"url": "https://acme.okta.com/x"}}}
    assert parse_app(raw).domains == ()


def test_parse_documented_app_and_app_user_examples() -> None:
    reference = Path("/work/shared/reference/payloads")
    if not reference.exists():
        pytest.skip("reference payloads not present")
    apps = [parse_app(a) for a in json.loads((reference / "okta-apps.json").read_text())]
    assert [a.kind for a in apps] == ["saml", "saml", "sso"]
    assert apps[0].domains == ("acme.workday.com",)
    users = json.loads((reference / "okta-app-users.json").read_text())
    grant = parse_app_user("0oajiqIRNXPPJBNZMGYL", users[0])
    assert grant.user_email == "saml.test@example.com"
    event = json.loads((reference / "okta-logs-sso.json").read_text())[0]
    signin = parse_sso_event(event)
    assert signin is not None
    assert (signin.client_id, signin.app_name) == ("0oa3omz2i9XRNSRIHBZO", "Salesforce.com")


def test_parse_user_keeps_department_title_and_status() -> None:
    users = {u["id"]: parse_user(u) for u in load("users.json")}
    alice = users["00u1aliceQ3mR7sT2d7"]
    assert (alice.department, alice.job_title, alice.enabled) == (
        "Marketing",
        "Marketing Manager",
        True,
    )
    assert alice.display_name is None or alice.display_name == "Alice Moreau"
    assert users["00u3carolZ5tY9uQ1d7"].enabled is False


def test_parse_consent_event_collects_scopes_client_and_user() -> None:
    events = [e for e in load("logs.json") if e["eventType"] == "app.oauth2.as.consent.grant"]
    grant = parse_consent_event(events[0])
    assert grant == Grant(
        source="okta",
        client_id="0oa3canvaZp8Kd2Xw3d7",
        user_id="00u1aliceQ3mR7sT2d7",
        scopes=("openid", "designs:read"),
        consent_type="user",
        resource="Okta",
        granted_at=datetime(2026, 11, 12, 10, 30, 5, 811000, tzinfo=UTC),
        user_email="alice.moreau@acme.example",
    )
    assert parse_consent_event(events[1]) is None  # outcome FAILURE


def test_missing_required_field_fails_loudly(fake: FakeOkta, server: LoopbackServer) -> None:
    fake.apps.append({"label": "no id"})
    with pytest.raises(ResponseShapeError, match="/api/v1/apps item lacks a field"):
        list(connector(server, Sleeps()).collect({}))


# -- a full scan ----------------------------------------------------------------------------


def test_full_scan_over_several_pages(
    fake: FakeOkta, server: LoopbackServer, sleeps: Sleeps
) -> None:
    fake.max_page = 2
    records = list(connector(server, sleeps).collect({}))

    users = of(records, User)
    assert len(users) == 4  # the deprovisioned user is not listed
    apps = of(records, RawApp)
    assert [a.client_id for a in apps] == [a["id"] for a in load("apps.json")]
    sso_grants = [g for g in of(records, Grant) if g.scopes == ()]
    assert len(sso_grants) == 9
    assert {g.user_email for g in sso_grants if g.client_id == "0oa1sfdcA8bXkQ2Lp5d7"} == {
        "alice.moreau@acme.example",
        "bob.nakamura@acme.example",
        "dan.okafor@acme.example",
    }
    signins = of(records, SignIn)
    assert [s.client_id for s in signins] == [
        "0oa1sfdcA8bXkQ2Lp5d7",
        "0oa2slackT4vRw9Lq1d7",
        "0oa3canvaZp8Kd2Xw3d7",
        "0oa4hubspHn3Qm7Vt2d7",
        "0oa1sfdcA8bXkQ2Lp5d7",
    ]
    assert signins[0].user_email == "alice.moreau@acme.example"
    consents = [g for g in of(records, Grant) if g.scopes]
    assert [(g.consent_type, g.scopes) for g in consents] == [
        ("user", ("openid", "designs:read")),
        ("admin", ("okta.users.read",)),
    ]
    warnings = of(records, SourceWarning)
    assert [w.message for w in warnings] == [
        "2 System Log events named no app or failed; they were not counted"
    ]

    # Several Link-header pages were followed for apps, users and logs.
    assert len(fake.requests_to("/api/v1/apps", "GET")) > 3
    log_calls = fake.requests_to("/api/v1/logs")
    assert len(log_calls) == 5
    assert log_calls[0].args["filter"] == LOG_FILTER
    assert log_calls[0].args["since"] == "2026-10-21T12:00:00.000Z"
    assert "after" in log_calls[1].args and "since" not in log_calls[1].args

    checkpoints = of(records, Checkpoint)
    complete = {c.stream for c in checkpoints if c.complete}
    assert complete == {"users", "apps"}
    assert checkpoints[-1] == Checkpoint("okta", "signins", cursor="2026-11-20T12:00:00.000Z")
    assert sum(1 for c in checkpoints if c.stream == "signins" and c.cursor is None) == 5
    assert not sleeps
    assert fake.log[0].headers["Authorization"] == "SSWS " + TOKEN


def test_incremental_scan_starts_at_the_watermark(fake: FakeOkta, server: LoopbackServer) -> None:
    records = list(connector(server, Sleeps()).collect({"signins": "2026-11-15T00:00:00.000Z"}))
    assert [s.at.day for s in of(records, SignIn)] == [18]
    assert fake.requests_to("/api/v1/logs")[0].args["since"] == "2026-11-15T00:00:00.000Z"


def test_app_users_fetched_in_parallel_match_sequential(
    fake: FakeOkta, server: LoopbackServer
) -> None:
    fake.max_page = 1
    one = {g for g in of(list(connector(server, Sleeps(), concurrency=1).collect({})), Grant)}
    many = {g for g in of(list(connector(server, Sleeps(), concurrency=4).collect({})), Grant)}
    assert one == many and len(one) == 11


# -- rate limits ----------------------------------------------------------------------------


def test_429_waits_until_the_reset_header(
    fake: FakeOkta, server: LoopbackServer, sleeps: Sleeps
) -> None:
    reset = int(datetime.now(UTC).timestamp()) + 7
    fake.fail(
        "/api/v1/apps",
        429,
        headers={
            "X-Rate-Limit-Limit": "100",
            "X-Rate-Limit-Remaining": "0",
            "X-Rate-Limit-Reset": str(reset),
        },
        body=load("error-429.json"),
    )
    records = list(connector(server, sleeps).collect({}))
    assert len(of(records, RawApp)) == 6
    assert len(sleeps) == 1 and 5 <= sleeps[0] <= 7.5
    assert [r.status for r in fake.requests_to("/api/v1/apps")][:2] == [429, 200]


def test_429_storm_ends_in_retryable_error(fake: FakeOkta, server: LoopbackServer) -> None:
    fake.fail("/api/v1/users", 429, times=10, headers={"X-Rate-Limit-Reset": "0"})
    with pytest.raises(RetryableError, match="gave up after 6 attempts: HTTP 429"):
        list(connector(server, Sleeps()).collect({}))


def test_real_window_throttles_and_recovers(fake: FakeOkta, server: LoopbackServer) -> None:
    fake.max_page = 1
    fake.set_rate("/api/v1/users", limit=100, remaining=2)
    sleeps = Sleeps()

    def reopen(seconds: float) -> None:
        sleeps(seconds)
        fake.set_rate("/api/v1/users", limit=100)  # the minute is over

    conn = connector(server, sleeps, slowdown_remaining=0.0)
    conn.http.policy.sleep = reopen
    users = of(list(conn.collect({})), User)
    assert len(users) == 4
    assert fake.throttled == 1
    assert len(sleeps) == 1 and 50 <= sleeps[0] <= 61


def test_low_remaining_share_slows_down_before_the_next_request(
    fake: FakeOkta, server: LoopbackServer, sleeps: Sleeps
) -> None:
    fake.max_page = 2
    fake.set_rate("/api/v1/logs", limit=120, remaining=11)  # 10 of 120 left after one call
    clock_start = datetime.now(UTC).timestamp()
    conn = connector(server, sleeps, clock=lambda: clock_start)
    records = list(conn.collect({}))
    assert len(of(records, SignIn)) == 5
    # Every logs page after the first waited for the reset: 10/120, 9/120 ... all under 10%.
    log_pages = len(fake.requests_to("/api/v1/logs"))
    assert len(sleeps) == log_pages - 1
    assert all(55 <= s <= 61 for s in sleeps), sleeps
    assert fake.throttled == 0


def test_remaining_above_the_share_never_waits(
    fake: FakeOkta, server: LoopbackServer, sleeps: Sleeps
) -> None:
    fake.max_page = 2
    fake.set_rate("/api/v1/logs", limit=120, remaining=50)
    list(connector(server, sleeps).collect({}))
    assert sleeps == []


# -- credentials and permissions ------------------------------------------------------------


def test_401_names_the_org_and_the_variable(
    fake: FakeOkta, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKTA_TOKEN", "revoked-token")
    with pytest.raises(AuthError) as caught:
        list(connector(server, Sleeps()).collect({}))
    message = str(caught.value)
    assert message == (
        f"Okta: the API token in OKTA_TOKEN was rejected by {server.url} "
        "(E0000011 Invalid token provided); create a new API token "
        "(Security > API > Tokens) and put it in OKTA_TOKEN"
    )
    assert caught.value.exit_code == 2
    assert "revoked-token" not in message


def test_403_on_logs_is_skipped_naming_the_scope(server: LoopbackServer, fake: FakeOkta) -> None:
    fake.api_tokens[TOKEN] = frozenset({"okta.apps.read", "okta.users.read"})
    records = list(connector(server, Sleeps()).collect({}))
    skipped = of(records, Skipped)
    assert len(skipped) == 1
    assert skipped[0].stream == "signins"
    assert skipped[0].permission == "okta.logs.read"
    assert "okta.logs.read" in skipped[0].reason
    assert "E0000006 You do not have permission" in skipped[0].reason
    assert len(of(records, RawApp)) == 6  # the other streams still ran
    assert not [c for c in of(records, Checkpoint) if c.stream == "signins" and c.cursor]


def test_403_on_apps_skips_apps_and_grants(server: LoopbackServer, fake: FakeOkta) -> None:
    fake.api_tokens[TOKEN] = frozenset({"okta.logs.read", "okta.users.read"})
    records = list(connector(server, Sleeps()).collect({}))
    assert [(s.stream, s.permission) for s in of(records, Skipped)] == [
        ("apps", "okta.apps.read"),
        ("grants", "okta.apps.read"),
    ]
    assert len(of(records, SignIn)) == 5


def test_app_deleted_mid_scan_is_a_warning(fake: FakeOkta, server: LoopbackServer) -> None:
    fake.fail("/api/v1/apps/0oa2slackT4vRw9Lq1d7/users", 404)
    records = list(connector(server, Sleeps()).collect({}))
    assert "app 0oa2slackT4vRw9Lq1d7 vanished during the scan" in [
        w.message for w in of(records, SourceWarning)
    ]


def test_missing_token_variable_is_a_config_error(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OKTA_TOKEN")
    with pytest.raises(
        ConfigError, match="sources.okta.token_env: environment variable OKTA_TOKEN"
    ):
        connector(server, Sleeps())


@pytest.mark.parametrize(
    ("org_url", "message"),
    [
        ("http://acme.okta.com", "is not an https:// URL"),
        ("https://acme-admin.okta.com", "use the org URL, not the admin console (acme.okta.com)"),
    ],
)
def test_bad_org_url(org_url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        OktaConnector(OktaSettings(org_url=org_url, token_env="OKTA_TOKEN"), ConnectorContext())


def test_no_credential_configured() -> None:
    with pytest.raises(ConfigError, match="set token_env .* or client_id"):
        OktaConnector(OktaSettings(org_url="https://acme.okta.com"), ConnectorContext())


# -- OAuth service app ----------------------------------------------------------------------


@pytest.fixture
def service_key(monkeypatch: pytest.MonkeyPatch) -> rsa.RSAPrivateKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    monkeypatch.setenv("OKTA_KEY", pem)
    return key


def service_connector(server: LoopbackServer, **settings: Any) -> OktaConnector:
    values = {
        "org_url": server.url,
        "client_id": "0oasvcAppQ1d7",
        "private_key_env": "OKTA_KEY",
        **settings,
    }
    return OktaConnector(OktaSettings(**values), ConnectorContext(now=NOW, sleep=Sleeps()))


def test_service_app_signs_a_jwt_and_reads_with_bearer(
    fake: FakeOkta, server: LoopbackServer, service_key: rsa.RSAPrivateKey
) -> None:
    fake.clients["0oasvcAppQ1d7"] = service_key.public_key()
    fake.client_scopes["0oasvcAppQ1d7"] = frozenset(
        {"okta.apps.read", "okta.users.read", "okta.logs.read"}
    )
    records = list(service_connector(server, key_id="kid-1").collect({}))
    assert len(of(records, RawApp)) == 6 and len(of(records, SignIn)) == 5
    assert len(fake.requests_to("/oauth2/v1/token")) == 1  # cached for the whole scan
    claims = fake.assertions[0]
    assert claims["iss"] == claims["sub"] == "0oasvcAppQ1d7"
    assert claims["aud"] == f"{server.url}/oauth2/v1/token"
    form = fake.requests_to("/oauth2/v1/token")[0].form
    assert form["scope"] == "okta.apps.read okta.users.read okta.logs.read"
    assert fake.requests_to("/api/v1/users")[0].headers["Authorization"].startswith("Bearer ")


def test_service_app_scope_not_granted(
    fake: FakeOkta, server: LoopbackServer, service_key: rsa.RSAPrivateKey
) -> None:
    fake.clients["0oasvcAppQ1d7"] = service_key.public_key()
    fake.client_scopes["0oasvcAppQ1d7"] = frozenset({"okta.apps.read"})
    with pytest.raises(AuthError, match="invalid_scope.*grant the scopes okta.apps.read"):
        list(service_connector(server).collect({}))


def test_service_app_with_unknown_key(
    fake: FakeOkta, server: LoopbackServer, service_key: rsa.RSAPrivateKey
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fake.clients["0oasvcAppQ1d7"] = other.public_key()
    with pytest.raises(AuthError, match="refused a token for service app 0oasvcAppQ1d7 "):
        list(service_connector(server).collect({}))


def test_service_app_bearer_without_logs_scope_skips_logs(
    fake: FakeOkta, server: LoopbackServer, service_key: rsa.RSAPrivateKey
) -> None:
    fake.clients["0oasvcAppQ1d7"] = service_key.public_key()
    fake.client_scopes["0oasvcAppQ1d7"] = frozenset({"okta.apps.read", "okta.users.read"})
    conn = service_connector(server, scopes=["okta.apps.read", "okta.users.read"])
    skipped = of(list(conn.collect({})), Skipped)
    assert [s.permission for s in skipped] == ["okta.logs.read"]
    assert "grant okta.logs.read to service app 0oasvcAppQ1d7" in skipped[0].reason


def test_private_key_that_is_not_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKTA_KEY", "not a key")
    settings = OktaSettings(
        org_url="https://acme.okta.com", client_id="0oa1", private_key_env="OKTA_KEY"
    )
    with pytest.raises(ConfigError, match="sources.okta.private_key: not an unencrypted PEM"):
        OktaConnector(settings, ConnectorContext())


# -- doctor ---------------------------------------------------------------------------------


def test_check_probes_each_scope(fake: FakeOkta, server: LoopbackServer) -> None:
    fake.api_tokens[TOKEN] = frozenset({"okta.apps.read", "okta.users.read"})
    probes = list(connector(server, Sleeps()).check())
    assert [(p.check, p.ok) for p in probes] == [
        ("okta.users.read", True),
        ("okta.apps.read", True),
        ("okta.logs.read", False),
    ]
    assert probes[-1].fix is not None and "okta.logs.read" in probes[-1].fix


def test_check_stops_at_a_rejected_token(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKTA_TOKEN", "nope")
    probes = list(connector(server, Sleeps()).check())
    assert len(probes) == 1 and not probes[0].ok
    assert "was rejected by" in probes[0].detail


def test_403_on_one_app_users_skips_grants_but_keeps_apps(
    fake: FakeOkta, server: LoopbackServer
) -> None:
    fake.max_page = 2
    fake.fail("/api/v1/apps/0oa2slackT4vRw9Lq1d7/users", 403, body=load("error-403.json"))
    records = list(connector(server, Sleeps()).collect({}))
    skipped = of(records, Skipped)
    assert [(s.stream, s.permission) for s in skipped] == [("grants", "okta.apps.read")]
    assert "E0000006" in skipped[0].reason
    assert len(of(records, RawApp)) == 6
    assert Checkpoint("okta", "apps", complete=True) in records
    # Assignments of later app pages are not requested once one was refused.
    assert not fake.requests_to("/api/v1/apps/0oa5wikiBk6Fn1Rz8d7/users")


def test_parallel_raises_the_first_producer_error() -> None:
    def good() -> Iterator[int]:
        yield from range(3)

    def bad() -> Iterator[int]:
        yield 10
        raise RetryableError("okta", "boom")

    with pytest.raises(RetryableError, match="boom"):
        list(parallel([good, bad, good], 2))
    assert sorted(parallel([good, good], 2)) == [0, 0, 1, 1, 2, 2]
