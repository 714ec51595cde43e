"""A local Okta org: apps, app users, users and System Log in Okta's documented shapes.

Paging is by ``Link: <...>; rel="next"`` with an opaque ``after``
(https://developer.okta.com/docs/api/#pagination); every ``/api/v1`` answer carries
``X-Rate-Limit-Limit`` / ``-Remaining`` / ``-Reset`` from a per-family one-minute window and
the window answers 429 ``E0000047`` when it is used up
(https://developer.okta.com/docs/reference/rl2-monitor/). Credentials: ``SSWS`` API tokens, or
bearer tokens from ``POST /oauth2/v1/token`` (client credentials with a private-key JWT,
https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/). A bad token
answers 401 ``E0000011``; a token without the scope (or admin right) answers 403 ``E0000006``.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
from werkzeug.wrappers import Request, Response

from connectors.testing.base import FakeProvider, LoggedRequest, json_response, parse_int

ALL_SCOPES = frozenset({"okta.apps.read", "okta.users.read", "okta.logs.read"})

GENEROUS_LIMITS = {"/api/v1/apps": 10_000, "/api/v1/users": 10_000, "/api/v1/logs": 10_000}
"""Per-minute limits for tests and the demo: pacing never kicks in unless a test asks."""
DOCUMENTED_LIMITS = {"/api/v1/apps": 100, "/api/v1/users": 600, "/api/v1/logs": 120}
"""Workforce org defaults per minute (legacy rate-limit table, rl-global-mgmt)."""

_ERRORS = {
    400: ("E0000001", "Api validation failed"),
    401: ("E0000011", "Invalid token provided"),
    403: ("E0000006", "You do not have permission to perform the requested action"),
    404: ("E0000007", "Not found: Resource not found"),
    429: ("E0000047", "API call exceeded rate limit due to too many requests."),
    500: ("E0000009", "Internal Server Error"),
}
_FILTER_CLAUSE = re.compile(r'eventType eq "([^"]+)"')
_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def okta_error(code: str, summary: str) -> dict[str, Any]:
    return {
        "errorCode": code,
        "errorSummary": summary,
        "errorLink": code,
        "errorId": f"oae{uuid.uuid4().hex[:20]}",
        "errorCauses": [],
    }


@dataclass
class Bucket:
    """One rate-limit family: ``limit`` calls per 60 s window ending at ``reset`` (epoch)."""

    limit: int
    remaining: int
    reset: float


class FakeOkta(FakeProvider):
    """An Okta org built from plain lists of Okta-shaped dicts."""

    def __init__(
        self,
        apps: Iterable[dict[str, Any]] = (),
        app_users: Mapping[str, Iterable[dict[str, Any]]] | None = None,
        users: Iterable[dict[str, Any]] = (),
        logs: Iterable[dict[str, Any]] = (),
        api_tokens: Mapping[str, Iterable[str] | None] | None = None,
        clients: Mapping[str, Any] | None = None,
        client_scopes: Mapping[str, Iterable[str]] | None = None,
        rate_limits: Mapping[str, int] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        """``api_tokens``: token -> scopes its admin may read (None: all). ``clients``: service
        app client id -> public key (PEM or key object); ``client_scopes``: scopes granted to it.
        ``now`` is the org's clock for System Log windows (fixtures with fixed dates)."""
        super().__init__()
        self.now = now or (lambda: datetime.now(UTC))
        self.max_page: int | None = None
        """Cap every page at this many items, to get several pages from a few fixtures."""
        self.apps = list(apps)
        self.app_users = {k: list(v) for k, v in (app_users or {}).items()}
        self.users = list(users)
        self.logs = sorted(logs, key=lambda e: e["published"])
        self.api_tokens = {
            k: (ALL_SCOPES if v is None else frozenset(v))
            for k, v in (api_tokens if api_tokens is not None else {"test-token": None}).items()
        }
        self.clients = dict(clients or {})
        self.client_scopes = {k: frozenset(v) for k, v in (client_scopes or {}).items()}
        self.issued: dict[str, frozenset[str]] = {}
        self.assertions: list[dict[str, Any]] = []
        self._limits = dict(rate_limits or GENEROUS_LIMITS)
        self._buckets: dict[str, Bucket] = {}
        self._bucket_lock = threading.Lock()
        self.route("GET", "/api/v1/apps", self._list_apps)
        self.route("GET", "/api/v1/apps/<app_id>/users", self._list_app_users)
        self.route("GET", "/api/v1/users", self._list_users)
        self.route("GET", "/api/v1/logs", self._list_logs)
        self.route("POST", "/oauth2/v1/token", self._token)

    @classmethod
    def from_dir(cls, path: str | Path, **kwargs: Any) -> FakeOkta:
        """Load ``apps.json``, ``app_users.json``, ``users.json``, ``logs.json`` (JSON lists).

        An app user names its app by an ``appId`` key or by its ``_links.app.href``.
        """
        folder = Path(path)

        def load(name: str) -> list[dict[str, Any]]:
            file = folder / name
            return json.loads(file.read_text(encoding="utf-8")) if file.exists() else []

        grouped: dict[str, list[dict[str, Any]]] = {}
        for item in load("app_users.json"):
            app_id = item.get("appId") or item["_links"]["app"]["href"].rstrip("/").split("/")[-1]
            grouped.setdefault(app_id, []).append(item)
        return cls(
            apps=load("apps.json"),
            app_users=grouped,
            users=load("users.json"),
            logs=load("logs.json"),
            **kwargs,
        )

    # -- rate limits ----------------------------------------------------------------------
    def set_rate(self, prefix: str, limit: int, remaining: int | None = None) -> None:
        """Start a fresh window for ``prefix`` (e.g. ``/api/v1/apps``) with ``remaining`` left."""
        with self._bucket_lock:
            self._limits[prefix] = limit
            self._buckets[prefix] = Bucket(
                limit, limit if remaining is None else remaining, time.time() + 60
            )

    def _family(self, path: str) -> str | None:
        return next((p for p in self._limits if path.startswith(p)), None)

    def _count(self, family: str) -> tuple[Bucket, bool]:
        """Count one call; return the bucket state after it and whether it was refused."""
        now = time.time()
        with self._bucket_lock:
            bucket = self._buckets.get(family)
            if bucket is None or now >= bucket.reset:
                limit = self._limits[family]
                bucket = self._buckets[family] = Bucket(limit, limit, now + 60)
            if bucket.remaining <= 0:
                return Bucket(bucket.limit, 0, bucket.reset), True
            bucket.remaining -= 1
            return Bucket(bucket.limit, bucket.remaining, bucket.reset), False

    def dispatch(self, request: Request) -> Response:
        family = self._family(request.path)
        if family is None:
            return super().dispatch(request)
        bucket, refused = self._count(family)
        headers = {
            "X-Rate-Limit-Limit": str(bucket.limit),
            "X-Rate-Limit-Remaining": str(bucket.remaining),
            "X-Rate-Limit-Reset": str(int(bucket.reset)),
        }
        if refused:
            with self._lock:
                self.log.append(
                    LoggedRequest(request.method, request.path, dict(request.args), {}, {}, 429)
                )
                self.throttled += 1
            return json_response(self.error_body(429), 429, headers)
        response = super().dispatch(request)
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    def error_body(self, status: int) -> Any:
        code, summary = _ERRORS.get(status, ("E0000009", "Internal Server Error"))
        return okta_error(code, summary)

    # -- credentials ----------------------------------------------------------------------
    def _denied(self, request: Request, scope: str) -> Response | None:
        header = request.headers.get("Authorization", "")
        kind, _, token = header.partition(" ")
        if kind == "SSWS" and token in self.api_tokens:
            granted = self.api_tokens[token]
        elif kind == "Bearer" and token in self.issued:
            granted = self.issued[token]
        else:
            return json_response(self.error_body(401), 401)
        if scope in granted:
            return None
        headers = {}
        if kind == "Bearer":
            headers["WWW-Authenticate"] = (
                f'Bearer realm="IdpMyAccountAPI", scope="{scope}", error="insufficient_scope", '
                'error_description="The access token provided does not contain the required '
                'scopes."'
            )
        return json_response(self.error_body(403), 403, headers)

    def _token(self, request: Request) -> Response:
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "Only client_credentials here.")
        if form.get("client_assertion_type") != _ASSERTION_TYPE:
            return _oauth_error(401, "invalid_client", "client_assertion_type is required.")
        assertion = form.get("client_assertion", "")
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
            client_id = claims["iss"]
            key = self.clients[client_id]
            claims = jwt.decode(
                assertion,
                key,
                algorithms=["RS256", "ES256"],
                audience=f"{request.host_url}oauth2/v1/token",
                options={"require": ["exp", "iat", "jti", "sub"]},
            )
        except (jwt.PyJWTError, KeyError):
            return _oauth_error(401, "invalid_client", "The client_assertion is invalid.")
        if claims["sub"] != client_id:
            return _oauth_error(401, "invalid_client", "sub must equal iss.")
        self.assertions.append(claims)
        wanted = frozenset((form.get("scope") or "").split())
        refused = sorted(wanted - self.client_scopes.get(client_id, frozenset()))
        if refused or not wanted:
            return _oauth_error(
                400,
                "invalid_scope",
                f"The following scopes are not allowed: [{', '.join(refused)}]",
            )
        token = f"eyJfake.{uuid.uuid4().hex}"
        self.issued[token] = wanted
        return json_response(
            {
                "token_type": "Bearer",
                "expires_in": 3600,
                "access_token": token,
                "scope": " ".join(sorted(wanted)),
            }
        )

    # -- listings -------------------------------------------------------------------------
    def _page(
        self,
        request: Request,
        items: list[dict[str, Any]],
        default: int,
        maximum: int,
        keep: Mapping[str, str] | None = None,
        always_next: bool = False,
    ) -> Response:
        limit = parse_int(request.args.get("limit"), default, 1, maximum)
        limit = min(limit, self.max_page or limit)
        start = parse_int(request.args.get("after"), 0, 0, len(items))
        chunk = items[start : start + limit]
        base = f"{request.host_url.rstrip('/')}{request.path}"
        query = {**(keep or {}), "limit": str(limit)}
        links = [f'<{base}?{urlencode({**query, "after": str(start)})}>; rel="self"']
        if start + limit < len(items) or always_next:
            nxt = min(start + limit, len(items))
            links.append(f'<{base}?{urlencode({**query, "after": str(nxt)})}>; rel="next"')
        response = json_response(chunk)
        for link in links:
            response.headers.add("Link", link)
        return response

    def _list_apps(self, request: Request) -> Response:
        denied = self._denied(request, "okta.apps.read")
        if denied:
            return denied
        return self._page(request, self.apps, default=20, maximum=200)

    def _list_app_users(self, request: Request, app_id: str) -> Response:
        denied = self._denied(request, "okta.apps.read")
        if denied:
            return denied
        if not any(a.get("id") == app_id for a in self.apps) and app_id not in self.app_users:
            body = okta_error("E0000007", f"Not found: Resource not found: {app_id} (AppInstance)")
            return json_response(body, 404)
        return self._page(request, self.app_users.get(app_id, []), default=50, maximum=500)

    def _list_users(self, request: Request) -> Response:
        denied = self._denied(request, "okta.users.read")
        if denied:
            return denied
        listed = [u for u in self.users if u.get("status") != "DEPROVISIONED"]
        return self._page(request, listed, default=200, maximum=200)

    def _list_logs(self, request: Request) -> Response:
        """Bounded (since+until) or polling (no until) System Log queries.

        The next link carries ``since`` folded into ``after`` as ``<since-ms>_<offset>``, so it
        stays opaque like Okta's (https://developer.okta.com/docs/reference/api/system-log/).
        """
        denied = self._denied(request, "okta.logs.read")
        if denied:
            return denied
        args = request.args
        now = self.now()
        try:
            until = _parse_time(args["until"]) if args.get("until") else None
            after = args.get("after")
            if after:
                since_ms, _, offset = after.partition("_")
                since = datetime.fromtimestamp(int(since_ms) / 1000, UTC)
                start = int(offset)
            else:
                since = (
                    _parse_time(args["since"])
                    if args.get("since")
                    else (until or now) - timedelta(days=7)
                )
                start = 0
        except ValueError:
            return _invalid("Invalid since/until/after value")
        if since < now - timedelta(days=180):
            return _invalid("since must be within the last 180 days")
        wanted: set[str] | None = None
        if args.get("filter"):
            clauses = _FILTER_CLAUSE.findall(args["filter"])
            rest = _FILTER_CLAUSE.sub("", args["filter"]).replace(" or ", "").strip()
            if not clauses or rest:
                return _invalid(f"Invalid filter: {args['filter']}")
            wanted = set(clauses)
        matching = [
            e
            for e in self.logs
            if since <= _parse_time(e["published"])
            and (until is None or _parse_time(e["published"]) < until)
            and (wanted is None or e["eventType"] in wanted)
        ]
        limit = parse_int(args.get("limit"), 100, 1, 1000)
        limit = min(limit, self.max_page or limit)
        chunk = matching[start : start + limit]
        keep = {k: args[k] for k in ("until", "filter", "sortOrder") if args.get(k)}
        base = f"{request.host_url.rstrip('/')}{request.path}"
        response = json_response(chunk)
        more = start + limit < len(matching)
        if more or until is None:  # polling: the next link is always there
            token = f"{int(since.timestamp() * 1000)}_{start + len(chunk)}"
            query = urlencode({**keep, "limit": str(limit), "after": token})
            response.headers.add("Link", f'<{base}?{query}>; rel="next"')
        return response


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _invalid(summary: str) -> Response:
    return json_response(okta_error("E0000053", summary), 400)


def _oauth_error(status: int, error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, status)
