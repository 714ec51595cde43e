"""Connector-level faults through the Entra and Google fakes, across two real scans.

Scan 1 reads the demo tenant (the demo's config: Entra over TLS, Google, Okta and two file
imports) cleanly, once per module; each test scans again on its own copy of that store. Scan 2
runs with one fault injected into one listing of Entra or Google: throttling with and without
Retry-After, server errors beyond the retry budget, a truncated or malformed page, a next link
or page token that loops back, a page that repeats items, an empty page that still links on,
and a connection reset in the middle of a listing. Each fault either heals within the retry
budget or ends its source failed or partial with a message naming the source; the other
sources end ok; the scan finishes; retries are bounded (counted in the fake's request log);
and the inventory of scan 1 stays whole: no app, user or grant looks gone, no row is doubled.

Faults a ``FakeProvider.fail()`` rule cannot make (paging tricks, a reset socket) come from
``Meddler``, which rewrites the answers of one listing on a running fake.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from werkzeug.wrappers import Request, Response

import connectors.google.collect as google_connector
from connectors.demo import DEMO_NOW
from connectors.testing.base import FakeProvider, json_response
from scanner.app import config as configuration
from scanner.app import demo
from scanner.app.config import Config
from scanner.app.pipeline import ScanResult, run_scan
from scanner.net.http import new_session
from scanner.store.database import Store
from tests.reliability.conftest import Observe
from tests.reliability.faults import RawServer

LABELS = {"entra": "Entra", "google": "Google"}
"""The sources faults go into; Okta and the file imports run alongside."""
TABLES = ("users", "raw_apps", "grants")
"""Tables whose rows carry ``gone_scan``: what a broken listing must never mark gone."""
PAGE = 10
"""Google page sizes for this suite, so the demo's 48 users and 55 token events span pages."""
MAX_REQUESTS = 30
"""Far above any bounded retry loop here (6 attempts a call), far below a runaway loop."""

USERS_G = "/admin/directory/v1/users"
TOKEN_EVENTS = "/admin/reports/v1/activity/users/all/applications/token"


# -- rewriting a fake's answers --------------------------------------------------------------
@dataclass
class Meddler:
    """Rewrites the answers of one listing on a fake (installed over its ``_route``).

    ``mode``: ``loop`` (a follow-up page's next link points back to the second page),
    ``repeat`` (each follow-up page serves the first page's items again, besides its own),
    ``empty`` (an extra empty first page that links on to the real first page),
    ``truncate`` (follow-up pages answer half a JSON document), ``reset`` (follow-up pages
    reset the connection; ``times`` limits how often), ``foreign`` (the first page's next link
    points to ``foreign_url``, another origin), ``counter`` (follow-up pages serve the first
    page's items again under a next link whose counter changes every time).
    """

    style: str
    """graph or google: which paging words the listing speaks."""
    path: str
    mode: str
    times: int = 10_000
    first_items: list[Any] = field(default_factory=list)
    second_page: str | None = None
    hits: int = 0
    foreign_url: str = ""

    @property
    def follow_arg(self) -> str:
        return "$skiptoken" if self.style == "graph" else "pageToken"

    @property
    def items_key(self) -> str:
        if self.style == "graph":
            return "value"
        return "users" if self.path == USERS_G else "items"

    @property
    def next_key(self) -> str:
        return "@odata.nextLink" if self.style == "graph" else "nextPageToken"

    def install(self, fake: FakeProvider) -> None:
        route = fake._route

        def meddled(request: Request) -> Response:
            if request.path != self.path or request.args.get("meddled"):
                return route(request)
            return self.answer(request, route)

        fake._route = meddled  # type: ignore[method-assign]

    def answer(self, request: Request, route: Callable[[Request], Response]) -> Response:
        follow_up = self.follow_arg in request.args
        if self.mode == "empty" and not follow_up:
            self.hits += 1
            return json_response(self._empty_first(request))
        if follow_up and self.mode in ("reset", "truncate") and self.hits < self.times:
            self.hits += 1
            if self.mode == "reset":
                _reset(request)
            return Response(b'{"value": [{"id": "cut-', mimetype="application/json")
        response = route(request)
        body = json.loads(response.get_data())
        items = body.get(self.items_key) or []
        if not follow_up:
            self.first_items = list(items)
            self.second_page = body.get(self.next_key)
        elif self.mode == "repeat":
            self.hits += 1
            body[self.items_key] = self.first_items + items
        elif self.mode == "loop" and body.get(self.next_key):
            self.hits += 1
            body[self.next_key] = self.second_page
        elif self.mode == "counter":
            self.hits += 1
            body[self.items_key] = self.first_items
            body[self.next_key] = f"{self.second_page}&n={self.hits}"
        if self.mode == "foreign" and not follow_up and body.get(self.next_key):
            self.hits += 1
            body[self.next_key] = f"{self.foreign_url}{self.path}?$skiptoken=stolen"
        return json_response(body, response.status_code)

    def _empty_first(self, request: Request) -> dict[str, Any]:
        if self.style == "graph":
            query = urlencode({**request.args, "meddled": "1"})
            return {"value": [], "@odata.nextLink": f"{request.base_url}?{query}"}
        return {self.items_key: [], "nextPageToken": "PT00000000"}  # FakeGoogle's offset 0


def _reset(request: Request) -> None:
    """Reset the TCP connection under this request (SO_LINGER 0, then close): an RST."""
    sock: socket.socket = request.environ["werkzeug.socket"]
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.shutdown(socket.SHUT_RDWR)


# -- the tenant, served once; scan 1 once, copied for each test ------------------------------
@dataclass
class Tenant:
    endpoints: dict[str, Any]
    baseline: Path
    """The store after the clean scan 1."""
    before: dict[str, dict[str, tuple[int, int]]]
    """source -> table -> (rows, live rows) after scan 1."""

    @property
    def fakes(self) -> dict[str, FakeProvider]:
        return {
            "entra": self.endpoints["fakes"]["graph"],
            "google": self.endpoints["fakes"]["google"],
        }

    def config(self, folder: Path) -> Config:
        """The demo's config: Entra, Google and Okta on the fakes, and two file imports."""
        return configuration.load(demo.write_config(folder, self.endpoints))

    def scan(self, cfg: Config, hours: int, sleeps: list[float], full: bool = False) -> ScanResult:
        return run_scan(
            cfg,
            full=full,
            now=DEMO_NOW + timedelta(hours=hours),
            sleep=sleeps.append,
            session=new_session(self.endpoints["ca_path"]),
        )


def counts(path: Path) -> dict[str, dict[str, tuple[int, int]]]:
    store = Store.open(path)
    try:
        out: dict[str, dict[str, tuple[int, int]]] = {}
        for source in LABELS:
            out[source] = {}
            for table in TABLES:
                rows, live = store.db.execute(
                    f"SELECT count(*), count(*) FILTER (WHERE gone_scan IS NULL) FROM {table} "  # noqa: S608 - fixed names
                    "WHERE source = ?",
                    [source],
                ).fetchone()
                out[source][table] = (int(rows), int(live))
            signins = store.db.execute("SELECT count(*) FROM signins WHERE source = ?", [source])
            out[source]["signins"] = (int(signins.fetchone()[0]), 0)
        return out
    finally:
        store.close()


def copy_store(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    target.chmod(0o600)


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenant]:
    patch = pytest.MonkeyPatch()
    patch.setattr(google_connector, "USERS_PAGE", PAGE)
    patch.setattr(google_connector, "ACTIVITIES_PAGE", PAGE)
    try:
        with demo.serve(demo.load_tenant(), DEMO_NOW) as endpoints:
            folder = tmp_path_factory.mktemp("idp-baseline")
            t = Tenant(endpoints, folder / "shadowit.db", {})
            first = t.scan(t.config(folder), 0, [])
            assert first.exit_code == 0, first.sources
            assert {s.status for s in first.sources} == {"ok"}
            t.before = counts(t.baseline)
            assert all(t.before[s]["raw_apps"][1] > 0 for s in LABELS)
            yield t
    finally:
        patch.undo()


@pytest.fixture()
def fresh(tenant: Tenant, tmp_path: Path) -> Iterator[tuple[Tenant, Config]]:
    """The tenant with no fault, and a copy of scan 1's store."""
    for fake in tenant.fakes.values():
        fake.faults.clear()
        fake.log.clear()
    copy_store(tenant.baseline, tmp_path / "shadowit.db")
    try:
        yield tenant, tenant.config(tmp_path)
    finally:
        for fake in tenant.fakes.values():
            fake.faults.clear()
            fake.__dict__.pop("_route", None)


# -- the faults ------------------------------------------------------------------------------
GRAPH_USERS = "/v1.0/users"
GRAPH_GRANTS = "/v1.0/oauth2PermissionGrants"
GRAPH_SPS = "/v1.0/servicePrincipals"
GRAPH_SIGNINS = "/v1.0/auditLogs/signIns"
TOKENS_G = "/admin/directory/v1/users/"
"""tokens.list of one user (inside Directory batch requests); users.list has no slash after."""
RETRY_AFTER = {"Retry-After": "1"}
GAVE_UP = "gave up after 6 attempts"


@dataclass(frozen=True)
class Case:
    source: str
    label: str
    path: str
    """The listing the fault hits (a path prefix on the fake)."""
    says: str
    """Part of the source's error or skip reason."""
    expect: str = "failed"
    """Source status after scan 2: failed, partial or ok."""
    status: int = 0
    """Answer every request under ``path`` with this status (FakeProvider.fail)."""
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    meddle: str | None = None
    """A Meddler mode instead of a status."""
    times: int = 10_000
    full: bool = False
    """Scan 2 is ``scan --full`` (Google then sweeps every user's tokens)."""
    rewind: bool = False
    """Scan 2 re-reads Google's token audit log from 45 days back (as if scan 1 had been long
    ago), so that listing spans pages."""
    max_requests: int = MAX_REQUESTS

    @property
    def id(self) -> str:
        return f"{self.source}-{self.label}".replace(" ", "-")


def entra(label: str, path: str, says: str, **kw: Any) -> Case:
    return Case("entra", label, path, says, **kw)


def google(label: str, path: str, says: str, **kw: Any) -> Case:
    return Case("google", label, path, says, **kw)


CASES = [
    # An incremental scan 2 (Entra reads users and service principals through delta links).
    entra("429 Retry-After 1 on users", GRAPH_USERS, GAVE_UP, status=429, headers=RETRY_AFTER),
    entra("500 on users", GRAPH_USERS, "HTTP 500 from", status=500),
    entra("503 on service principals", GRAPH_SPS, "HTTP 503 from", status=503),
    entra("504 on sign-ins", GRAPH_SIGNINS, "HTTP 504 from", status=504),
    # A full scan 2 lists every user and grant over several pages, and would mark gone what
    # it does not see: the paging faults go there.
    entra("429 no Retry-After on grants", GRAPH_GRANTS, "HTTP 429", status=429, full=True),
    entra("502 on grants", GRAPH_GRANTS, "HTTP 502 from", status=502, full=True),
    entra("503 on the service principal delta round", GRAPH_SPS, "HTTP 503", status=503, full=True),
    entra("truncated JSON on users page 2", GRAPH_USERS, "not JSON", meddle="truncate", full=True),
    entra(
        "users page without a value list",
        GRAPH_USERS,
        "without a 'value' list",
        status=200,
        raw=b'{"value": "x"}',
        full=True,
    ),
    entra("grants nextLink loops back", GRAPH_GRANTS, "loops back", meddle="loop", full=True),
    entra("grants pages repeat page 1", GRAPH_GRANTS, "", expect="ok", meddle="repeat", full=True),
    entra(
        "users nextLink to another host",
        GRAPH_USERS,
        "a next link points outside graph_url",
        meddle="foreign",
        full=True,
    ),
    entra(
        "grants nextLink with a changing counter, same items",
        GRAPH_GRANTS,
        "pages in a row of items it had already sent",
        meddle="counter",
        full=True,
    ),
    entra(
        "empty first users page with a nextLink",
        GRAPH_USERS,
        "",
        expect="ok",
        meddle="empty",
        full=True,
    ),
    entra(
        "reset on every grants page after 1",
        GRAPH_GRANTS,
        "ConnectionError",
        meddle="reset",
        full=True,
    ),
    entra(
        "reset once on grants page 2",
        GRAPH_GRANTS,
        "",
        expect="ok",
        meddle="reset",
        times=1,
        full=True,
    ),
    google(
        "429 Retry-After 1 on users",
        USERS_G,
        "users.list after 6 attempts: HTTP 429",
        expect="partial",
        status=429,
        headers=RETRY_AFTER,
    ),
    google(
        "429 no Retry-After on token events",
        TOKEN_EVENTS,
        "token after 6 attempts: HTTP 429",
        expect="partial",
        status=429,
    ),
    google("500 on users", USERS_G, "HTTP 500", expect="partial", status=500),
    google("502 on token events", TOKEN_EVENTS, "HTTP 502", expect="partial", status=502),
    google("503 on users", USERS_G, "HTTP 503", expect="partial", status=503),
    google("504 on token events", TOKEN_EVENTS, "HTTP 504", expect="partial", status=504),
    google(
        "503 on tokens.list in batches of a full scan",
        TOKENS_G,
        "HTTP 503",
        expect="partial",
        status=503,
        full=True,
        max_requests=60,
    ),
    google(
        "tokens.list answers a JSON array in a full scan",
        TOKENS_G,
        "tokens.list answered with a JSON array",
        status=200,
        raw=b"[]",
        full=True,
    ),
    google(
        "truncated JSON on users page 2",
        USERS_G,
        "users.list answered with a body that is not JSON",
        meddle="truncate",
    ),
    google(
        "users page that is a JSON array",
        USERS_G,
        "users.list answered with a JSON array",
        status=200,
        raw=b'[{"id": "1"}]',
    ),
    google("users pageToken loops back", USERS_G, "loops back", meddle="loop"),
    google("users pages repeat page 1", USERS_G, "", expect="ok", meddle="repeat"),
    google(
        "token event pages repeat page 1",
        TOKEN_EVENTS,
        "",
        expect="ok",
        meddle="repeat",
        rewind=True,
    ),
    google("empty first users page with a pageToken", USERS_G, "", expect="ok", meddle="empty"),
    google(
        "reset on every users page after 1",
        USERS_G,
        "ConnectionError talking to http",
        expect="partial",
        meddle="reset",
    ),
    google("reset once on users page 2", USERS_G, "", expect="ok", meddle="reset", times=1),
]


def rewind_token_events(path: Path) -> None:
    start = (DEMO_NOW - timedelta(days=45)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE checkpoints SET cursor = ? WHERE source = 'google' AND stream = ?",
            [start, google_connector.CURSOR_EVENTS["token"]],
        )
    db.close()


def inject(fake: FakeProvider, case: Case, foreign_url: str) -> Meddler | None:
    if case.meddle is None:
        fake.fail(case.path, case.status, times=10_000, headers=case.headers, raw=case.raw)
        return None
    style = "graph" if case.source == "entra" else "google"
    meddler = Meddler(style, case.path, case.meddle, case.times, foreign_url=foreign_url)
    meddler.install(fake)
    return meddler


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fault_keeps_the_earlier_inventory(
    fresh: tuple[Tenant, Config], case: Case, observe: Observe
) -> None:
    t, cfg = fresh
    fake = t.fakes[case.source]
    foreign = RawServer([], after="ok")  # where ``foreign`` next links point: never reached
    meddler = inject(fake, case, foreign.url)
    if case.rewind:
        rewind_token_events(cfg.store_path)
    sleeps: list[float] = []
    with foreign.running():
        second = t.scan(cfg, 1, sleeps, full=case.full)
    assert foreign.connections == 0, "a foreign next link was followed"

    statuses = {s.source: s for s in second.sources}
    hit = statuses.pop(case.source)
    assert {s.status for s in statuses.values()} == {"ok"}, "the other sources are unaffected"
    assert hit.status == case.expect, (hit.status, hit.error, hit.skipped)
    assert second.exit_code == (0 if case.expect == "ok" else 3)
    message = hit.error or "; ".join(hit.skipped)
    if case.expect == "ok":
        assert not message
        assert meddler is None or meddler.hits > 0, "the fault was served"
    else:
        assert f"{LABELS[case.source]}: " in message and case.says in message, message
    sent = len(fake.requests_to(case.path))
    assert 0 < sent <= case.max_requests, f"{sent} requests: retries are not bounded"
    assert all(0 <= wait <= 60.0 for wait in sleeps)
    if case.headers:
        assert sleeps == [1.0] * 5, "Retry-After is obeyed, within the attempt budget"

    after = counts(cfg.store_path)
    assert after == t.before, "scan 1's users, apps and grants all current, none doubled"
    store = Store.open(cfg.store_path)
    try:
        assert store.latest_scan() == second.scan_id, "the scan itself finished"
    finally:
        store.close()
    apps = t.before[case.source]["raw_apps"][1]
    observe(
        "connector",
        f"{LABELS[case.source]}: {case.label} (scan 2 of 2{', --full' if case.full else ''})",
        f"source {hit.status}, other sources ok; {sent} requests to {case.path}; all {apps} "
        "apps of scan 1 still current, no row doubled"
        + (f"; said: {message[:130]}" if message else ""),
    )
