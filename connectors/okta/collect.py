"""The Okta connector: ``collect()`` wires the streams (see ``connectors.okta``).

Paging follows ``Link: <...>; rel="next"`` (https://developer.okta.com/docs/api/#pagination).
Every request goes through one ``scanner.net.pacing.Pacer`` for the org, shared by the token
client and the parallel app-user listings: when the remaining share of an endpoint family's
rate limit falls under ``slowdown_remaining`` the next request to it waits for the reset
(``pacing.ResetPacer``); a 429 (``E0000047``) waits until the reset, and a second one lowers the
request rate and the number of listings in flight (https://developer.okta.com/docs/reference/rl2-monitor/,
https://developer.okta.com/docs/reference/rl2-concurrency/).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import requests

from connectors.base import ConnectorContext, Probe, transport_policy
from connectors.okta.auth import ServiceAppAuth, TokenAuth, build_auth
from connectors.okta.pacing import ResetPacer, pace_group
from connectors.okta.parse import (
    LOG_FILTER,
    _parse_event,
    _parsed,
    format_time,
    parse_app,
    parse_app_user,
    parse_time,
    parse_user,
)
from connectors.okta.pump import parallel
from connectors.okta.settings import (
    LOG_RETENTION_DAYS,
    SOURCE,
    OktaSettings,
    _org_url,
    _replace_org,
)
from connectors.streams import StatusTable, guarded, status_error
from scanner.core.errors import AuthError, ConnectorError, PermissionMissing
from scanner.core.models import Checkpoint, SourceRecord, SourceWarning
from scanner.core.names import one_line
from scanner.net.http import HttpClient, HttpStatusError, new_session
from scanner.net.pacing import Pacer, clock_for
from scanner.net.paging import link_pages

log = logging.getLogger(__name__)

# Page sizes: the documented maximum of each list call
# (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/Application/,
# .../tag/ApplicationUsers/, .../tag/User/, .../tag/SystemLog/).
APPS_PAGE = 200
APP_USERS_PAGE = 500
USERS_PAGE = 200
LOGS_PAGE = 1000

# Error codes (https://developer.okta.com/docs/reference/error-codes/).
INVALID_CREDENTIAL_CODE = "E0000011"
NO_PERMISSION_CODE = "E0000006"
NO_SUMMARY = {
    401: f"{INVALID_CREDENTIAL_CODE} Invalid token provided",
    403: f"{NO_PERMISSION_CODE} no permission",
}
"""What an error without an Okta body stands for."""

HTTP_ERRORS: StatusTable = {
    401: (AuthError, "{credential} was rejected by {org} ({summary}); {fix}"),
    403: (PermissionMissing, "{stream} not readable: {hint} ({summary})"),
    None: (ConnectorError, "{error} ({summary})"),
}
"""What an Okta error status becomes (429 and 5xx are retried before; 404 is ``_NotFound``)."""


class OktaConnector:
    """Reads one Okta org; ``settings.org_url`` may point at a local fake for tests."""

    name: ClassVar[str] = SOURCE

    def __init__(
        self,
        settings: OktaSettings,
        context: ConnectorContext,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.context = context
        self.org_url = _org_url(settings, context)
        pace_clock = clock_for(context.sleep)
        ca_bundle = str(context.resolve_path(settings.ca_bundle)) if settings.ca_bundle else None
        session = context.session or new_session(ca_bundle, pool=max(16, settings.concurrency))
        policy, deadline = transport_policy(SOURCE, settings, pace_clock.sleep)
        self.pacer = Pacer(SOURCE, pace_clock, max_hold=ResetPacer.MAX_WAIT)
        self.reset_pacer = ResetPacer(self.pacer, settings.slowdown_remaining, clock=clock)
        token_client = HttpClient(
            SOURCE,
            session,
            policy,
            origins=[self.org_url],
            origin_setting="org_url",
            pacer=self.pacer,
        )
        self.auth = build_auth(_replace_org(settings, self.org_url), context, token_client)
        self.http = HttpClient(
            SOURCE,
            session,
            policy,
            auth=self.auth.headers,
            after_response=self._observe,
            origins=[self.org_url],
            origin_setting="org_url",
            deadline=deadline,
            pacer=self.pacer,
        )

    def _observe(self, response: requests.Response) -> None:
        group = pace_group(response.url)
        if group and response.ok:
            self.reset_pacer.observe(group, response.headers)

    # -- fetch ----------------------------------------------------------------------------
    def _pages(self, path: str, params: Mapping[str, Any]) -> Iterator[list[Any]]:
        url = f"{self.org_url}{path}"
        for page in link_pages(self.http, url, params=params, pace=pace_group(url)):
            yield page.items

    def _fetch_users(self) -> Iterator[list[Any]]:
        return self._pages("/api/v1/users", {"limit": USERS_PAGE})

    def _fetch_apps(self) -> Iterator[list[Any]]:
        return self._pages("/api/v1/apps", {"limit": APPS_PAGE})

    def _fetch_app_users(self, app_id: str) -> Iterator[list[Any]]:
        return self._pages(f"/api/v1/apps/{app_id}/users", {"limit": APP_USERS_PAGE})

    def _fetch_logs(self, since: datetime, until: datetime) -> Iterator[list[Any]]:
        # Bounded mode (since + until): ordered by `published`, the last page has no next link.
        return self._pages(
            "/api/v1/logs",
            {
                "since": format_time(since),
                "until": format_time(until),
                "filter": LOG_FILTER,
                "sortOrder": "ASCENDING",
                "limit": LOGS_PAGE,
            },
        )

    # -- collect --------------------------------------------------------------------------
    def collect(self, since: Mapping[str, str]) -> Iterator[SourceRecord]:
        cursors = {} if self.context.full else dict(since)
        # A missing scope makes its stream Skipped and the other streams go on.
        yield from guarded(SOURCE, "users", self._collect_users())
        yield from guarded(SOURCE, "apps", self._collect_apps(), also=("grants",))
        yield from guarded(SOURCE, "signins", self._collect_logs(cursors.get("signins")))

    def _collect_users(self) -> Iterator[SourceRecord]:
        with self._translated("users", "okta.users.read"):
            for items in self._fetch_users():
                for raw in items:
                    yield _parsed(parse_user, raw, what="a /api/v1/users item")
                yield Checkpoint(SOURCE, "users")
        yield Checkpoint(SOURCE, "users", complete=True)

    def _collect_apps(self) -> Iterator[SourceRecord]:
        grants_denied = False
        with self._translated("apps", "okta.apps.read"):
            for items in self._fetch_apps():
                apps = [_parsed(parse_app, raw, what="a /api/v1/apps item") for raw in items]
                yield from apps
                yield Checkpoint(SOURCE, "apps")
                if grants_denied:
                    continue
                # Apps stay readable; only the assignments are skipped, once.
                assignments = self._collect_app_users([a.client_id for a in apps])
                grants_denied = not (yield from guarded(SOURCE, "grants", assignments))
        yield Checkpoint(SOURCE, "apps", complete=True)

    def _collect_app_users(self, app_ids: list[str]) -> Iterator[SourceRecord]:
        """Assigned users of a page of apps, ``concurrency`` listings at a time."""
        producers = [self._app_user_pages(app_id) for app_id in app_ids]
        for records in parallel(producers, self.settings.concurrency):
            yield from records
            yield Checkpoint(SOURCE, "grants")

    def _app_user_pages(self, app_id: str) -> Callable[[], Iterator[list[SourceRecord]]]:
        def produce() -> Iterator[list[SourceRecord]]:
            try:
                with self._translated("grants", "okta.apps.read"):
                    for items in self._fetch_app_users(app_id):
                        yield [
                            _parsed(parse_app_user, app_id, raw, what="an app user")
                            for raw in items
                        ]
            except _NotFound:
                # The app was deleted between the listing and this call.
                yield [SourceWarning(SOURCE, "grants", f"app {app_id} vanished during the scan")]

        return produce

    def _collect_logs(self, watermark: str | None) -> Iterator[SourceRecord]:
        until = self.context.now.astimezone(UTC)
        oldest = until - timedelta(days=LOG_RETENTION_DAYS)
        start = until - timedelta(days=self.settings.lookback_days)
        if watermark:
            try:
                start = parse_time(watermark) or start
            except ValueError:
                log.warning(
                    "okta: ignoring an unreadable System Log cursor %s", one_line(repr(watermark))
                )
        start = max(start, oldest)
        unnamed = 0
        with self._translated("signins", "okta.logs.read"):
            for items in self._fetch_logs(start, until):
                for raw in items:
                    record = _parsed(_parse_event, raw, what="a System Log event")
                    if record is None:
                        unnamed += 1
                    else:
                        yield record
                yield Checkpoint(SOURCE, "signins")
        if unnamed:
            yield SourceWarning(
                SOURCE,
                "signins",
                f"{unnamed} System Log events named no app or failed; they were not counted",
            )
        yield Checkpoint(SOURCE, "signins", cursor=format_time(until))

    # -- errors ---------------------------------------------------------------------------
    @contextmanager
    def _translated(self, stream: str, scope: str) -> Iterator[None]:
        """HttpStatusError inside the block -> our error for this stream."""
        try:
            yield
        except HttpStatusError as err:
            raise self.failure(err, stream, scope) from None

    def failure(self, err: HttpStatusError, stream: str, scope: str) -> Exception:
        """Our error for an HTTP error status of ``stream`` (which needs ``scope``)."""
        if err.status == 404:
            return _NotFound(str(err))
        return status_error(
            SOURCE,
            err.status,
            HTTP_ERRORS,
            stream=stream,
            permission=scope,
            summary=_error_summary(err) or NO_SUMMARY.get(err.status, "no details"),
            credential=self.auth.describe(),
            org=self.org_url,
            fix=self._credential_fix(),
            hint=self._grant_hint(scope),
            error=err,
        )

    def _credential_fix(self) -> str:
        if isinstance(self.auth, TokenAuth):
            return (
                f"create a new API token (Security > API > Tokens) and put it in {self.auth.origin}"
            )
        return "check the service app's scopes and admin role"

    def _grant_hint(self, scope: str) -> str:
        if isinstance(self.auth, ServiceAppAuth):
            return (
                f"grant {scope} to service app {self.auth.client_id} and add it to "
                "sources.okta.scopes"
            )
        return (
            f"the admin who created the API token lacks {scope} rights; use a token of a "
            "read-only admin (or an OAuth service app with that scope)"
        )

    # -- doctor ---------------------------------------------------------------------------
    def check(self) -> Iterator[Probe]:
        probes = (
            ("okta.users.read", "/api/v1/users", {"limit": 1}),
            ("okta.apps.read", "/api/v1/apps", {"limit": 1}),
            (
                "okta.logs.read",
                "/api/v1/logs",
                {"limit": 1, "since": format_time(self.context.now - timedelta(hours=1))},
            ),
        )
        for scope, path, params in probes:
            try:
                self.http.get_json(f"{self.org_url}{path}", params=params)
            except HttpStatusError as err:
                failure = self.failure(err, path, scope)
                yield Probe(SOURCE, scope, False, str(failure), fix=self._grant_hint(scope))
                if isinstance(failure, AuthError):
                    return
            except AuthError as err:
                yield Probe(SOURCE, "credentials", False, str(err))
                return
            else:
                yield Probe(SOURCE, scope, True, f"GET {path} answered")


class _NotFound(Exception):
    """An item vanished mid-scan (HTTP 404)."""


def _error_summary(err: HttpStatusError) -> str | None:
    """``E0000011 Invalid token provided`` from an Okta error body."""
    body = err.body if isinstance(err.body, dict) else {}
    code, summary = body.get("errorCode"), body.get("errorSummary")
    text = " ".join(str(p) for p in (code, summary) if p)
    return text or None
