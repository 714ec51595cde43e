"""``acme-idp``: a tiny REST connector for an imaginary identity provider, and its loopback fake.

A test double, never shipped: it shows that a new connector needs only its own file, a driver
entry in ``tests/connectors/drivers.py`` and one ``connectors.register(SPEC)`` call to run
under the contract suite. It is built the way STYLE asks of every connector: ``_fetch_*`` does
HTTP through ``scanner.net.http`` and ``scanner.net.paging``, ``parse_*`` is pure, ``collect()``
wires them, and the constructor takes settings and a context so a test points it at 127.0.0.1.

The imaginary API: ``GET /api/v1/users`` (scope ``acme.users.read``) and ``GET /api/v1/apps``
(scope ``acme.apps.read``), each a JSON array paged by ``Link: <...>; rel="next"`` with a
``limit`` of at most 200; a bearer token; ``{"error": {"code", "message"}}`` error bodies; 403
``insufficient_scope`` for a token without the scope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from connectors.base import ConnectorContext, ConnectorSpec, Probe, transport_policy
from connectors.testing.base import FakeProvider, json_response, parse_int
from scanner.core.errors import AuthError, ConfigError, ConnectorError, ResponseShapeError
from scanner.core.models import Checkpoint, Grant, RawApp, Skipped, SourceRecord, User
from scanner.core.settings import secret
from scanner.net.http import HttpClient, HttpStatusError, new_session
from scanner.net.paging import link_pages

SOURCE = "acme-idp"
KEY = f"sources.{SOURCE}"
SCOPE_USERS = "acme.users.read"
SCOPE_APPS = "acme.apps.read"
MAX_PAGE = 200
"""The imaginary API's largest ``limit``."""

T = TypeVar("T")


@dataclass(frozen=True)
class AcmeSettings:
    """``[sources.acme-idp]``: the tenant URL and the variable holding its API token."""

    base_url: str
    token_env: str
    enabled: bool = True
    page_size: int = MAX_PAGE
    timeout: float = 30.0
    deadline_hours: float = 1.0
    max_response_mib: int = 8


# -- parsing (pure) -------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_user(raw: Mapping[str, Any]) -> User:
    return User(
        source=SOURCE,
        id=str(raw["id"]),
        email=raw.get("email") or None,
        display_name=raw.get("name") or None,
        department=raw.get("department") or None,
        enabled=raw.get("active") is not False,
    )


def parse_app(raw: Mapping[str, Any]) -> list[SourceRecord]:
    """An app, and the admin grant of its scopes when it holds any."""
    app_id = str(raw["id"])
    app = RawApp(
        source=SOURCE,
        client_id=app_id,
        name=str(raw["name"]),
        publisher=raw.get("publisher") or None,
        created=parse_time(raw.get("created")),
    )
    scopes = tuple(str(s) for s in raw.get("scopes") or ())
    if not scopes:
        return [app]
    return [app, Grant(SOURCE, app_id, None, scopes, consent_type="admin", resource="Acme")]


def _shaped(parse: Callable[[Mapping[str, Any]], T], raw: Any, what: str) -> T:
    try:
        return parse(raw)
    except KeyError as err:
        raise ResponseShapeError(
            SOURCE, f"{what} lacks the required field {err.args[0]!r}; nothing of it is stored"
        ) from None
    except (TypeError, ValueError, AttributeError) as err:
        raise ResponseShapeError(SOURCE, f"{what} is malformed ({type(err).__name__})") from None


# -- the connector --------------------------------------------------------------------------


class AcmeConnector:
    name: ClassVar[str] = SOURCE

    def __init__(self, settings: AcmeSettings, context: ConnectorContext) -> None:
        if not 1 <= settings.page_size <= MAX_PAGE:
            raise ConfigError(f"{KEY}.page_size: expected 1 to {MAX_PAGE}")
        token = secret(settings.token_env, None, f"{KEY}.token", context.config_path)
        self.settings = settings
        self.base = settings.base_url.rstrip("/")
        policy, deadline = transport_policy(SOURCE, settings, context.sleep)
        self.http = HttpClient(
            SOURCE,
            context.session or new_session(),
            policy,
            auth=lambda: {"Authorization": f"Bearer {token}"},
            origins=[self.base],
            origin_setting=f"{KEY}.base_url",
            deadline=deadline,
        )

    def _fetch(self, path: str) -> Iterator[list[Any]]:
        url = f"{self.base}{path}"
        for page in link_pages(self.http, url, params={"limit": self.settings.page_size}):
            yield page.items

    def collect(self, since: Mapping[str, str]) -> Iterator[SourceRecord]:
        yield from self._guarded("users", SCOPE_USERS, self._listing("users", _user_records))
        yield from self._guarded("apps", SCOPE_APPS, self._listing("apps", parse_app))

    def _listing(
        self, stream: str, parse: Callable[[Mapping[str, Any]], list[SourceRecord]]
    ) -> Iterator[SourceRecord]:
        for items in self._fetch(f"/api/v1/{stream}"):
            for raw in items:
                yield from _shaped(parse, raw, f"a /api/v1/{stream} item")
            yield Checkpoint(SOURCE, stream)
        yield Checkpoint(SOURCE, stream, complete=True)

    def _guarded(
        self, stream: str, scope: str, records: Iterator[SourceRecord]
    ) -> Iterator[SourceRecord]:
        try:
            yield from records
        except HttpStatusError as err:
            if err.status == 401:
                raise AuthError(
                    SOURCE,
                    f"the token in {self.settings.token_env} was rejected; create a new one",
                ) from None
            if err.status != 403:
                raise ConnectorError(SOURCE, f"{stream}: HTTP {err.status}") from None
            yield Skipped(
                SOURCE,
                stream,
                f"the token in {self.settings.token_env} lacks the scope {scope}; grant it",
                scope,
            )

    def check(self) -> Iterator[Probe]:
        for stream, scope in (("users", SCOPE_USERS), ("apps", SCOPE_APPS)):
            try:
                self.http.get_json(f"{self.base}/api/v1/{stream}", params={"limit": 1})
            except (HttpStatusError, ConnectorError) as err:
                yield Probe(SOURCE, scope, False, str(err), f"grant {scope}")
            else:
                yield Probe(SOURCE, scope, True, f"/api/v1/{stream} answered")


def _user_records(raw: Mapping[str, Any]) -> list[SourceRecord]:
    return [parse_user(raw)]


def factory(settings: AcmeSettings, context: ConnectorContext) -> AcmeConnector:
    return AcmeConnector(settings, context)


SPEC = ConnectorSpec(SOURCE, AcmeSettings, factory, "Acme IdP (a test double): users and apps")


# -- its loopback fake ----------------------------------------------------------------------


class FakeAcme(FakeProvider):
    """The imaginary API over lists of items; ``tokens`` maps a bearer token to its scopes."""

    def __init__(
        self,
        users: Iterable[dict[str, Any]] = (),
        apps: Iterable[dict[str, Any]] = (),
        tokens: Mapping[str, Iterable[str]] | None = None,
        page_size: int | None = None,
    ) -> None:
        super().__init__()
        self.users = list(users)
        self.apps = list(apps)
        self.tokens = {t: frozenset(s) for t, s in (tokens or {}).items()}
        self.page_size = page_size
        self.route("GET", "/api/v1/users", lambda r: self._list(r, self.users, SCOPE_USERS))
        self.route("GET", "/api/v1/apps", lambda r: self._list(r, self.apps, SCOPE_APPS))

    def error_body(self, status: int) -> Any:
        codes = {401: "invalid_token", 403: "insufficient_scope", 429: "rate_limited"}
        return {"error": {"code": codes.get(status, "server_error"), "message": "injected"}}

    def _list(self, request: Request, items: list[dict[str, Any]], scope: str) -> Response:
        granted = self.tokens.get(request.headers.get("Authorization", "").removeprefix("Bearer "))
        if granted is None:
            return json_response(self.error_body(401), 401)
        if scope not in granted:
            return json_response(self.error_body(403), 403)
        limit = parse_int(request.args.get("limit"), 50, 1, MAX_PAGE)
        limit = min(limit, self.page_size or limit)
        start = parse_int(request.args.get("after"), 0, 0, len(items))
        response = json_response(items[start : start + limit])
        if start + limit < len(items):
            query = urlencode({"limit": limit, "after": start + limit})
            response.headers.add("Link", f'<{request.base_url}?{query}>; rel="next"')
        return response
