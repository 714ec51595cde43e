"""Google Workspace sign-ins from the BigQuery export, counted in BigQuery per app, person, day.

``[sources.google] events = "bigquery"``: login and SAML sign-ins come from one SQL query over
the export's ``activity`` table (``google-cloud-bigquery``'s ``Client.query_and_wait``, which
is ``jobs.query`` then ``jobs.getQueryResults`` pages) as ``SignInDay`` records, instead of
paging the Reports API event by event. Users, tokens and token (grant) events stay on the
Admin SDK: they are state, not usage.

Documented facts this module relies on:

- the export writes the tables ``activity`` and ``usage`` to the configured dataset
  (https://support.google.com/a/answer/9079364); ``activity`` has ``time_usec``, ``email``,
  ``event_name``, ``record_type`` (``login``, ``saml``, ``token``, ...) and per-type records
  such as ``saml.application_name``, and is partitioned by ingestion time (``_PARTITIONTIME``)
  (the schema as Looker's Workspace block models it,
  https://github.com/looker-open-source/block-workspace-audit-logs,
  ``views/raw/activity.view.lkml`` and ``views/refined/activity.view.lkml``);
- the login and SAML event names are ``login_success`` and ``login_failure``
  (https://developers.google.com/admin-sdk/reports/v1/appendix/activity/login,
  https://developers.google.com/admin-sdk/reports/v1/appendix/activity/saml);
- ``maximumBytesBilled``: "Queries that will have bytes billed beyond this limit will fail
  (without incurring a charge)"
  (https://cloud.google.com/bigquery/docs/reference/rest/v2/Job#JobConfigurationQuery), with
  reason ``bytesBilledLimitExceeded`` and the text "Query exceeded limit for bytes billed"
  (which some clients see with HTTP 500, so both are read);
  a dry run returns ``totalBytesProcessed`` without running
  (https://cloud.google.com/bigquery/docs/reference/rest/v2/jobs/query);
- least privilege: BigQuery Job User on the project and BigQuery Data Viewer on the dataset
  (https://cloud.google.com/bigquery/docs/access-control).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from google.api_core import exceptions as api_errors
from google.cloud import bigquery
from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY

from connectors.base import Probe
from connectors.google.parse import LOGIN_APP_ID
from connectors.google.settings import SOURCE, GoogleSettings
from connectors.streams import Shapes
from scanner.core.models import FROM_EVENTS, Checkpoint, RawApp, SignInDay, Skipped, SourceRecord

STREAM = "bigquery_events"
"""The cursor: the last day read (``YYYY-MM-DD``), apart from the Reports API watermarks."""
SCOPE = "https://www.googleapis.com/auth/bigquery"
"""jobs.query needs the bigquery (or cloud-platform) scope."""
ROLES = "BigQuery Job User on the project and BigQuery Data Viewer on the dataset"
PAGE_ROWS = 10_000
"""Rows per getQueryResults page (answers stay far below the 10 MB page cap)."""

SIGNIN_SQL = """SELECT
  record_type,
  IF(record_type = 'saml', saml.application_name, '{login_app}') AS app_id,
  LOWER(email) AS email,
  DATE(TIMESTAMP_MICROS(time_usec)) AS day,
  COUNTIF(event_name = 'login_success') AS successes,
  COUNTIF(event_name = 'login_failure') AS failures,
  MIN(time_usec) AS first_usec,
  MAX(IF(event_name = 'login_success', time_usec, NULL)) AS last_ok_usec
FROM `{table}`
WHERE _PARTITIONTIME >= TIMESTAMP(@start_day)
  AND time_usec >= @start_usec AND time_usec < @end_usec
  AND record_type IN ('login', 'saml')
  AND event_name IN ('login_success', 'login_failure')
  AND (record_type = 'login' OR saml.application_name IS NOT NULL)
GROUP BY record_type, app_id, email, day
ORDER BY day, record_type, app_id, email"""
"""Events are ingested on or after the day they happen, so partitions before ``start_day`` are
pruned without losing any (cost is the bytes of the partitions and columns read)."""


def signin_sql(table: str) -> str:
    return SIGNIN_SQL.format(table=table, login_app=LOGIN_APP_ID)


def window_parameters(start: date, end: date) -> list[bigquery.ScalarQueryParameter]:
    """``[start, end)`` as the query's parameters (days in UTC)."""
    return [
        bigquery.ScalarQueryParameter("start_day", "DATE", start),
        bigquery.ScalarQueryParameter("start_usec", "INT64", _usec(start)),
        bigquery.ScalarQueryParameter("end_usec", "INT64", _usec(end)),
    ]


def _usec(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1_000_000)


class BigQueryEvents:
    """Reads the sign-in days of the export (see the module docstring)."""

    def __init__(self, settings: GoogleSettings, credentials: Any, now: datetime) -> None:
        self.settings = settings
        self.now = now.astimezone(UTC)
        self.table = f"{settings.project}.{settings.dataset}.activity"
        self.client = bigquery.Client(
            project=settings.project,
            credentials=credentials,
            client_options={"api_endpoint": settings.bigquery_url},
        )
        deadline = settings.bigquery_retry_seconds
        delays = {"initial": min(1.0, deadline / 20), "maximum": min(32.0, deadline / 4)}
        self.retry = bigquery.DEFAULT_RETRY.with_timeout(deadline).with_delay(**delays)
        self.job_retry = DEFAULT_JOB_RETRY.with_timeout(deadline).with_delay(**delays)

    def days(self, cursor: str | None, full: bool) -> tuple[date, date]:
        """The window ``[start, end)``: the look-back on a first or full read, else from the
        cursor, always including the trailing days."""
        today = self.now.date()
        start = today - timedelta(days=self.settings.lookback_days - 1)
        last = _day(cursor)
        if last is not None and not full:
            trailing = today - timedelta(days=self.settings.bigquery_trailing_days - 1)
            start = max(start, min(last + timedelta(days=1), trailing))
        return start, today + timedelta(days=1)

    def collect(self, cursor: str | None, full: bool) -> Iterator[SourceRecord]:
        start, end = self.days(cursor, full)
        config = self._config(start, end, dry_run=False)
        try:
            rows = self.client.query_and_wait(
                signin_sql(self.table),
                job_config=config,
                page_size=PAGE_ROWS,
                retry=self.retry,
                job_retry=self.job_retry,
            )
            yield from self._records(rows, end)
        except (api_errors.GoogleAPICallError, api_errors.RetryError) as err:
            yield Skipped(SOURCE, STREAM, self._problem(err), self._permission(err))
            return
        yield Checkpoint(SOURCE, STREAM, cursor=(end - timedelta(days=1)).isoformat())

    def estimate(self) -> int:
        """Bytes the look-back query would scan (a dry run: free, nothing runs)."""
        start, end = self.days(None, True)
        job = self.client.query(
            signin_sql(self.table), job_config=self._config(start, end, dry_run=True)
        )
        return int(job.total_bytes_processed or 0)

    def probes(self) -> Iterator[Probe]:
        """``shadowit doctor``: the dataset is readable and the look-back query's dry-run
        estimate is under ``maximum_bytes_billed``."""
        check = f"BigQuery export {self.table} ({ROLES})"
        try:
            estimate = self.estimate()
        except (api_errors.GoogleAPICallError, api_errors.RetryError) as err:
            yield Probe(SOURCE, check, False, self._problem(err), "see docs/google.md")
            return
        cap = self.settings.maximum_bytes_billed
        detail = f"the {self.settings.lookback_days}-day query would scan {estimate:,} bytes"
        if estimate > cap:
            fix = "raise sources.google.maximum_bytes_billed or lower lookback_days"
            yield Probe(SOURCE, check, False, f"{detail}, over the cap of {cap:,}", fix)
        else:
            yield Probe(SOURCE, check, True, f"{detail} (cap {cap:,})")

    def _config(self, start: date, end: date, dry_run: bool) -> bigquery.QueryJobConfig:
        return bigquery.QueryJobConfig(
            query_parameters=window_parameters(start, end),
            maximum_bytes_billed=self.settings.maximum_bytes_billed,
            dry_run=dry_run,
            use_query_cache=not dry_run,
        )

    def _records(self, rows: Any, end: date) -> Iterator[SourceRecord]:
        named: set[str] = set()
        newest: date | None = None
        for page in rows.pages:
            for row in page:
                day = _SHAPES.parse("activity row", _parse_day, dict(row.items()))
                newest = max(newest or day.day, day.day)
                if day.kind == "saml" and day.client_id not in named:
                    named.add(day.client_id)
                    yield RawApp(
                        SOURCE, day.client_id, day.app_name or "", kind="saml", tags=(FROM_EVENTS,)
                    )
                yield day
            yield Checkpoint(SOURCE, STREAM)
        recent = end - timedelta(days=self.settings.bigquery_trailing_days + 1)
        if newest is None or newest < recent:
            since = f"since {newest.isoformat()}" if newest else "in the whole window"
            yield Skipped(
                SOURCE,
                STREAM,
                f"{self.table} has no login or SAML events {since}: check that the Admin "
                "console still exports logs to this dataset (Reporting > Data integrations > "
                "BigQuery export); a new export can take a day or two to fill",
            )

    def _problem(self, err: Exception) -> str:
        text = str(getattr(err, "message", "") or err).splitlines()[0][:200]
        reason = _reason(err)
        if reason == "bytesBilledLimitExceeded" or "limit for bytes billed" in text:
            return (
                f"the query would scan more than sources.google.maximum_bytes_billed "
                f"({self.settings.maximum_bytes_billed:,} bytes): raise it, or lower "
                "lookback_days (shadowit doctor prints the estimate)"
            )
        if isinstance(err, api_errors.Forbidden) and reason != "rateLimitExceeded":
            return f"the service account may not query {self.table} ({text}): grant it {ROLES}"
        if isinstance(err, api_errors.NotFound):
            return (
                f"{self.table} was not found ({text}): check sources.google.project and "
                "dataset, and that the Admin console exports logs there (Reporting > Data "
                "integrations > BigQuery export)"
            )
        if isinstance(err, api_errors.RetryError | api_errors.TooManyRequests) or reason in (
            "rateLimitExceeded",
            "quotaExceeded",
        ):
            return (
                f"throttled by BigQuery for {self.settings.bigquery_retry_seconds:g} s "
                "(sources.google.bigquery_retry_seconds); scan later or raise it"
            )
        return f"BigQuery answered {type(err).__name__} ({text})"

    def _permission(self, err: Exception) -> str | None:
        forbidden = isinstance(err, api_errors.Forbidden)
        if forbidden and _reason(err) not in ("bytesBilledLimitExceeded", "rateLimitExceeded"):
            # A quota 403 is not a missing role; neither is a byte cap.
            return ROLES
        return None


def _reason(err: Exception) -> str | None:
    errors = getattr(err, "errors", None) or []
    first = errors[0] if errors else {}
    return first.get("reason") if isinstance(first, Mapping) else None


_SHAPES = Shapes(SOURCE, "a {what} from BigQuery is malformed ({kind}: {error})")


def _parse_day(row: Mapping[str, Any]) -> SignInDay:
    saml = row["record_type"] == "saml"
    client_id = str(row["app_id"])
    return SignInDay(
        source=SOURCE,
        client_id=client_id,
        day=row["day"],
        successes=int(row["successes"]),
        failures=int(row["failures"]),
        user_email=row["email"] or None,
        app_name=client_id if saml else "Google Workspace",
        first_at=_micros(row["first_usec"]),
        last_at=_micros(row.get("last_ok_usec")),
        kind="saml" if saml else "sign_in",
    )


def _micros(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(int(value) / 1_000_000, UTC)


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None
