"""One driver per connector for the contract suite (tests/connectors/test_contract.py).

A driver knows what the suite body must not: how to build its connector through the registry
(``connectors.get(name)``, ``spec.settings``, ``spec.factory``, never the connector's module)
against its loopback fake, and how to make that fake answer one stream with a 403, a 429, a
5xx storm or an item that lacks a required field. Each fault method returns what the suite
should then see. A connector for which a fault makes no sense raises ``NotApplicable`` with
the reason, and the suite skips that case saying so.

Adding a connector to the suite: subclass ``Driver`` (or ``HttpDriver`` for a REST source over
a ``FakeProvider``) and list it in ``DRIVERS``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

import connectors
from connectors.base import Connector, ConnectorContext
from connectors.testing.base import FakeProvider, LoggedRequest
from connectors.testing.google import FakeGoogle
from connectors.testing.graph import FakeGraph
from connectors.testing.okta import FakeOkta
from connectors.testing.server import LoopbackServer
from scanner.core.models import SignIn, Spend, User
from scanner.core.settings import build
from scanner.net.http import RetryPolicy, new_session
from tests.connectors import fourth

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads"
ATTEMPTS = RetryPolicy().attempts
"""Every connector's transport uses the default retry budget."""


class NotApplicable(Exception):
    """This fault cannot happen to this connector; the message says why."""


@dataclass(frozen=True)
class Paging:
    """A listing the driver's fake serves over several pages."""

    stream: str
    """The stream its Checkpoints name."""
    kind: type
    """The record type that listing yields."""
    page_size: int
    """The most records of that kind one page can hold."""
    only: Callable[[object], bool] | None = None
    """Narrows ``kind`` when other streams yield the same type."""

    def holds(self, record: object) -> bool:
        return isinstance(record, self.kind) and (self.only is None or self.only(record))


@dataclass(frozen=True)
class Denied:
    """A 403 was injected: ``stream`` must end Skipped naming ``permission``."""

    stream: str
    permission: str


@dataclass(frozen=True)
class Storm:
    """5xx answers were injected under ``path``, more of them than the retry budget."""

    path: str
    skipped_stream: str | None = None
    """None: the RetryableError leaves ``collect()``. A stream name: the connector ends that
    stream Skipped with the RetryableError's message and reads the others (Google does)."""


@dataclass(frozen=True)
class Malformed:
    """An item lacking ``field`` was injected."""

    field: str
    row: str | None = None
    """None: ``collect()`` raises ResponseShapeError naming the field. ``file:line``: the
    connector drops that row with a SourceWarning naming it and the field (file imports)."""


class _Switch:
    """The WSGI app of a shared server: forwards to the fake of the running test."""

    target: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.target(environ, start_response)


class Loopback:
    """One plain and one TLS server for a whole test module (a throwaway CA per test is slow);
    each driver plugs its fake in."""

    def __init__(self) -> None:
        self._servers: dict[bool, tuple[LoopbackServer, _Switch]] = {}

    def serve(self, fake: FakeProvider, tls: bool = False) -> LoopbackServer:
        if tls not in self._servers:
            switch = _Switch()
            self._servers[tls] = (LoopbackServer(switch, tls=tls).start(), switch)
        server, switch = self._servers[tls]
        switch.target = fake
        return server

    def close(self) -> None:
        for server, _switch in self._servers.values():
            server.stop()
        self._servers.clear()


@dataclass
class Env:
    """What the suite hands a driver."""

    tmp_path: Path
    monkeypatch: pytest.MonkeyPatch
    loopback: Loopback
    sleeps: list[float] = field(default_factory=list)
    """The injected sleep: every retry and pacing wait lands here, nothing really waits."""


def build_connector(name: str, table: dict[str, Any], context: ConnectorContext) -> Connector:
    """Settings from a TOML-shaped table, then the connector, as the pipeline builds them."""
    spec = connectors.get(name)
    settings: Any = build(spec.settings, table, f"sources.{name}", None)
    return spec.factory(settings, context)


class Driver:
    name: ClassVar[str]
    paging: ClassVar[Paging]
    record_sources: ClassVar[frozenset[str] | None] = None
    """The ``source`` data records carry (None: the connector's name)."""

    def __init__(self, env: Env) -> None:
        self.env = env

    def connector(self) -> Connector:
        raise NotImplementedError

    def pages_served(self) -> int:
        """Pages of the ``paging`` listing the last collect was served."""
        raise NotImplementedError

    def requests_to(self, path: str) -> list[LoggedRequest]:
        raise NotApplicable(f"{self.name} makes no requests")

    def deny(self) -> Denied:
        raise NotApplicable(f"{self.name} has no permission-gated stream")

    def throttle(self, seconds: float) -> str:
        """Answer the next request under the returned path 429 with Retry-After ``seconds``."""
        raise NotApplicable(f"{self.name} is never throttled")

    def storm(self, times: int) -> Storm:
        raise NotApplicable(f"{self.name} has no server to fail")

    def malform(self) -> Malformed:
        raise NotImplementedError

    def close(self) -> None:
        return None


class HttpDriver(Driver):
    """A REST connector over a ``FakeProvider``: faults through ``fake.fail()``."""

    fake: FakeProvider
    page_path: ClassVar[str]
    """The exact path of the ``paging`` listing."""
    fault_path: ClassVar[str]
    """Where 429s and 5xx go: the first listing a scan reads."""
    tls: ClassVar[bool] = False

    def __init__(self, env: Env, fake: FakeProvider) -> None:
        super().__init__(env)
        self.fake = fake
        self.server = env.loopback.serve(fake, tls=self.tls)
        self.session = new_session(self.server.ca_path)
        self.session.trust_env = False  # loopback only: no proxy from the environment

    def context(self, now: datetime) -> ConnectorContext:
        return ConnectorContext(now=now, sleep=self.env.sleeps.append, session=self.session)

    def pages_served(self) -> int:
        return sum(1 for r in self.fake.log if r.path == self.page_path and r.status == 200)

    def requests_to(self, path: str) -> list[LoggedRequest]:
        return self.fake.requests_to(path)

    def throttle(self, seconds: float) -> str:
        self.fake.fail(self.fault_path, 429, headers={"Retry-After": f"{seconds:g}"}, method="GET")
        return self.fault_path

    def storm(self, times: int) -> Storm:
        self.fake.fail(self.fault_path, 503, times=times, method="GET")
        return Storm(self.fault_path)

    def close(self) -> None:
        self.session.close()


def _load(provider: str, name: str) -> Any:
    return json.loads((PAYLOADS / provider / name).read_text(encoding="utf-8"))


# -- Entra: real msal and HTTPS to FakeGraph ----------------------------------------------------


class EntraDriver(HttpDriver):
    name = "entra"
    paging = Paging("users", User, page_size=2)
    page_path = "/v1.0/users"
    fault_path = "/v1.0/users"  # the users delta link is the first Graph read of a scan
    tls = True  # msal accepts https:// authorities only
    CLIENT_ID = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
    SECRET = "contract-secret-value"
    NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __init__(self, env: Env) -> None:
        graph = FakeGraph.from_dir(PAYLOADS / "entra", page_size=self.paging.page_size)
        graph.add_client(self.CLIENT_ID, secret=self.SECRET)
        super().__init__(env, graph)
        self.graph = graph
        env.monkeypatch.setenv("SHADOWIT_CONTRACT_ENTRA_SECRET", self.SECRET)

    def connector(self) -> Connector:
        table = {
            "tenant_id": self.graph.tenant,
            "client_id": self.CLIENT_ID,
            "client_secret_env": "SHADOWIT_CONTRACT_ENTRA_SECRET",
            "authority_host": self.server.url,
            "graph_url": self.server.url,
            "reports_calls": 100,  # no pacing waits mixed into the recorded sleeps
        }
        return build_connector(self.name, table, self.context(self.NOW))

    def deny(self) -> Denied:
        self.graph.denied = {"Directory.Read.All"}
        return Denied("grants", "Directory.Read.All")

    def malform(self) -> Malformed:
        self.graph.users.append({"userPrincipalName": "no.id@contoso.example", "mail": None})
        return Malformed("id")


# -- Google: googleapiclient + google-auth against FakeGoogle ----------------------------------


class GoogleDriver(HttpDriver):
    name = "google"
    LOGINS = "/admin/reports/v1/activity/users/all/applications/login"
    paging = Paging(
        "login_events",
        SignIn,
        page_size=1000,  # activities.list maxResults; the fake has no smaller page
        only=lambda r: isinstance(r, SignIn) and r.client_id == "google-workspace",
    )
    page_path = LOGINS
    fault_path = "/admin/directory/v1/users"
    NOW = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    ADMIN = "ada.admin@example.com"
    REPORTS_SCOPE = "https://www.googleapis.com/auth/admin.reports.audit.readonly"

    def __init__(self, env: Env) -> None:
        template = _load("google", "activities-login.json")[0]
        logins = [
            {
                **template,
                "id": {
                    **template["id"],
                    "time": (self.NOW - timedelta(minutes=n + 1)).strftime(
                        "%Y-%m-%dT%H:%M:%S.000Z"
                    ),
                    "uniqueQualifier": f"-{900000 + n}",
                },
            }
            for n in range(self.paging.page_size + 1)
        ]
        activities = {"login": logins, "saml": _load("google", "activities-saml.json")}
        google = FakeGoogle(
            _load("google", "users.json"), _load("google", "tokens.json"), activities
        )
        super().__init__(env, google)
        self.google = google
        self.key_file = env.tmp_path / "google-key.json"
        self.key_file.write_text(json.dumps(google.add_service_account()), encoding="utf-8")

    def connector(self) -> Connector:
        table = {
            "admin_email": self.ADMIN,
            "key_file": str(self.key_file),
            "api_root": f"{self.server.url}/",
            "token_uri": f"{self.server.url}/token",
        }
        return build_connector(self.name, table, self.context(self.NOW))

    def deny(self) -> Denied:
        forbidden = _load("google", "error-403-forbidden.json")
        self.google.fail(self.LOGINS, 403, body=forbidden)
        return Denied("login_events", self.REPORTS_SCOPE)

    def storm(self, times: int) -> Storm:
        # Google ends a stream whose retries ran out Skipped (the source partial) and reads on.
        return Storm(super().storm(times).path, skipped_stream="users")

    def malform(self) -> Malformed:
        self.google.users.append({"primaryEmail": "no.id@example.com", "name": {"fullName": "X"}})
        return Malformed("id")


# -- Okta: API token against FakeOkta ------------------------------------------------------


class OktaDriver(HttpDriver):
    name = "okta"
    paging = Paging("users", User, page_size=2)
    page_path = "/api/v1/users"
    fault_path = "/api/v1/users"
    NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    TOKEN = "00contract-okta-token"

    def __init__(self, env: Env) -> None:
        okta = FakeOkta.from_dir(
            PAYLOADS / "okta", api_tokens={self.TOKEN: None}, now=lambda: self.NOW
        )
        okta.max_page = self.paging.page_size
        super().__init__(env, okta)
        self.okta = okta
        env.monkeypatch.setenv("SHADOWIT_CONTRACT_OKTA_TOKEN", self.TOKEN)

    def connector(self) -> Connector:
        table = {"org_url": self.server.url, "token_env": "SHADOWIT_CONTRACT_OKTA_TOKEN"}
        return build_connector(self.name, table, self.context(self.NOW))

    def deny(self) -> Denied:
        self.okta.api_tokens[self.TOKEN] = frozenset({"okta.apps.read", "okta.users.read"})
        return Denied("signins", "okta.logs.read")

    def malform(self) -> Malformed:
        self.okta.users.append({"status": "ACTIVE", "profile": {"login": "no.id@acme.example"}})
        return Malformed("id")


# -- files: local CSV imports ------------------------------------------------------------


class FilesDriver(Driver):
    name = "files"
    COMMIT_ROWS = 500
    """The files connector's commit interval (rows between two Checkpoints)."""
    ROWS = 2 * COMMIT_ROWS + 1
    paging = Paging("spend", Spend, page_size=COMMIT_ROWS)
    record_sources = frozenset({"expenses"})
    WHY = "the files connector reads local files: no HTTP, no permissions, no server to answer"

    def __init__(self, env: Env) -> None:
        super().__init__(env)
        self.path = env.tmp_path / "expenses.csv"
        lines = ["vendor,amount,currency,date,email"]
        lines += [
            f"Vendor {n % 7},{n % 90 + 9}.99,EUR,2026-02-{n % 28 + 1:02d},user{n % 5}@example.com"
            for n in range(self.ROWS)
        ]
        self.path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def connector(self) -> Connector:
        table = {"imports": [{"path": self.path.name, "kind": "expenses"}]}
        context = ConnectorContext(config_path=self.env.tmp_path / "config.toml")
        return build_connector(self.name, table, context)

    def pages_served(self) -> int:
        return math.ceil(self.ROWS / self.COMMIT_ROWS)

    def deny(self) -> Denied:
        raise NotApplicable(self.WHY)

    def throttle(self, seconds: float) -> str:
        raise NotApplicable(self.WHY)

    def storm(self, times: int) -> Storm:
        raise NotApplicable(self.WHY)

    def malform(self) -> Malformed:
        lines = self.path.read_text(encoding="utf-8").splitlines()
        lines[2] = "Vendor X,,EUR,2026-02-03,"  # line 3 of the file: no amount
        self.path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return Malformed("amount", row=f"{self.path.name}:3")


# -- acme-idp: the test double (tests/connectors/fourth.py) ------------------------------------


class AcmeDriver(HttpDriver):
    name = fourth.SOURCE
    paging = Paging("users", User, page_size=2)
    page_path = "/api/v1/users"
    fault_path = "/api/v1/users"
    NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    TOKEN = "acme-contract-token"

    def __init__(self, env: Env) -> None:
        users = [
            {"id": f"u{n}", "email": f"user{n}@acme.example", "name": f"User {n}", "active": n != 3}
            for n in range(5)
        ]
        apps: list[dict[str, Any]] = [
            {"id": "app-1", "name": "Notes", "created": "2026-01-05T10:00:00Z", "scopes": ["read"]},
            {"id": "app-2", "name": "Boards", "created": "2026-02-01T08:30:00+02:00"},
            {"id": "app-3", "name": "Chat", "publisher": "Chat Ltd"},
        ]
        scopes = {fourth.SCOPE_USERS, fourth.SCOPE_APPS}
        acme = fourth.FakeAcme(users, apps, {self.TOKEN: scopes}, page_size=2)
        super().__init__(env, acme)
        self.acme = acme
        env.monkeypatch.setenv("SHADOWIT_CONTRACT_ACME_TOKEN", self.TOKEN)

    def connector(self) -> Connector:
        table = {"base_url": self.server.url, "token_env": "SHADOWIT_CONTRACT_ACME_TOKEN"}
        return build_connector(self.name, table, self.context(self.NOW))

    def deny(self) -> Denied:
        self.acme.tokens[self.TOKEN] = frozenset({fourth.SCOPE_USERS})
        return Denied("apps", fourth.SCOPE_APPS)

    def malform(self) -> Malformed:
        self.acme.apps.append({"id": "app-9", "created": "2026-03-01T00:00:00Z"})
        return Malformed("name")


DRIVERS: dict[str, type[Driver]] = {
    d.name: d for d in (EntraDriver, GoogleDriver, OktaDriver, FilesDriver, AcmeDriver)
}


def drive(name: str, env: Env) -> Iterator[Driver]:
    """The driver of ``name`` for one test, closed afterwards."""
    cls = DRIVERS.get(name)
    if cls is None:
        pytest.fail(
            f"connector {name!r} is in the registry but has no contract driver; add one to "
            "tests/connectors/drivers.py (DRIVERS)"
        )
    driver = cls(env)
    try:
        yield driver
    finally:
        driver.close()
