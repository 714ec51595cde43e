"""Token endpoints that answer non-JSON, the wrong JSON, or nothing: Entra, Google and Okta.

Each IdP runs on its loopback fake (Entra over TLS) next to a file import; its token endpoint,
or Entra's OpenID discovery document, is made to answer as a broken or hostile server would:
an HTML page with 200 (a captive portal), an HTML 502 (a proxy's error page), an HTML 403 (a
proxy refusing), a JSON array, a JSON object without a token, an empty body, or a connection
closed without an answer. Each scan runs through the pipeline with ``scanner.core.logs`` configured
as the CLI does, and must end with the IdP ``failed`` on one line naming the endpoint's host,
the file import ``ok``, exit code 3 (a source failed; not 2, nothing says the credential is
wrong), the run ``finished`` and never left ``running``, and nothing on stderr but single log
lines: no traceback, no word of the body, no secret. Nothing may get past our log handlers to
the root logger either: outside pytest, Python's last-resort handler would print it to stderr
with its traceback. One scan per IdP goes through ``shadowit scan`` itself.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.wrappers import Request, Response

from connectors.testing.google import FakeGoogle
from connectors.testing.graph import FakeGraph
from connectors.testing.okta import FakeOkta
from connectors.testing.server import LoopbackServer
from connectors.tokens import answer_problem, endpoint, not_a_token_answer
from scanner.app import config as configuration
from scanner.app.cli import main
from scanner.app.pipeline import ScanResult, run_scan
from scanner.core import logs
from scanner.store.database import Store
from tests.reliability.conftest import Observe

PAYLOADS = Path(__file__).parents[1] / "payloads"
IMPORTS = Path(__file__).parents[1] / "data" / "imports"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

MARKER = "PORTAL-7f3a-MARKER"
"""In every bad body: must never reach a message, the store's error or stderr."""
ENTRA_SECRET = "entra-s3cr3t-do-not-print~42"
ENTRA_CLIENT = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
GOOGLE_ADMIN = "ada.admin@example.com"
OKTA_CLIENT = "0oasvcAppQ1d7"
SECRET_ENV = {
    "entra": "SHADOWIT_TEST_TOKENS_ENTRA_SECRET",
    "okta": "SHADOWIT_TEST_TOKENS_OKTA_KEY",
}

PORTAL = (
    "<!DOCTYPE html>\n<html><head><title>Guest Wi-Fi</title></head>\n<body><form "
    f'action="/accept?session=abc">{MARKER}: accept the terms to go online</form></body></html>'
).encode()
PROXY_502 = (
    f"<html>\n<body><h1>502 Bad Gateway</h1>\n<p>{MARKER} upstream gave no answer</p></body></html>"
).encode()


@dataclass(frozen=True)
class Behaviour:
    """How the broken endpoint answers."""

    label: str
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    close: bool = False
    """Close the connection (an RST) instead of answering."""


BEHAVIOURS = [
    Behaviour("HTML 200 (a captive portal)", 200, PORTAL, "text/html; charset=utf-8"),
    Behaviour("HTML 502 (a proxy's error page)", 502, PROXY_502, "text/html"),
    Behaviour("HTML 403 (a proxy refusing the request)", 403, PORTAL, "text/html"),
    Behaviour("a JSON array", 200, json.dumps([MARKER, {"access": 1}]).encode()),
    Behaviour(
        "a JSON object without a token", 200, json.dumps({"foo": 1, "note": MARKER}).encode()
    ),
    Behaviour("an empty body", 200, b""),
    Behaviour("the connection closed without an answer", close=True),
]


class Breaker:
    """Serves the fake, except that requests whose path ``hits`` get ``behaviour``."""

    def __init__(self, fake: Any, hits: Callable[[str], bool]) -> None:
        self.fake = fake
        self.hits = hits
        self.behaviour: Behaviour | None = None
        self.served = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        behaviour = self.behaviour
        if behaviour is None or not self.hits(request.path):
            return self.fake(environ, start_response)
        self.served += 1
        if behaviour.close:
            sock: socket.socket = environ["werkzeug.socket"]
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
            return Response(b"")(environ, start_response)
        answer = Response(
            behaviour.body, status=behaviour.status, content_type=behaviour.content_type
        )
        return answer(environ, start_response)


class Switch:
    """One server per module (a TLS CA per test is slow); each test plugs in its app."""

    target: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.target(environ, start_response)


@dataclass
class Idp:
    """One IdP on its fake, with the part of config.toml that points at it."""

    source: str
    label: str
    target: str
    """What breaks: the token endpoint, or Entra's discovery document."""
    breaker: Breaker
    server: LoopbackServer
    block: str
    setting: str
    """The setting the message must name."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return self.server.url.split("://", 1)[1]


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, tuple[LoopbackServer, Switch]]]:
    switches = {name: Switch() for name in ("entra", "google", "okta")}
    with (
        LoopbackServer(switches["entra"], tls=True) as entra,
        LoopbackServer(switches["google"]) as google,
        LoopbackServer(switches["okta"]) as okta,
    ):
        yield {
            "entra": (entra, switches["entra"]),
            "google": (google, switches["google"]),
            "okta": (okta, switches["okta"]),
        }


@pytest.fixture(scope="module")
def okta_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def entra_idp(srv: LoopbackServer, switch: Switch, target: str) -> Idp:
    fake = FakeGraph.from_dir(PAYLOADS / "entra", page_size=50)
    fake.add_client(ENTRA_CLIENT, secret=ENTRA_SECRET)
    token_path = f"/{fake.tenant}/oauth2/v2.0/token"
    discovery = "/v2.0/.well-known/openid-configuration"

    def hits(path: str) -> bool:
        return path.endswith(discovery) if target == "discovery" else path == token_path

    breaker = switch.target = Breaker(fake, hits)
    block = f"""
[sources.entra]
tenant_id = "{fake.tenant}"
client_id = "{ENTRA_CLIENT}"
client_secret_env = "{SECRET_ENV["entra"]}"
authority_host = "{srv.url}"
graph_url = "{srv.url}"
ca_bundle = "{srv.ca_path}"
reports_calls = 1000
"""
    what = "discovery document" if target == "discovery" else "token endpoint"
    return Idp("entra", "Entra", what, breaker, srv, block, "sources.entra.authority_host")


def google_idp(srv: LoopbackServer, switch: Switch, folder: Path) -> Idp:
    fake = FakeGoogle.from_dir(PAYLOADS / "google")
    key = fake.add_service_account()
    key_file = folder / "google-key.json"
    key_file.write_text(json.dumps(key), encoding="utf-8")
    key_file.chmod(0o600)
    breaker = switch.target = Breaker(fake, lambda path: path == "/token")
    block = f"""
[sources.google]
admin_email = "{GOOGLE_ADMIN}"
key_file = "google-key.json"
api_root = "{srv.url}/"
token_uri = "{srv.url}/token"
"""
    idp = Idp("google", "Google", "token endpoint", breaker, srv, block, "sources.google.token_uri")
    idp.extra["private_key"] = key["private_key"]
    return idp


def okta_idp(srv: LoopbackServer, switch: Switch, key: rsa.RSAPrivateKey) -> Idp:
    fake = FakeOkta.from_dir(
        PAYLOADS / "okta",
        clients={OKTA_CLIENT: key.public_key()},
        client_scopes={OKTA_CLIENT: {"okta.apps.read", "okta.users.read", "okta.logs.read"}},
        now=lambda: NOW,
    )
    breaker = switch.target = Breaker(fake, lambda path: path == "/oauth2/v1/token")
    block = f"""
[sources.okta]
org_url = "{srv.url}"
client_id = "{OKTA_CLIENT}"
private_key_env = "{SECRET_ENV["okta"]}"
"""
    return Idp("okta", "Okta", "token endpoint", breaker, srv, block, "sources.okta.org_url")


TARGETS = ["entra token", "entra discovery", "google token", "okta token"]


@pytest.fixture(params=TARGETS)
def idp(
    request: pytest.FixtureRequest,
    servers: dict[str, tuple[LoopbackServer, Switch]],
    okta_key: rsa.RSAPrivateKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Idp:
    source, target = str(request.param).split()
    srv, switch = servers[source]
    if source == "entra":
        monkeypatch.setenv(SECRET_ENV["entra"], ENTRA_SECRET)
        return entra_idp(srv, switch, target)
    if source == "google":
        return google_idp(srv, switch, tmp_path)
    pem = okta_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    monkeypatch.setenv(SECRET_ENV["okta"], pem)
    idp = okta_idp(srv, switch, okta_key)
    idp.extra["private_key"] = pem
    return idp


def write_config(folder: Path, idp: Idp) -> Path:
    shutil.copy(IMPORTS / "casb-usage-2026-11.csv", folder / "casb.csv")
    path = folder / "config.toml"
    path.write_text(
        f"""
[store]
path = "inventory.db"

[report]
out = "reports"
formats = ["json"]
{idp.block}
[sources.files]
[[sources.files.imports]]
path = "casb.csv"
kind = "usage"
source_name = "casb"
[sources.files.imports.columns]
app = "Application"
domain = "Domain"
user = "User"
last_used = "Last Seen"
""",
        encoding="utf-8",
    )
    return path


LIBRARIES = (*logs.OUR_LOGGERS, *logs.LIBRARY_LOGGERS)


@pytest.fixture(autouse=True)
def _restore_loggers() -> Iterator[None]:
    """``logs.configure`` (ours, and the CLI's) wires library loggers to this test's stderr."""
    saved = {
        name: (list(lg.handlers), lg.level, lg.propagate)
        for name in LIBRARIES
        for lg in [logging.getLogger(name)]
    }
    yield
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


def run_status(store_path: Path, scan_id: int | None = None) -> list[str]:
    store = Store.open(store_path)
    try:
        query = "SELECT status FROM scan_runs" + (" WHERE id = ?" if scan_id else "")
        return [r[0] for r in store.db.execute(query, [scan_id] if scan_id else [])]
    finally:
        store.close()


def secrets_of(idp: Idp) -> list[str]:
    """What must never be printed: the body marker and the credentials."""
    found = [MARKER, ENTRA_SECRET]
    key = idp.extra.get("private_key")
    if key:
        found.append(key.splitlines()[1])  # a line of the PEM body
    return found


def assert_one_clean_line(message: str, idp: Idp) -> None:
    assert message.startswith(f"{idp.label}: "), message
    assert message.isprintable() and "\n" not in message, "one line"
    assert idp.host in message, f"names the host: {message}"
    assert "?" not in message, f"no query string: {message}"
    assert "Traceback" not in message
    if ", not a " in message:  # not a token response / not a discovery document
        assert idp.setting in message, f"names the setting to check: {message}"
    for secret in secrets_of(idp):
        assert secret not in message, f"{secret[:12]}... in {message}"


def assert_clean_stderr(err: str, idp: Idp) -> None:
    assert "Traceback" not in err and 'File "' not in err, err
    for secret in secrets_of(idp):
        assert secret not in err
    for needle in ("<html", "<!DOCTYPE", "Bad Gateway", '"foo"'):
        assert needle not in err, f"the body reached stderr: {err}"
    for line in err.splitlines():
        assert line.split(" ", 1)[0] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), (
            f"not one of our log lines: {line!r}"
        )


def assert_nothing_escaped(records: list[logging.LogRecord], idp: Idp) -> None:
    """No record got past our handlers to the root logger (where, outside pytest, Python's
    last-resort handler prints it to stderr with its traceback: msal's way with a bad body)."""
    for record in records:
        text = record.getMessage()
        assert not record.exc_info, f"{record.name} logged a traceback: {text[:200]}"
        assert "<html" not in text.lower() and MARKER not in text, f"{record.name}: {text[:200]}"
        for secret in secrets_of(idp):
            assert secret not in text


def scan(path: Path, sleeps: list[float]) -> ScanResult:
    return run_scan(configuration.load(path), now=NOW, sleep=sleeps.append)


# -- the matrix, through the pipeline --------------------------------------------------------
def test_a_healthy_token_endpoint_scans_ok(idp: Idp, tmp_path: Path) -> None:
    """The harness itself: with nothing broken every source ends ok."""
    result = scan(write_config(tmp_path, idp), [])
    assert {s.source: s.status for s in result.sources} == {idp.source: "ok", "files": "ok"}
    assert result.exit_code == 0


@pytest.mark.parametrize("behaviour", BEHAVIOURS, ids=[b.label for b in BEHAVIOURS])
def test_a_broken_token_endpoint_fails_only_its_source(
    idp: Idp,
    behaviour: Behaviour,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    observe: Observe,
) -> None:
    config = write_config(tmp_path, idp)
    capsys.readouterr()
    logs.configure("info")  # as `shadowit --log-level info scan` would
    idp.breaker.behaviour = behaviour
    sleeps: list[float] = []

    result = scan(config, sleeps)

    err = capsys.readouterr().err
    statuses = {s.source: s for s in result.sources}
    hit = statuses.pop(idp.source)
    assert hit.status == "failed", (hit.status, hit.error)
    assert {s.status for s in statuses.values()} == {"ok"}, "the file import still ran"
    assert result.exit_code == 3, "a failed source, not a credential problem"
    assert run_status(config.parent / "inventory.db", result.scan_id) == ["finished"]
    assert idp.breaker.served > 0, "the broken answer was served"
    assert idp.breaker.served <= 6, "token requests are bounded"
    assert all(0 <= wait <= 60 for wait in sleeps)
    message = hit.error or ""
    assert_one_clean_line(message, idp)
    assert_clean_stderr(err, idp)
    assert_nothing_escaped(caplog.records, idp)
    observe(
        "tokens",
        f"{idp.label} {idp.target}: {behaviour.label}",
        f"{idp.label} failed, files ok, exit 3, run finished; {idp.breaker.served} request(s); "
        f"said: {message.replace(idp.host, '127.0.0.1:PORT')[:170]}",
    )


# -- one scan per IdP through `shadowit scan` ------------------------------------------------
def test_shadowit_scan_behind_a_captive_portal_exits_3(
    idp: Idp, tmp_path: Path, observe: Observe
) -> None:
    config = write_config(tmp_path, idp)
    idp.breaker.behaviour = BEHAVIOURS[0]
    result = CliRunner().invoke(main, ["scan", "--config", str(config), "--no-report"])
    assert result.exit_code == 3, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert_clean_stderr(result.stderr, idp)
    for secret in secrets_of(idp):
        assert secret not in result.output
    assert "Traceback" not in result.output and "<html" not in result.output
    said = [line for line in result.output.splitlines() if idp.host in line]
    assert said, f"the host is named: {result.output}"
    assert run_status(tmp_path / "inventory.db") == ["finished"]
    observe(
        "tokens",
        f"shadowit scan, {idp.label} {idp.target} behind a captive portal (HTML 200)",
        "exit 3; the host named on one line; no traceback or page text in the output; run finished",
    )


# -- library loggers -------------------------------------------------------------------------
def test_library_loggers_get_one_line_without_traceback_or_query(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, observe: Observe
) -> None:
    capsys.readouterr()
    logs.configure("debug")
    try:
        raise ValueError(MARKER)
    except ValueError:
        logging.getLogger("urllib3.connectionpool").warning(
            "Retrying after a reset:\n%s",
            "GET https://idp.example/token?code=SECRET-CODE 502",
            exc_info=True,
        )
        logging.getLogger("msal.oauth2cli.oauth2").exception(
            "Token response is not in json format: %s", PORTAL.decode()
        )
    logging.getLogger("googleapiclient.discovery").info("below WARNING: not shown")
    logging.getLogger("connectors.entra").debug("our own DEBUG line")

    err = capsys.readouterr().err
    assert err.splitlines() == [
        "WARNING urllib3.connectionpool: Retrying after a reset:\\x0aGET "
        "https://idp.example/token?\u2026 502",
        "DEBUG connectors.entra: our own DEBUG line",
    ]
    assert not caplog.records, "library records stop at our handler"
    observe(
        "tokens",
        "library loggers (urllib3, msal, googleapiclient) with shadowit --log-level debug",
        "WARNING and above, one line each, no traceback, query strings cut; msal's body-quoting "
        "error silenced; our own loggers keep the chosen level",
    )


# -- the check itself ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "content_type", "body", "problem"),
    [
        (200, "application/json", b'{"access_token": "x", "expires_in": 3599}', None),
        (200, "application/json", b'{"access_token": "x", "expires_in": "3599"}', None),
        (400, "application/json", b'{"error": "invalid_grant"}', None),
        (200, "application/json", b'{"access_token": "x", "expires_in": "soon"}', "expires_in"),
        (200, "application/json", b'{"access_token": 42}', "JSON without access_token"),
        (200, "application/json", b'{"error": "invalid_grant"}', "JSON without access_token"),
        (401, "application/json", b'{"message": "nope"}', "not an OAuth error"),
        (200, "text/html; charset=iso-8859-1", b"\xff\xfe<html>", "an HTML page"),
        (502, "application/json", b"  <html><body>Bad Gateway", "an HTML page"),
        (200, "text/plain", b"\xff\xfe\x00", "a body that is not JSON"),
        (200, "application/json", b"[" * 100_000, "a body that is not JSON"),
        (200, "application/json", b'"a string"', "a JSON value that is not an object"),
        (200, "application/json", b" \r\n ", "an empty body"),
    ],
)
def test_answer_problem_describes_and_never_quotes(
    status: int, content_type: str, body: bytes, problem: str | None
) -> None:
    found = answer_problem(status, content_type, body)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
        assert "nope" not in found and "a string" not in found and "html>" not in found


def test_messages_name_the_origin_only() -> None:
    url = "https://user:pa55@login.example:8443/tenant/oauth2/v2.0/token?code=SECRET#x"
    assert endpoint(url) == "https://login.example:8443"
    assert endpoint("https://[::1]:9/token") == "https://[::1]:9"
    error = not_a_token_answer("okta", url, 200, "an HTML page", "sources.okta.org_url")
    assert str(error) == (
        "Okta: the token endpoint at https://login.example:8443 answered HTTP 200 with an HTML "
        "page, not a token response; check sources.okta.org_url, or a proxy or captive portal "
        "in the way"
    )
