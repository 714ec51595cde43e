"""The Entra connector: ``collect()`` wires the Graph streams (see ``connectors.entra``).
Users, consents, apps and grants are read in that order (each needs what the earlier learnt);
the paced listings (sign-ins from Graph or ``logs``, per-app sign-in activity) run on a
background thread meanwhile (``pump``) and are yielded last, the sign-in watermark last."""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from connectors.base import ConnectorContext, Probe, transport_policy
from connectors.entra.auth import _Credential, _read_credential, _Tokens
from connectors.entra.grants import GrantReader
from connectors.entra.graph import (
    ACTIVITY_PAGE,
    APPLICATION_READ,
    AUDIT_READ,
    CONSENT_ACTIVITY,
    DIRECTORY_PAGE,
    DIRECTORY_READ,
    GRANT_ACTIVITIES,
    SIGNIN_PAGE,
    SP_FIELDS,
    SP_INDEX_FIELDS,
    USER_FIELDS,
    USER_READ,
    _expired_delta,
    _graph_error,
)
from connectors.entra.index import _Consents, _SpIndex
from connectors.entra.logs import open_log_analytics
from connectors.entra.parse import (
    _require,
    graph_time,
    parse_app,
    parse_consent,
    parse_grant_change,
    parse_signin,
    parse_sp_activity,
    parse_time,
    parse_user,
)
from connectors.entra.pump import _Background, _Cancelled
from connectors.entra.settings import SOURCE, EntraSettings
from connectors.streams import StatusTable, guarded, status_error
from scanner.core.errors import AuthError, ConnectorError, ResponseShapeError
from scanner.core.models import Checkpoint, Removed, Skipped, SourceRecord, SourceWarning
from scanner.net.http import HttpClient, HttpStatusError, RateLimiter, new_session
from scanner.net.pacing import PaceClock, Pacer, clock_for
from scanner.net.paging import Page, odata_pages

QUEUED_PAGES = 32
"""Sign-in pages (1,000 sign-ins, ~0.5 MB each) read ahead while the directory streams run:
with 4 the reader stalls and barely overlaps the report budget; 32 bounds it to ~16 MB."""
NO_PREMIUM_LICENCE = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
"""The 403 code of sign-in logs in a tenant without Microsoft Entra ID P1 or P2 (message
"Neither tenant is B2C or tenant doesn't have premium license": Microsoft's "Common errors" of
https://learn.microsoft.com/en-us/entra/identity/monitoring-health/howto-configure-prerequisites-for-reporting-api;
the code itself: https://github.com/MicrosoftDocs/azure-docs/pull/77948 and
https://github.com/microsoftgraph/msgraph-sdk-dotnet/issues/1006)."""
NO_LICENCE_STREAM = "no Microsoft Entra ID P1 or P2 licence: sign-ins not available"
"""How a stream the licence stops is recorded (Skipped: the source ends partial)."""

HTTP_ERRORS: StatusTable = {
    401: (
        AuthError,
        "Graph rejected the access token for app {client_id} ({code_or_status}: {message}). "
        "Check that graph_url ({graph_url}) belongs to the same cloud as authority_host",
    ),
    None: (
        ConnectorError,
        "{stream}: Graph answered HTTP {status} ({code}: {message}) for {where}",
    ),
}
"""What a Graph status that ends a stream becomes (a 403 becomes Skipped, see ``_translate``)."""


class EntraConnector:
    """Collects one Entra tenant through Microsoft Graph (see ``connectors.entra``)."""

    name: ClassVar[str] = SOURCE

    def __init__(
        self,
        settings: EntraSettings,
        ctx: ConnectorContext,
        credential: _Credential | None = None,
    ) -> None:
        self.settings = settings
        self.ctx = ctx
        credential = credential or _read_credential(settings, ctx)
        session = ctx.session or new_session(settings.ca_bundle)
        base = clock_for(ctx.sleep)
        self._base_sleep = base.sleep
        self._real_sleep = ctx.sleep is None
        self._reader: _Background | None = None
        policy, deadline = transport_policy(SOURCE, settings, self._sleep)
        self.tokens = _Tokens(settings, credential, session, policy.timeout)
        # One pacer for every call (https://learn.microsoft.com/en-us/graph/throttling).
        self.pacer = Pacer(SOURCE, PaceClock(base.now, self._sleep, base.wait))
        self.client = HttpClient(
            SOURCE,
            session=session,
            policy=policy,
            origins=[settings.graph_url],
            origin_setting="graph_url",
            deadline=deadline,
            limiters={
                "reports": RateLimiter(
                    settings.reports_calls, settings.reports_period, base.now, self._sleep
                )
            },
            auth=self.tokens.headers,
            pacer=self.pacer,
        )
        graph = settings.graph_url.rstrip("/")
        self.v1 = f"{graph}/v1.0"
        self.beta = f"{graph}/beta"
        self._emails: dict[str, str] = {}
        self._grants_audit_next: str | None = None
        self.grants = GrantReader(self.client, self.v1, settings.concurrency, self._emails)
        self.log_analytics = open_log_analytics(settings, credential, session, self._sleep, ctx)

    def _sleep(self, seconds: float) -> None:
        """Retry and pacing waits; the background sign-in listing ends here once cancelled."""
        reader = self._reader
        if reader is not None and reader.is_current():
            if reader.cancelled.is_set():
                raise _Cancelled
            if self._real_sleep:
                if reader.cancelled.wait(seconds):
                    raise _Cancelled
                return
        self._base_sleep(seconds)

    # -- collect ---------------------------------------------------------------------------
    def collect(self, since: Mapping[str, str]) -> Iterator[SourceRecord]:
        cursors: Mapping[str, str] = {} if self.ctx.full else since
        self.tokens.token()  # a rejected credential stops the source before any stream
        sweep = self._sweep_due(cursors)
        # The paced report listings start now and overlap the directory reads below.
        reader = self._reader = _Background(self._report_streams(cursors), QUEUED_PAGES)
        reader.start()
        try:
            yield from self._guarded("users", USER_READ, self._collect_users(cursors, sweep))
            consents = _Consents()
            changed: set[str] = set()
            audited = yield from self._collect_audits(cursors, sweep, consents, changed)
            index = _SpIndex()
            yield from self._guarded(
                "apps",
                APPLICATION_READ,
                self._collect_apps(cursors, consents, index, changed, sweep or not audited),
            )
            grants = (
                self._collect_grants(consents, index)
                if sweep or not audited
                else self.grants.changed(changed, consents, index, self._grants_audit_next)
            )
            yield from self._guarded("grants", DIRECTORY_READ, grants)
            yield from reader
        finally:
            reader.close()
            self._reader = None

    def _sweep_due(self, cursors: Mapping[str, str]) -> bool:
        """List users and grants in full: first scan, --full, or ``full_sweep_days`` passed."""
        last = parse_time(cursors.get("sweep"))
        if last is None or self.settings.full_sweep_days == 0:
            return True
        links = [cursors.get("users_delta"), cursors.get("apps_delta")]
        if not all(link and link.startswith(self.v1 + "/") for link in links):
            return True  # no change tracking yet, or saved against another graph_url
        if parse_time(cursors.get("grants_audit")) is None:
            return True
        return self.ctx.now - last >= timedelta(days=self.settings.full_sweep_days)

    def _report_streams(self, cursors: Mapping[str, str]) -> Generator[SourceRecord, None, None]:
        """The paced listings run by the background reader; the sign-in watermark comes last."""
        if self.settings.sign_in_activity:
            yield from self._guarded("signin_activity", AUDIT_READ, self._collect_sp_activity())
        if self.log_analytics is None:
            yield from self._guarded("signins", AUDIT_READ, self._collect_signins(cursors))
        else:  # counted in the workspace (connectors.entra.log_analytics)
            yield from self.log_analytics.collect(cursors.get("signins_la"))

    def _guarded(
        self, stream: str, permission: str, records: Iterator[SourceRecord]
    ) -> Iterator[SourceRecord]:
        """Run one stream; a 403 (a missing permission or licence) becomes Skipped, others
        propagate."""
        yield from guarded(
            SOURCE, stream, records, translate=lambda err: self._translate(stream, permission, err)
        )

    def _translate(
        self, stream: str, permission: str, err: HttpStatusError
    ) -> Iterator[SourceRecord]:
        """What an HTTP error ends ``stream`` with: a warning or Skipped, else it raises ours."""
        code, message = _graph_error(err)
        if err.status == 403 and code == NO_PREMIUM_LICENCE:
            # Not collected, like a missing permission: the source ends partial and what
            # depends on sign-ins reads "unknown", never 0.
            yield Skipped(
                SOURCE,
                stream,
                f"{NO_LICENCE_STREAM} (tenant {self.settings.tenant_id}; Graph needs Microsoft "
                "Entra ID P1 or P2 for sign-in logs, grants and apps are collected). Assign a "
                "P1 or P2 licence, see https://learn.microsoft.com/en-us/entra/identity/"
                "monitoring-health/howto-configure-prerequisites-for-reporting-api",
            )
            return
        if err.status == 403:
            yield Skipped(SOURCE, stream, self._missing(permission, code), permission)
            return
        if stream == "signin_activity" and err.status in (400, 404):
            # Beta report, global cloud only
            # (https://learn.microsoft.com/en-us/graph/api/reportroot-list-serviceprincipalsigninactivities).
            yield SourceWarning(
                SOURCE,
                stream,
                f"the per-app sign-in activity report is not available here ({code or err.status});"
                " set sign_in_activity = false to stop asking",
            )
            return
        raise status_error(
            SOURCE,
            err.status,
            HTTP_ERRORS,
            stream=stream,
            permission=permission,
            code=code,
            code_or_status=code or f"HTTP {err.status}",
            message=message[:200],
            where=urlsplit(err.response.url).path,
            client_id=self.settings.client_id,
            graph_url=self.settings.graph_url,
        )

    def _missing(self, permission: str, code: str) -> str:
        return (
            f"the app registration {self.settings.client_id} lacks the Microsoft Graph "
            f"application permission {permission} (Graph answered 403 "
            f"{code or 'Forbidden'}). Add it under App registrations > API permissions > "
            "Add a permission > Microsoft Graph > Application permissions, then select "
            "'Grant admin consent' (docs/entra.md)"
        )

    def _pages(
        self, url: str, params: Mapping[str, Any] | None = None, pace: str | None = None
    ) -> Iterator[Page]:
        return odata_pages(self.client, url, params=params, pace=pace)

    # users ---------------------------------------------------------------------------------
    def _collect_users(self, cursors: Mapping[str, str], sweep: bool) -> Iterator[SourceRecord]:
        link = cursors.get("users_delta")
        changes = self._users_changes(link) if link and not sweep else None
        if changes and (yield from self._follow("users", "users", changes)):
            return
        latest = yield from self._users_delta_link()
        params = {"$select": USER_FIELDS, "$top": DIRECTORY_PAGE}
        for page in self._pages(f"{self.v1}/users", params):
            yield from self._users_page(page)
        yield Checkpoint(SOURCE, "users", complete=True)
        if latest:
            yield Checkpoint(SOURCE, "users_delta", cursor=latest)

    def _follow(
        self, stream: str, what: str, changes: Iterator[SourceRecord]
    ) -> Generator[SourceRecord, None, bool]:
        """Records from a stored delta link; False (after a warning) when the link expired."""
        try:
            yield from changes
        except HttpStatusError as err:
            code = _expired_delta(err)
            if code is None:
                raise
            yield SourceWarning(
                SOURCE,
                stream,
                f"the stored {what} delta link has expired ({code}); listing all {what} again",
            )
            return False
        return True

    def _users_delta_link(self) -> Generator[SourceRecord, None, str | None]:
        """A users delta link that starts now, without paging every user through delta."""
        params = {"$select": USER_FIELDS, "$deltatoken": "latest"}
        try:
            body, _ = self.client.get_json(f"{self.v1}/users/delta", params=params)
        except HttpStatusError as err:
            if err.status not in (400, 404, 501):
                raise
            code, _message = _graph_error(err)
            yield SourceWarning(
                SOURCE,
                "users",
                f"user change tracking is not available here ({code or err.status}); every "
                "scan lists all users",
            )
            return None
        link = body.get("@odata.deltaLink") if isinstance(body, dict) else None
        return link if isinstance(link, str) else None

    def _users_changes(self, link: str) -> Iterator[SourceRecord]:
        delta_link: str | None = None
        for page in self._pages(link):
            yield from self._users_page(page)
            delta_link = page.delta_link or delta_link
        if not delta_link:
            raise ResponseShapeError(SOURCE, "the users delta round ended without a deltaLink")
        yield Checkpoint(SOURCE, "users_delta", cursor=delta_link)

    def _users_page(self, page: Page) -> Iterator[SourceRecord]:
        for raw in page.items:
            if "@removed" in raw:
                yield Removed(SOURCE, "user", user_id=_require(raw, "id", "user"))
                continue
            user = parse_user(raw)
            if user.email:
                self._emails[user.id] = user.email
            yield user
        yield Checkpoint(SOURCE, "users")

    # audit log -----------------------------------------------------------------------------
    def _collect_audits(
        self,
        cursors: Mapping[str, str],
        sweep: bool,
        consents: _Consents,
        changed: set[str],
    ) -> Generator[SourceRecord, None, bool]:
        """Consent times; on incremental scans also the apps whose grants changed.

        Returns whether the grant changes could be read (False: list grants in full instead).
        """
        since_changes = None if sweep else parse_time(cursors.get("grants_audit"))
        yield from self._guarded(
            "consents",
            AUDIT_READ,
            self._collect_consents(cursors, consents, since_changes, changed),
        )
        if since_changes is None:
            return True
        try:
            newest = since_changes
            for activity in GRANT_ACTIVITIES:
                for raw in self._audit_events(activity, since_changes):
                    parsed = parse_grant_change(raw)
                    if parsed:
                        changed.update(parsed[0])
                        newest = max(newest, parsed[1])
        except HttpStatusError as err:
            if err.status != 403:
                yield from self._translate("grants", AUDIT_READ, err)  # raises ConnectorError
            return False  # the consents stream already said AuditLog.Read.All is missing
        self._grants_audit_next = graph_time(newest)
        return True

    def _audit_events(self, activity: str, since: datetime) -> Iterator[dict[str, Any]]:
        params = {
            "$filter": f"activityDisplayName eq '{activity}' and activityDateTime ge "
            f"{graph_time(since)}"
        }
        url = f"{self.v1}/auditLogs/directoryAudits"
        for page in self._pages(url, params, pace="reports"):
            yield from page.items

    # consents ------------------------------------------------------------------------------
    def _collect_consents(
        self,
        cursors: Mapping[str, str],
        consents: _Consents,
        since_changes: datetime | None = None,
        changed: set[str] | None = None,
    ) -> Iterator[SourceRecord]:
        start = self._start("consents", cursors)
        newest: datetime | None = None
        for raw in self._audit_events(CONSENT_ACTIVITY, start):
            parsed = parse_consent(raw)
            if parsed:
                consents.add(*parsed)
                newest = max(newest or parsed[2], parsed[2])
                if changed is not None and since_changes and parsed[2] >= since_changes:
                    changed.add(parsed[0])
        yield Checkpoint(SOURCE, "consents", cursor=graph_time(newest or start))

    def _start(self, stream: str, cursors: Mapping[str, str]) -> datetime:
        stored = parse_time(cursors.get(stream))
        if stored is not None:
            return stored
        return self.ctx.now - timedelta(days=self.settings.signin_lookback_days)

    # apps ----------------------------------------------------------------------------------
    def _collect_apps(
        self,
        cursors: Mapping[str, str],
        consents: _Consents,
        index: _SpIndex,
        changed: set[str],
        sweep: bool,
    ) -> Iterator[SourceRecord]:
        """Service principals; ``changed`` gains the ones a delta round reports new or changed."""
        link = cursors.get("apps_delta")
        if link and not link.startswith(self.v1 + "/"):
            # Saved against another Graph endpoint (graph_url changed, e.g. a national cloud):
            # following it would talk to the old host, so start a fresh round here.
            yield SourceWarning(
                SOURCE,
                "apps",
                "the stored delta link belongs to another Graph endpoint than "
                f"sources.entra.graph_url ({self.settings.graph_url}); listing all service "
                "principals again",
            )
            link = None
        if link:
            changes = self._apps_changes(link, consents, index, changed, sweep)
            if (yield from self._follow("apps", "service principals", changes)):
                return
        yield from self._apps_delta_round(
            f"{self.v1}/servicePrincipals/delta", {"$select": SP_FIELDS}, consents, index
        )
        yield Checkpoint(SOURCE, "apps", complete=True)
        changed.clear()  # a full round lists every app: nothing to compare against

    def _apps_delta_round(
        self,
        url: str,
        params: Mapping[str, Any] | None,
        consents: _Consents,
        index: _SpIndex,
        changed: set[str] | None = None,
    ) -> Iterator[SourceRecord]:
        delta_link: str | None = None
        for page in self._pages(url, params):
            for raw in page.items:
                object_id = str(raw.get("id") or "")
                if "@removed" in raw:
                    yield from self._removed_app(raw, index)
                    if changed is not None:
                        changed.discard(object_id)  # Removed(app) already retires its grants
                    continue
                if "appId" not in raw:
                    self.grants.lookup_sps({object_id} - {""}, index)
                    if entry := index.get(object_id):
                        raw = {**raw, "appId": entry.app_id, "displayName": entry.name}
                app = parse_app(raw, consents.first(object_id))
                index.add(raw)
                if changed is not None:
                    changed.add(object_id)
                yield app
            yield Checkpoint(SOURCE, "apps")
            delta_link = page.delta_link or delta_link
        if not delta_link:
            raise ResponseShapeError(
                SOURCE, "the service principal delta round ended without a deltaLink"
            )
        yield Checkpoint(SOURCE, "apps_delta", cursor=delta_link)

    def _apps_changes(
        self, link: str, consents: _Consents, index: _SpIndex, changed: set[str], sweep: bool
    ) -> Iterator[SourceRecord]:
        if sweep:
            # Listing all grants needs every service principal's appId and owner, not only the
            # changed ones: a lean index (five fields, 999 a page).
            params = {"$select": SP_INDEX_FIELDS, "$top": DIRECTORY_PAGE}
            for page in self._pages(f"{self.v1}/servicePrincipals", params):
                for raw in page.items:
                    index.add(raw)
        yield from self._apps_delta_round(link, None, consents, index, changed)

    def _removed_app(self, raw: Mapping[str, Any], index: _SpIndex) -> Iterator[SourceRecord]:
        object_id = str(raw.get("id"))
        app_id = raw.get("appId") or self._deleted_app_id(object_id)
        if app_id:
            yield Removed(SOURCE, "app", client_id=app_id)
        else:
            yield SourceWarning(
                SOURCE,
                "apps",
                f"service principal {object_id} was deleted and is no longer readable; "
                "the next full scan (shadowit scan --full) marks its app gone",
            )

    def _deleted_app_id(self, object_id: str) -> str | None:
        """appId of a soft-deleted service principal (kept 30 days in deleted items)."""
        try:
            body, _ = self.client.get_json(
                f"{self.v1}/directory/deletedItems/{quote(object_id)}",
                params={"$select": "id,appId"},
            )
        except HttpStatusError as err:
            if err.status == 404:
                return None
            raise
        return body.get("appId") if isinstance(body, dict) else None

    # grants --------------------------------------------------------------------------------
    def _collect_grants(self, consents: _Consents, index: _SpIndex) -> Iterator[SourceRecord]:
        yield from self.grants.delegated(consents, index)
        try:
            yield from self.grants.application(index)
        except HttpStatusError as err:
            if err.status != 403:
                raise
            # Delegated grants are saved; without app-only ones the listing is not complete.
            yield from self._translate("grants", APPLICATION_READ, err)
            return
        yield Checkpoint(SOURCE, "grants", complete=True)
        # Grant changes from now on are read from the audit log until the next sweep.
        stamp = graph_time(self.ctx.now)
        yield Checkpoint(SOURCE, "grants_audit", cursor=stamp)
        yield Checkpoint(SOURCE, "sweep", cursor=stamp)

    # sign-ins ------------------------------------------------------------------------------
    def _collect_signins(self, cursors: Mapping[str, str]) -> Iterator[SourceRecord]:
        start = self._start("signins", cursors)
        since_filter = f"createdDateTime ge {graph_time(start)}"
        listings = [(f"{self.v1}/auditLogs/signIns", since_filter)]
        if self.settings.non_interactive_signins:
            # v1.0 lists interactive sign-ins only; beta filters on signInEventTypes
            # (https://learn.microsoft.com/en-us/graph/api/signin-list?view=graph-rest-beta).
            listings.append(
                (
                    f"{self.beta}/auditLogs/signIns",
                    f"{since_filter} and signInEventTypes/any(t: t eq 'nonInteractiveUser')",
                )
            )
        newest: datetime | None = None
        for url, query in listings:
            params = {"$filter": query, "$top": SIGNIN_PAGE}
            for page in self._pages(url, params, pace="reports"):
                for raw in page.items:
                    signin = parse_signin(raw)
                    newest = max(newest or signin.at, signin.at)
                    yield signin
                yield Checkpoint(SOURCE, "signins")
        yield Checkpoint(SOURCE, "signins", cursor=graph_time(newest or start))

    def _collect_sp_activity(self) -> Iterator[SourceRecord]:
        url = f"{self.beta}/reports/servicePrincipalSignInActivities"
        for page in self._pages(url, {"$top": ACTIVITY_PAGE}, pace="reports"):
            for raw in page.items:
                signin = parse_sp_activity(raw)
                if signin is not None:
                    yield signin
            yield Checkpoint(SOURCE, "signin_activity")

    PROBES: ClassVar[tuple[tuple[str, str, str], ...]] = (
        (USER_READ, "users", "$select=id&$top=1"),
        (APPLICATION_READ, "servicePrincipals", "$select=id&$top=1"),
        (DIRECTORY_READ, "oauth2PermissionGrants", "$top=1"),
        (AUDIT_READ, "auditLogs/directoryAudits", "$top=1"),
        (AUDIT_READ + " (sign-in logs, P1 licence)", "auditLogs/signIns", "$top=1"),
    )

    def check(self) -> Iterator[Probe]:
        try:
            self.tokens.token()
        except (AuthError, ConnectorError) as err:
            yield Probe(SOURCE, "token", False, str(err), "see docs/entra.md, Troubleshooting")
            return
        yield Probe(
            SOURCE,
            "token",
            True,
            f"app {self.settings.client_id} got a token from tenant {self.settings.tenant_id}",
        )
        for permission, path, query in self.PROBES:
            yield self._probe(permission, path, query)
        if self.log_analytics is not None:
            yield from self.log_analytics.probes()

    def _probe(self, permission: str, path: str, query: str) -> Probe:
        pace = "reports" if path.startswith("auditLogs") else None
        try:
            self.client.get_json(f"{self.v1}/{path}?{query}", pace=pace)
        except HttpStatusError as err:
            code, message = _graph_error(err)
            if code == NO_PREMIUM_LICENCE:
                return Probe(
                    SOURCE,
                    permission,
                    False,
                    f"{NO_LICENCE_STREAM}: scans will not collect sign-ins and end partial "
                    "(exit 3)",
                    "sign-in logs through Graph need Microsoft Entra ID P1 or P2: assign a "
                    "licence (docs/entra.md)",
                )
            base = permission.split(" ")[0]
            return Probe(
                SOURCE,
                permission,
                False,
                f"GET /{path}: HTTP {err.status} {code}: {message[:120]}",
                self._missing(base, code) if err.status == 403 else None,
            )
        return Probe(SOURCE, permission, True, f"GET /{path} answered")
