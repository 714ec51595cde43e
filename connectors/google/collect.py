"""The Google connector: ``collect()`` wires the Admin SDK streams (see ``connectors.google``).

Transport: googleapiclient's own (httplib2 through google-auth-httplib2, carried by
``transport.BoundedHttp``), one client per thread because httplib2 is not thread-safe;
``ca_bundle`` is its trust store. Every call goes through ``calls._Caller``; Directory calls are
paced under ``queries_per_minute`` (each call inside a batch counts). Besides, every request goes
through the source's shared ``scanner.net.pacing.Pacer`` (in ``transport.BoundedHttp``): after
throttling it lowers the call rate, the batches in flight and the calls per batch
(``Pacer.room``), so a limit stricter than the documented one is met by slowing down, not by
retrying (https://developers.google.com/admin-sdk/directory/v1/limits).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urljoin

import google_auth_httplib2
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from connectors.base import ConnectorContext, Probe, transport_policy
from connectors.google.auth import build_credentials, load_key
from connectors.google.calls import (
    _Caller,
    _error_message,
    _is_retriable,
    _retry_hint,
    _RetryLater,
)
from connectors.google.logs import open_bigquery
from connectors.google.parse import (
    TOKEN_AUTHORIZE,
    TOKEN_REVOKE,
    _Event,
    _iso,
    _page_body,
    _parse_activity,
    _parse_time,
    _parse_token,
    _parse_user,
    _shape,
    _signin,
    _token_event_app,
    _token_event_records,
)
from connectors.google.settings import (
    SCOPE_REPORTS,
    SCOPE_TOKENS,
    SCOPE_USERS,
    SOURCE,
    GoogleSettings,
    _validate,
    delegation_help,
)
from connectors.google.transport import BoundedHttp, FastJsonModel
from connectors.streams import StatusTable, guarded, status_error
from scanner.core.errors import AuthError, ConnectorError, PermissionMissing, RetryableError
from scanner.core.models import (
    FROM_EVENTS,
    Checkpoint,
    RawApp,
    Removed,
    SourceRecord,
    SourceWarning,
    User,
)
from scanner.net.http import HttpClient, RateLimiter, RetryPolicy, new_session
from scanner.net.pacing import Pacer, clock_for
from scanner.net.paging import token_pages

USERS_PAGE = 500
"""users.list ``maxResults``: default 100, at most 500 (Directory discovery document)."""
ACTIVITIES_PAGE = 1000
"""activities.list ``maxResults``: default and maximum 1000 (Reports discovery document)."""

CURSOR_SWEEP = "tokens_sweep"
CURSOR_EVENTS = {"token": "token_events", "login": "login_events", "saml": "saml_events"}

GIVE_UP = (PermissionMissing, RetryableError)
"""What ends a stream Skipped: a missing scope, or throttling that outlasted the retries. The
source ends partial; nothing of the stream is marked gone."""

HTTP_ERRORS: StatusTable = {
    401: (AuthError, "Google refused the token to {action} ({detail}). {delegation}."),
    403: (
        PermissionMissing,
        "{admin} may not {action} ({detail}). Make sure this admin has the Users (read) and "
        "Reports admin privileges, and that the delegation entry of client ID {client_id} "
        "lists {permission}.",
    ),
    None: (ConnectorError, "cannot {action}: {detail}"),
}
"""What a Google error status becomes (429, 5xx and quota 403s are retried before)."""


class GoogleConnector:
    """Reads a Google Workspace account; ``connectors.google`` describes the streams."""

    name: ClassVar[str] = SOURCE

    def __init__(
        self,
        settings: GoogleSettings,
        context: ConnectorContext,
        policy: RetryPolicy | None = None,
    ) -> None:
        _validate(settings, context.config_path)
        self.settings = settings
        self.context = context
        setting = "sources.google.key_env" if settings.key_env else "sources.google.key_file"
        info = load_key(settings, context.config_path)
        self.client_id = str(info["client_id"])
        self.credentials = build_credentials(info, settings, setting)
        clock = clock_for(context.sleep)
        self.policy, deadline = transport_policy(SOURCE, settings, clock.sleep)
        self.policy = policy or self.policy
        self.pacer = Pacer(SOURCE, clock)
        self.transport = HttpClient(
            SOURCE,
            context.session or new_session(self._ca_bundle()),
            self.policy,
            origins=[settings.api_root, settings.token_uri],
            origin_setting="api_root or token_uri",
            deadline=deadline,
            pacer=self.pacer,
        )
        self.caller = _Caller(self.policy, self.client_id)
        self.bigquery = open_bigquery(settings, info, context)
        # Directory calls (each call inside a batch counts) share one minute window.
        self.pace = RateLimiter(
            settings.queries_per_minute, 60.0, clock=clock.now, sleep=clock.sleep
        )
        self.api_root = (
            settings.api_root if settings.api_root.endswith("/") else (settings.api_root + "/")
        )
        self._local = threading.local()
        self._now = context.now.astimezone(UTC)
        self._seen_apps: set[str] = set()
        """Client IDs whose RawApp this scan already yielded (one per app, not per user)."""
        self._sweeping = False
        """This scan's token sweep is still running (a stream it could not read stops it)."""
        self._unlisted: set[tuple[str, str]] = set()
        """(user id, client ID) authorised in this scan's look-back window and not (yet) found
        by the token sweep; only the first window's events fill it."""

    # -- transport ------------------------------------------------------------------------
    def _http(self) -> google_auth_httplib2.AuthorizedHttp:
        return google_auth_httplib2.AuthorizedHttp(
            self.credentials, http=BoundedHttp(self.transport)
        )

    def _ca_bundle(self) -> str | None:
        if not self.settings.ca_bundle:
            return None
        return str(self.context.resolve_path(self.settings.ca_bundle))

    def _service(self, api: str) -> Any:
        """This thread's client for ``directory_v1`` or ``reports_v1`` (httplib2 is not
        thread-safe, so each thread builds its own from the packaged discovery document)."""
        services: dict[str, Any] = self._local.__dict__.setdefault("services", {})
        if api not in services:
            services[api] = build(
                "admin",
                api,
                http=self._http(),
                static_discovery=True,
                cache_discovery=False,
                model=FastJsonModel(),
                client_options={"api_endpoint": self.api_root},
            )
        return services[api]

    def _batch_uri(self, directory: Any) -> str:
        # new_batch_http_request() joins the discovery rootUrl, ignoring api_endpoint; build the
        # URI from our root and the documented batchPath instead.
        return urljoin(self.api_root, str(directory._rootDesc.get("batchPath", "batch")))

    def authorize(self) -> None:
        """Get the first token now, so a delegation problem stops the scan before any listing."""
        request = google_auth_httplib2.Request(BoundedHttp(self.transport))
        self.caller.run("the token request", lambda: self.credentials.refresh(request))

    # -- collect --------------------------------------------------------------------------
    def collect(self, since: Mapping[str, str]) -> Iterator[SourceRecord]:
        self._seen_apps = set()
        self._unlisted = set()
        self.authorize()
        sweep = self._sweep_due(since)
        first_window = self.context.full or CURSOR_EVENTS["token"] not in since
        if first_window:
            # With no token watermark yet (the first scan, --full) the sweep alone would miss
            # every app authorised and revoked within the look-back window: read the window's
            # token events too, before the sweep, so the token listing has the last word.
            yield from self._token_events(since, first_window=True)
        swept = yield from self._users(sweep)
        if first_window and swept:
            yield from self._unlisted_grants()
        if not sweep:
            yield from self._token_events(since)
        # A sweep marks apps not seen as gone; SAML apps are only seen through sign-ins, so a
        # sweep scan re-reads the whole lookback of SAML events to keep the ones in use.
        if self.bigquery is not None:  # counted in the export (connectors.google.bigquery)
            yield from self.bigquery.collect(since.get("bigquery_events"), full=swept)
            return
        yield from self._signin_events("login", since, full_window=False)
        yield from self._signin_events("saml", since, full_window=swept)

    def _sweep_due(self, since: Mapping[str, str]) -> bool:
        last = since.get(CURSOR_SWEEP)
        if self.context.full or not last or CURSOR_EVENTS["token"] not in since:
            return True
        try:
            previous = _parse_time(last)
        except ValueError:
            return True
        return self._now - previous >= timedelta(days=self.settings.full_sweep_days)

    def _users(self, sweep: bool) -> Generator[SourceRecord, None, bool]:
        """Users page by page; on a sweep, each page's tokens before its checkpoint.

        Returns whether the token sweep completed."""
        self._sweeping = sweep
        with ThreadPoolExecutor(max_workers=self.settings.concurrency) as pool:
            listing = self._user_listing(pool)
            if not (yield from guarded(SOURCE, "users", listing, give_up=GIVE_UP)):
                return False
        yield Checkpoint(SOURCE, "users", complete=True)
        if not self._sweeping:
            return False
        stamp = _iso(self._now)
        yield Checkpoint(SOURCE, "grants", complete=True)
        yield Checkpoint(SOURCE, "apps", complete=True)
        yield Checkpoint(SOURCE, CURSOR_EVENTS["token"], cursor=stamp)
        yield Checkpoint(SOURCE, CURSOR_SWEEP, cursor=stamp)
        return True

    def _user_listing(self, pool: ThreadPoolExecutor) -> Iterator[SourceRecord]:
        for users in self._user_pages():
            yield from users
            if self._sweeping:
                self._sweeping = yield from self._sweep_tokens(users, pool)
            yield Checkpoint(SOURCE, "users")

    def _user_pages(self) -> Iterator[list[User]]:
        directory = self._service("directory_v1")

        def fetch(token: str | None) -> Mapping[str, Any]:
            request = directory.users().list(
                customer=self.settings.customer, maxResults=USERS_PAGE, pageToken=token
            )
            try:
                body = self.caller.execute("users.list", request, self.pace)
            except HttpError as err:
                raise self._http_error(err, "users", "list users", SCOPE_USERS) from None
            return _page_body(body, "users.list")

        for page in token_pages(SOURCE, fetch, "users"):
            yield [_shape(_parse_user, "users.list", raw) for raw in page.items]

    # -- tokens ---------------------------------------------------------------------------
    def _sweep_tokens(
        self, users: list[User], pool: ThreadPoolExecutor
    ) -> Generator[SourceRecord, None, bool]:
        """RawApps and Grants of ``users``; returns False if the sweep had to stop."""
        tokens = self._users_tokens(users, pool)
        return (yield from guarded(SOURCE, "grants", tokens, give_up=GIVE_UP))

    def _users_tokens(self, users: list[User], pool: ThreadPoolExecutor) -> Iterator[SourceRecord]:
        size = self.settings.batch_size
        chunks = [users[i : i + size] for i in range(0, len(users), size)]
        futures: list[Future[list[tuple[User, list[Any] | None]]]] = [
            pool.submit(self._tokens_batch, chunk) for chunk in chunks
        ]
        try:
            for future in futures:
                for user, tokens in future.result():
                    yield from self._token_records(user, tokens)
        except GIVE_UP:
            for pending in futures:  # the sweep stops here: no batch left running behind it
                pending.cancel()
            raise

    def _token_records(self, user: User, tokens: list[Any] | None) -> Iterator[SourceRecord]:
        if tokens is None:
            yield SourceWarning(
                SOURCE,
                "grants",
                f"tokens of {user.email or user.id} could not be read: the user no longer "
                "exists (deleted during the scan)",
            )
            return
        for raw in tokens:
            app, grant = _shape(lambda r: _parse_token(r, user), "tokens.list", raw)
            self._unlisted.discard((user.id, app.client_id))
            if app.client_id not in self._seen_apps:
                self._seen_apps.add(app.client_id)
                yield app
            yield grant

    def _tokens_batch(self, users: list[User]) -> list[tuple[User, list[Any] | None]]:
        """tokens.list of each user in Directory batch requests; retries what was throttled.

        A batch carries as many calls as the pacer has room for (``Pacer.room``: a slow start,
        fewer once throttled). None for a user means 404 (deleted since the users page was
        read)."""
        directory = self._service("directory_v1")
        batch_uri = self._batch_uri(directory)
        pending = {str(i): user for i, user in enumerate(users)}
        results: dict[str, list[Any] | None] = {}

        while pending:
            batch = dict(itertools.islice(pending.items(), self.pacer.room(len(pending))))

            def attempt(batch: dict[str, User] = batch) -> None:
                # A retry after a throttle carries only what the pacer has room for now; the
                # rest goes back to ``pending`` for the next batch.
                sent = dict(itertools.islice(batch.items(), self.pacer.room(len(batch))))
                outcomes = self._send_batch(directory, batch_uri, sent)
                self._settle(batch, list(sent), outcomes, results)

            # Each batch has its own attempts: a call is tried at most ``policy.attempts`` times,
            # and every batch settles at least one call, so the loop ends.
            self.caller.run(f"tokens.list batch of {len(batch)} users", attempt)
            for request_id in [rid for rid in pending if rid in results]:
                del pending[request_id]
        return [(users[int(rid)], results[rid]) for rid in sorted(results, key=int)]

    def _send_batch(
        self, directory: Any, batch_uri: str, sent: Mapping[str, User]
    ) -> dict[str, tuple[Any, HttpError | None]]:
        """One Directory batch of tokens.list calls; each call's (body, error) by request id."""
        outcomes: dict[str, tuple[Any, HttpError | None]] = {}
        batch = BatchHttpRequest(batch_uri=batch_uri)
        for request_id, user in sent.items():
            self.pace.acquire()
            batch.add(
                directory.tokens().list(userKey=user.id),
                callback=lambda rid, resp, exc: outcomes.__setitem__(rid, (resp, exc)),
                request_id=request_id,
            )
        try:
            batch.execute()
        except HttpError as err:
            if _is_retriable(err):
                raise _RetryLater(_error_message(err), _retry_hint(err)) from None
            raise self._http_error(err, "grants", "read tokens", SCOPE_TOKENS) from None
        return outcomes

    def _settle(
        self,
        pending: dict[str, User],
        sent: list[str],
        outcomes: Mapping[str, tuple[Any, HttpError | None]],
        results: dict[str, list[Any] | None],
    ) -> None:
        """Record the answers of one batch (the ``sent`` ids); leave throttled calls in
        ``pending``."""
        waits: list[float] = []
        problem = ""
        throttled = 0
        for request_id in sent:
            body, error = outcomes.get(request_id, (None, None))
            if error is None:
                items = _page_body(body, "tokens.list").get("items")
                results[request_id] = list(items or [])
            elif int(error.resp.status) == 404:
                results[request_id] = None
            elif _is_retriable(error):
                problem = _error_message(error)
                throttled += 1
                hint = _retry_hint(error)
                if hint is not None:
                    waits.append(hint)
                continue
            else:
                raise self._http_error(error, "grants", "read tokens", SCOPE_TOKENS)
            del pending[request_id]
        if throttled:
            raise _RetryLater(
                f"{throttled} calls of the batch throttled ({problem})",
                max(waits) if waits else None,
            )

    # -- audit events ---------------------------------------------------------------------
    def _activities(
        self, application: str, start: datetime, event_name: str | None = None
    ) -> Iterator[list[_Event]]:
        reports = self._service("reports_v1")
        what = f"activities.list {application}"

        def fetch(token: str | None) -> Mapping[str, Any]:
            request = reports.activities().list(
                userKey="all",
                applicationName=application,
                startTime=_iso(start),
                endTime=_iso(self._now),
                eventName=event_name,
                maxResults=ACTIVITIES_PAGE,
                pageToken=token,
            )
            try:
                body = self.caller.execute(what, request)
            except HttpError as err:
                stream = CURSOR_EVENTS[application]
                raise self._http_error(
                    err, stream, f"read the {application} audit log", SCOPE_REPORTS
                ) from None
            return _page_body(body, what)

        for page in token_pages(SOURCE, fetch, "items"):
            events: list[_Event] = []
            for raw in page.items:
                events.extend(_shape(lambda r: list(_parse_activity(r)), what, raw))
            yield events

    def _window_start(self, application: str, since: Mapping[str, str], full: bool) -> datetime:
        earliest = self._now - timedelta(days=self.settings.lookback_days)
        cursor = since.get(CURSOR_EVENTS[application])
        if full or not cursor:
            return earliest
        try:
            start = _parse_time(cursor) - timedelta(minutes=self.settings.overlap_minutes)
        except ValueError:
            return earliest
        return min(start, self._now - timedelta(minutes=1))

    def _token_events(
        self, since: Mapping[str, str], first_window: bool = False
    ) -> Iterator[SourceRecord]:
        """Grant changes since the watermark; only the newest event per (user, app) counts,
        whatever order the pages come in, and an event seen twice counts once.

        ``first_window``: read the whole look-back window (no watermark yet), name the app of
        every event, a revoke too, and remember the grants authorised in it for the sweep to
        confirm (``_unlisted_grants``)."""
        stream = CURSOR_EVENTS["token"]
        start = self._window_start("token", since, full=first_window)
        seen: set[str] = set()
        newest: dict[tuple[str, str], datetime] = {}
        named: set[str] | None = set() if first_window else None

        def pages() -> Iterator[SourceRecord]:
            for event_name in (TOKEN_AUTHORIZE, TOKEN_REVOKE):
                for events in self._activities("token", start, event_name):
                    yield from self._newest_token_records(events, seen, newest, named)
                    yield Checkpoint(SOURCE, stream)

        yield from self._watermarked(stream, pages())

    def _unlisted_grants(self) -> Iterator[SourceRecord]:
        """After a complete sweep: a grant the window's events authorised that no token holds
        any more was revoked (or expired) since, its revoke event perhaps not yet in the log."""
        for user_id, client_id in sorted(self._unlisted):
            yield Removed(SOURCE, "grant", client_id=client_id, user_id=user_id, at=self._now)
        self._unlisted = set()

    def _newest_token_records(
        self,
        events: Iterable[_Event],
        seen: set[str],
        newest: dict[tuple[str, str], datetime],
        named: set[str] | None = None,
    ) -> Iterator[SourceRecord]:
        """``named``: the first window's client IDs whose app was yielded (None: a later scan)."""
        page_newest: dict[tuple[str, str], _Event] = {}
        for event in events:
            client_id = event.params.get("client_id")
            if event.name not in (TOKEN_AUTHORIZE, TOKEN_REVOKE) or event.event_id in seen:
                continue
            seen.add(event.event_id)
            if not client_id or not event.actor_id:
                continue
            key = (event.actor_id, str(client_id))
            if key in newest and newest[key] >= event.at:
                continue
            if key not in page_newest or page_newest[key].at < event.at:
                page_newest[key] = event
        for key, event in page_newest.items():
            newest[key] = event.at
            if named is not None:
                yield from self._first_window_event(key, event, named)
            yield from _token_event_records(event)

    def _first_window_event(
        self, key: tuple[str, str], event: _Event, named: set[str]
    ) -> Iterator[RawApp]:
        """Note what a first-window event says before its records go out: an authorisation
        for the sweep to confirm, or a revoke; a revoke names its app (once) when no
        authorisation in the window did, as the authorisation may predate the window while
        the app was still in use inside it."""
        if event.name == TOKEN_AUTHORIZE:
            self._unlisted.add(key)
            named.add(key[1])
            return
        self._unlisted.discard(key)
        if key[1] not in named:
            app = _token_event_app(event)
            if app is not None:
                named.add(key[1])
                yield app

    def _signin_events(
        self, application: str, since: Mapping[str, str], full_window: bool
    ) -> Iterator[SourceRecord]:
        stream = CURSOR_EVENTS[application]
        start = self._window_start(application, since, full_window)
        saml_apps: set[str] = set()

        def pages() -> Iterator[SourceRecord]:
            for events in self._activities(application, start):
                for signin in filter(None, (_signin(application, e) for e in events)):
                    if application == "saml" and signin.client_id not in saml_apps:
                        saml_apps.add(signin.client_id)
                        yield RawApp(
                            SOURCE,
                            signin.client_id,
                            signin.app_name or "",
                            kind="saml",
                            tags=(FROM_EVENTS,),
                        )
                    yield signin
                yield Checkpoint(SOURCE, stream, late_minutes=self.settings.overlap_minutes)

        yield from self._watermarked(stream, pages())

    def _watermarked(self, stream: str, records: Iterator[SourceRecord]) -> Iterator[SourceRecord]:
        """An audit log listing: Skipped if it cannot finish (its watermark stays where it was),
        else the watermark advances to the end of the window after the last page."""
        if (yield from guarded(SOURCE, stream, records, give_up=GIVE_UP)):
            yield Checkpoint(SOURCE, stream, cursor=_iso(self._now))

    # -- errors ---------------------------------------------------------------------------
    def _http_error(self, err: HttpError, stream: str, action: str, scope: str) -> ConnectorError:
        return status_error(
            SOURCE,
            int(err.resp.status),
            HTTP_ERRORS,
            stream=stream,
            permission=scope,
            action=action,
            detail=_error_message(err),
            delegation=delegation_help(self.client_id),
            admin=self.settings.admin_email,
            client_id=self.client_id,
        )

    # -- doctor ---------------------------------------------------------------------------
    def check(self) -> Iterator[Probe]:
        try:
            self.authorize()
        except (AuthError, RetryableError) as err:
            yield Probe(SOURCE, "token", False, str(err), delegation_help(self.client_id))
            return
        yield Probe(SOURCE, "token", True, f"acting as {self.settings.admin_email}")
        directory = self._service("directory_v1")
        reports = self._service("reports_v1")
        probes = (
            (
                "users (admin.directory.user.readonly)",
                "users.list",
                directory.users().list(customer=self.settings.customer, maxResults=1),
                SCOPE_USERS,
            ),
            (
                "tokens (admin.directory.user.security)",
                "tokens.list",
                directory.tokens().list(userKey=self.settings.admin_email),
                SCOPE_TOKENS,
            ),
            (
                "audit log (admin.reports.audit.readonly)",
                "activities.list",
                reports.activities().list(userKey="all", applicationName="token", maxResults=1),
                SCOPE_REPORTS,
            ),
        )
        for label, what, request, scope in probes:
            try:
                self.caller.execute(what, request)
            except HttpError as err:
                problem = self._http_error(err, label, what, scope)
                yield Probe(SOURCE, label, False, str(problem), delegation_help(self.client_id))
            except ConnectorError as err:
                yield Probe(SOURCE, label, False, str(err))
            else:
                yield Probe(SOURCE, label, True, f"{what} answered")
        if self.bigquery is not None:
            yield from self.bigquery.probes()
