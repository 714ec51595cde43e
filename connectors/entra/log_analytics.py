"""Entra sign-ins from a Log Analytics workspace, counted there per app, person and day.

``[sources.entra] signins = "log_analytics"``: instead of paging the Graph sign-in listing (5
requests / 10 s, 1,000 events a page), each day is one KQL ``summarize`` per shard of users,
answered by ``azure-monitor-query``'s ``LogsQueryClient.query_workspace`` as ``SignInDay``
records. Directory state (users, apps, grants) still comes from Graph.

Documented facts this module relies on:

- the tables Entra's diagnostic settings write: ``SigninLogs`` and
  ``AADNonInteractiveUserSignInLogs`` with ``TimeGenerated``, ``AppId``, ``AppDisplayName``,
  ``UserId``, ``UserPrincipalName`` and ``ResultType`` ("0" is success)
  (https://learn.microsoft.com/en-us/azure/azure-monitor/reference/tables/signinlogs,
  https://learn.microsoft.com/en-us/azure/azure-monitor/reference/tables/aadnoninteractiveusersigninlogs);
- the answer: ``tables`` of ``columns`` and ``rows``; a non-fatal error is a 200 with the
  rows and an ``error`` object (the client's ``LogsQueryStatus.PARTIAL``); a fatal one an
  error status with a OneAPI error
  (https://learn.microsoft.com/en-us/azure/azure-monitor/logs/api/response-format);
- limits: 500,000 rows and ~100 MiB per answer, 3 minutes by default and 10 at most
  (``Prefer: wait=600``, else 504), 200 requests per 30 s and 5 running queries per identity
  (https://learn.microsoft.com/en-us/azure/azure-monitor/service-limits#log-queries-and-language,
  https://learn.microsoft.com/en-us/azure/azure-monitor/logs/api/timeouts);
- the least-privilege role: Log Analytics Reader on the workspace
  (https://learn.microsoft.com/en-us/azure/azure-monitor/logs/manage-access).

A day and shard that cannot be read (throttled past the retries, a partial answer, a server
error) is ``Skipped`` with the day and shard named: the source ends partial and the cursor
stays before that day, so the next scan reads it again. Logs arrive late, so every scan also
re-reads the trailing ``log_analytics_trailing_days``; the store replaces those days' counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import AzureError, HttpResponseError
from azure.core.pipeline.transport import RequestsTransport
from azure.monitor.query import LogsQueryClient, LogsQueryStatus

from connectors.base import Probe
from connectors.entra.auth import _Tokens
from connectors.entra.settings import KEY, SOURCE, EntraSettings
from connectors.streams import Shapes
from scanner.core.models import Checkpoint, SignInDay, Skipped, SourceRecord
from scanner.net.http import RateLimiter

STREAM = "signins"
CURSOR = "signins_la"
"""The last day read completely (``YYYY-MM-DD``); apart from the Graph listing's watermark."""
INTERACTIVE = "SigninLogs"
NON_INTERACTIVE = "AADNonInteractiveUserSignInLogs"
SERVICE_PRINCIPAL = "AADServicePrincipalSignInLogs"
"""App-only sign-ins (client credentials): ``AppId``, ``ServicePrincipalName``, ``ResultType``
(https://learn.microsoft.com/en-us/azure/azure-monitor/reference/tables/aadserviceprincipalsigninlogs)."""
ROLE = "Log Analytics Reader"
MAX_ROWS = 500_000
"""Rows one answer may hold (service limits, Query API)."""
SERVER_TIMEOUT = 600
"""Seconds the service may run one query: the documented maximum (``Prefer: wait=600``)."""
QUERIES_PER_WINDOW, WINDOW_SECONDS = 200, 30.0
"""200 requests per 30 s per identity (service limits)."""
CATEGORIES = {
    INTERACTIVE: "SignInLogs",
    NON_INTERACTIVE: "NonInteractiveUserSignInLogs",
    SERVICE_PRINCIPAL: "ServicePrincipalSignInLogs",
}
"""The diagnostic-setting category that fills each table."""


def signin_query(tables: Sequence[str], day: date, shard: int, shards: int) -> str:
    """The KQL of one day and shard: counts per (app, user), successes and failures apart."""
    start = f"{day.isoformat()}T00:00:00Z"
    end = f"{(day + timedelta(days=1)).isoformat()}T00:00:00Z"
    return "\n".join(
        [
            f"union {', '.join(tables)}",
            f"| where TimeGenerated >= datetime({start}) and TimeGenerated < datetime({end})",
            f"| where hash(UserId, {shards}) == {shard}",
            '| extend Ok = ResultType == "0"',
            "| summarize Successes = countif(Ok), Failures = countif(not(Ok)),",
            "    FirstAt = min(TimeGenerated), LastOkAt = maxif(TimeGenerated, Ok),",
            "    AppName = take_any(AppDisplayName), Upn = take_any(UserPrincipalName)",
            "    by AppId, UserId",
        ]
    )


def app_only_query(day: date) -> str:
    """The KQL of one day's app-only sign-ins, counted per app."""
    start = f"{day.isoformat()}T00:00:00Z"
    end = f"{(day + timedelta(days=1)).isoformat()}T00:00:00Z"
    return "\n".join(
        [
            SERVICE_PRINCIPAL,
            f"| where TimeGenerated >= datetime({start}) and TimeGenerated < datetime({end})",
            '| extend Ok = ResultType == "0"',
            "| summarize Successes = countif(Ok), Failures = countif(not(Ok)),",
            "    FirstAt = min(TimeGenerated), LastOkAt = maxif(TimeGenerated, Ok),",
            "    AppName = take_any(ServicePrincipalName)",
            "    by AppId",
        ]
    )


def freshness_query(table: str, days: int) -> str:
    """The KQL that tells whether ``table`` exists and has rows of the last ``days`` days."""
    return (
        f"{table}\n| where TimeGenerated > ago({days}d)\n"
        "| summarize Latest = max(TimeGenerated), Rows = count()"
    )


class _MsalCredential:
    """An azure-core ``TokenCredential`` over the connector's msal app (same registration,
    secret or certificate, same error lines); msal caches the token until near expiry.

    azure-identity's CertificateCredential wants the certificate itself, while the settings
    carry its private key and thumbprint (what msal needs), so msal serves both APIs."""

    def __init__(self, tokens: _Tokens) -> None:
        self._tokens = tokens

    def get_token(self, *scopes: str, **_kwargs: Any) -> AccessToken:
        # One scope per client: the endpoint's /.default (LogsQueryClient asks for it).
        self._tokens.scope = scopes[0] if scopes else self._tokens.scope
        return AccessToken(self._tokens.token(), int(time.time()) + 300)


class _Transport(RequestsTransport):
    """The connector's requests.Session (its CA bundle), and the connector's sleep for the
    client's Retry-After and backoff waits."""

    def __init__(self, session: requests.Session, sleep: Callable[[float], None], **kw: Any):
        # azure-core passes its own ``verify`` on each request: carry the session's trust over.
        super().__init__(
            session=session, session_owner=False, connection_verify=session.verify, **kw
        )
        self._wait = sleep

    def sleep(self, duration: float) -> None:
        self._wait(duration)


@dataclass(frozen=True)
class _Outcome:
    """One day and shard: its records, or why it could not be read."""

    records: tuple[SignInDay, ...] = ()
    problem: str | None = None
    permission: str | None = None


class LogAnalyticsSignins:
    """Reads the sign-in days of one workspace (see the module docstring)."""

    def __init__(
        self,
        settings: EntraSettings,
        tokens: _Tokens,
        session: requests.Session,
        sleep: Callable[[float], None],
        now: datetime,
    ) -> None:
        self.settings = settings
        self.workspace = str(settings.workspace_id)
        self.now = now.astimezone(UTC)
        self.client = LogsQueryClient(
            _MsalCredential(tokens),
            endpoint=settings.log_analytics_url,
            transport=_Transport(
                session, sleep, connection_timeout=settings.timeout, read_timeout=SERVER_TIMEOUT
            ),
            retry_total=settings.log_analytics_retries,
            retry_backoff_factor=1.0,
        )
        self.pace = RateLimiter(QUERIES_PER_WINDOW, WINDOW_SECONDS, sleep=sleep)
        user_tables = (INTERACTIVE, NON_INTERACTIVE)
        self.tables: tuple[str, ...] = (
            user_tables if settings.non_interactive_signins else (INTERACTIVE,)
        )
        if settings.service_principal_signins:
            self.tables += (SERVICE_PRINCIPAL,)

    # -- collect ---------------------------------------------------------------------------
    def collect(self, cursor: str | None) -> Iterator[SourceRecord]:
        """Every day from the cursor (first scan: the look-back) through today."""
        days = self.days(cursor)
        tables: list[str] = []
        for table in self.tables:
            problem = self._freshness(table, len(days))
            if problem is None:
                tables.append(table)
            else:
                yield problem
        users = [t for t in tables if t != SERVICE_PRINCIPAL]
        if not users:
            return
        contiguous = True
        with ThreadPoolExecutor(max_workers=self.settings.log_analytics_concurrency) as pool:
            for day in days:
                jobs: list[tuple[int | None, Callable[[], _Outcome]]] = [
                    (s, partial(self._shard, users, day, s)) for s in self._shards()
                ]
                if SERVICE_PRINCIPAL in tables:
                    jobs.append((None, partial(self._app_only, day)))
                outcomes = list(pool.map(lambda job: job[1](), jobs))
                for (shard, _), outcome in zip(jobs, outcomes, strict=True):
                    yield from outcome.records
                    if outcome.problem is not None:
                        where = self._where(day, shard, outcome.problem)
                        yield Skipped(SOURCE, STREAM, where, outcome.permission)
                day_ok = all(o.problem is None for o in outcomes) and tables == list(self.tables)
                contiguous = contiguous and day_ok
                if contiguous:
                    yield Checkpoint(SOURCE, CURSOR, cursor=day.isoformat())
                else:
                    yield Checkpoint(SOURCE, STREAM)

    def probes(self) -> Iterator[Probe]:
        """``shadowit doctor``: the workspace answers, each table is there with recent rows
        and the role is held (one freshness query per table)."""
        window = self.settings.log_analytics_trailing_days
        for table in self.tables:
            problem = self._freshness(table, window)
            check = f"Log Analytics {table} ({ROLE})"
            if problem is None:
                detail = f"workspace {self.workspace} has {table} rows of the last {window} days"
                yield Probe(SOURCE, check, True, detail)
            else:
                yield Probe(SOURCE, check, False, problem.reason, "see docs/entra.md")

    def days(self, cursor: str | None) -> list[date]:
        today = self.now.date()
        earliest = today - timedelta(days=self.settings.signin_lookback_days - 1)
        start = earliest
        if cursor:
            try:
                last = date.fromisoformat(cursor)
            except ValueError:
                last = None
            if last is not None:
                trailing = today - timedelta(days=self.settings.log_analytics_trailing_days - 1)
                start = max(earliest, min(last + timedelta(days=1), trailing))
        return [start + timedelta(days=n) for n in range((today - start).days + 1)]

    def _shards(self) -> range:
        return range(self.settings.log_analytics_shards)

    def _where(self, day: date, shard: int | None, problem: str) -> str:
        if shard is None:
            return f"{day.isoformat()} {SERVICE_PRINCIPAL} not read: {problem}"
        shards = self.settings.log_analytics_shards
        return f"{day.isoformat()} shard {shard + 1}/{shards} not read: {problem}"

    # -- queries ---------------------------------------------------------------------------
    def _run(self, query: str, start: datetime, end: datetime) -> Any:
        self.pace.acquire()
        return self.client.query_workspace(
            self.workspace, query, timespan=(start, end), server_timeout=SERVER_TIMEOUT
        )

    def _shard(self, tables: Sequence[str], day: date, shard: int) -> _Outcome:
        query = signin_query(tables, day, shard, self.settings.log_analytics_shards)
        return self._answer(query, day, _parse_day)

    def _app_only(self, day: date) -> _Outcome:
        """The day's app-only sign-ins per app: evidence of use, no sign-in of a person."""
        return self._answer(app_only_query(day), day, _parse_app_only)

    def _answer(
        self, query: str, day: date, parse: Callable[[dict[str, Any], date], SignInDay]
    ) -> _Outcome:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        try:
            result = self._run(query, start, start + timedelta(days=1))
        except HttpResponseError as err:
            return self._failed(err)
        except AzureError as err:
            return _Outcome(problem=self._unreachable(err))
        if result.status == LogsQueryStatus.PARTIAL:
            error = result.partial_error
            code = getattr(error, "code", "") or "PartialError"
            return _Outcome(
                problem=f"the workspace answered only in part ({code}: "
                f"{str(getattr(error, 'message', ''))[:160]}); raise "
                f"{KEY}.log_analytics_shards so each query stays under {MAX_ROWS:,} rows "
                "and ~100 MiB"
            )
        table = result.tables[0]
        rows = [dict(zip(table.columns, row, strict=True)) for row in table.rows]
        if len(rows) >= MAX_ROWS:
            return _Outcome(
                problem=f"the answer reached the {MAX_ROWS:,}-row limit; raise "
                f"{KEY}.log_analytics_shards"
            )
        return _Outcome(records=tuple(_SHAPES.parse("sign-in day", parse, r, day) for r in rows))

    def _freshness(self, table: str, days: int) -> Skipped | None:
        """None when ``table`` is there with recent rows, else why not (Skipped)."""
        window = max(days, self.settings.log_analytics_trailing_days)
        try:
            result = self._run(
                freshness_query(table, window), self.now - timedelta(days=window), self.now
            )
        except HttpResponseError as err:
            outcome = self._failed(err, table)
            return Skipped(SOURCE, STREAM, f"{table}: {outcome.problem}", outcome.permission)
        except AzureError as err:
            return Skipped(SOURCE, STREAM, f"{table}: {self._unreachable(err)}")
        rows = list(result.tables[0].rows) if result.tables else []
        count = rows[0][1] if rows else 0
        if not count:
            return Skipped(
                SOURCE,
                STREAM,
                f"{table} in workspace {self.workspace} has no rows in the last {window} days: "
                f"check that the Entra diagnostic setting still sends {CATEGORIES[table]} to "
                "this workspace (Entra admin center > Monitoring & health > Diagnostic "
                "settings); a new setting can take up to 3 days to deliver",
            )
        return None

    def _unreachable(self, err: AzureError) -> str:
        return (
            f"cannot reach {self.settings.log_analytics_url} ({type(err).__name__}); check "
            f"{KEY}.log_analytics_url, ca_bundle and the network"
        )

    def _failed(self, err: HttpResponseError, table: str | None = None) -> _Outcome:
        status = int(err.status_code or 0)
        text = str(getattr(err, "message", "") or err)
        if status == 403:
            return _Outcome(
                problem=f"app {self.settings.client_id} may not query workspace "
                f"{self.workspace} (HTTP 403): assign it the {ROLE} role on the workspace "
                "(Access control (IAM) > Add role assignment)",
                permission=f"{ROLE} (workspace {self.workspace})",
            )
        if status == 404:
            return _Outcome(
                problem=f"workspace {self.workspace} was not found (HTTP 404): check "
                f"{KEY}.workspace_id (the workspace's Overview > Workspace ID) and "
                f"{KEY}.log_analytics_url"
            )
        if status == 400 and "resolve table" in text:
            name = table or "a sign-in table"
            category = CATEGORIES.get(name, "SignInLogs")
            return _Outcome(
                problem=f"workspace {self.workspace} has no table {name}: in the Entra admin "
                "center > Monitoring & health > Diagnostic settings, send the category "
                f"{category} to this workspace"
            )
        if status == 429:
            return _Outcome(
                problem=f"throttled (HTTP 429) after {self.settings.log_analytics_retries} "
                f"retries; lower {KEY}.log_analytics_concurrency or scan later"
            )
        return _Outcome(problem=f"the workspace answered HTTP {status} ({text[:160]})")


_SHAPES = Shapes(SOURCE, "a {what} from Log Analytics is malformed ({kind}: {error})")


def _parse_day(row: dict[str, Any], day: date) -> SignInDay:
    """One ``summarize`` row -> SignInDay; times come back typed as datetime."""
    user_id = row.get("UserId") or None
    return SignInDay(
        source=SOURCE,
        client_id=str(row["AppId"]),
        day=day,
        successes=int(row["Successes"]),
        failures=int(row["Failures"]),
        user_id=user_id,
        user_email=row.get("Upn") or None,
        app_name=row.get("AppName") or None,
        first_at=_utc(row.get("FirstAt")),
        last_at=_utc(row.get("LastOkAt")),
    )


def _parse_app_only(row: dict[str, Any], day: date) -> SignInDay:
    """One app's app-only sign-ins of the day: kind ``activity``, no person."""
    return SignInDay(
        source=SOURCE,
        client_id=str(row["AppId"]),
        day=day,
        successes=int(row["Successes"]),
        failures=int(row["Failures"]),
        app_name=row.get("AppName") or None,
        first_at=_utc(row.get("FirstAt")),
        last_at=_utc(row.get("LastOkAt")),
        kind="activity",
    )


def _utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return None
