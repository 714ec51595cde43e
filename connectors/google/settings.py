"""``[sources.google]``: the service account key, the admin it acts as, and pacing; the OAuth
scopes it needs and where an admin grants them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from scanner.core.errors import ConfigError
from scanner.core.names import email_problem, is_email, one_line
from scanner.core.settings import InputFile, Range, check_ranges

SOURCE = "google"
_AUTH = "https://www.googleapis.com/auth/"
SCOPE_USERS = _AUTH + "admin.directory.user.readonly"
SCOPE_REPORTS = _AUTH + "admin.reports.audit.readonly"
SCOPE_TOKENS = _AUTH + "admin.directory.user.security"
"""tokens.list accepts only this scope; it also allows tokens.delete, which we never call
(https://developers.google.com/admin-sdk/directory/reference/rest/v1/tokens/list)."""
SCOPES = (SCOPE_USERS, SCOPE_REPORTS, SCOPE_TOKENS)

MAX_BATCH = 1000
""""You're limited to 1000 calls in a single batch request"
(https://developers.google.com/admin-sdk/directory/v1/guides/batch)."""


@dataclass(frozen=True)
class GoogleSettings:
    """``[sources.google]``: the service account key, the admin it acts as, and pacing."""

    admin_email: str
    """A super admin (or an admin with the Users read and Reports privileges) to impersonate."""
    enabled: bool = True
    customer: str = "my_customer"
    """``my_customer`` is the account of the admin; or a customer ID like ``C03az79cb``."""
    key_file: InputFile | None = None
    """The service account's JSON key file (relative to the config file)."""
    key_env: str | None = None
    """Environment variable holding the JSON key itself."""
    api_root: str = "https://admin.googleapis.com/"
    token_uri: str = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL)
    """Replaces the key's ``token_uri`` (tests point it at 127.0.0.1)."""
    ca_bundle: InputFile | None = None
    """PEM bundle to trust (a TLS-inspecting proxy's CA); relative to the config file."""
    lookback_days: Annotated[
        int, Range(1, 180, why="the Reports API answers no further back than 180 days")
    ] = 30
    """First scan (or ``--full``): read this many days of token, login and SAML events. At most
    180: activities.list answers no further back than the last 180 days
    (https://developers.google.com/admin-sdk/reports/reference/rest/v1/activities/list)."""
    overlap_minutes: Annotated[int, Range(0, 24 * 60)] = 60
    """Re-read this much before the last watermark: audit events can arrive late
    (https://support.google.com/a/answer/7061566)."""
    full_sweep_days: Annotated[int, Range(0, 365)] = 7
    """Re-list every user's tokens this often (0: every scan); token events fill the days
    between."""
    batch_size: Annotated[int, Range(1, MAX_BATCH)] = 100
    """tokens.list calls per Directory batch request (at most 1,000)."""
    queries_per_minute: Annotated[int, Range(1, 1_000_000)] = 2400
    """Directory API default quota: 2,400 queries per minute per user per project
    (https://developers.google.com/admin-sdk/directory/v1/limits)."""
    concurrency: Annotated[int, Range(1, 64)] = 4
    """Batch requests in flight at once."""
    events: str = "reports"
    """Where login and SAML sign-ins are read: ``reports`` (the Reports API) or ``bigquery``
    (the Workspace BigQuery export, counted there per app, person and day; docs/google.md,
    "Events from the BigQuery export")."""
    project: str | None = None
    """The Google Cloud project that runs the queries (and holds the export dataset)."""
    dataset: str | None = None
    """The BigQuery dataset the Workspace export writes its ``activity`` table to."""
    bigquery_url: str = "https://bigquery.googleapis.com"
    """The BigQuery API endpoint (tests point it at 127.0.0.1)."""
    maximum_bytes_billed: Annotated[int, Range(1, 1024**5)] = 10 * 1024**3
    """The most one query may scan (bytes; 10 GiB): BigQuery refuses a query that would scan
    more, without charge. ``shadowit doctor`` prints the dry-run estimate."""
    bigquery_trailing_days: Annotated[int, Range(1, 30)] = 3
    """Days re-read on every scan: the export delivers events late."""
    bigquery_retry_seconds: Annotated[float, Range(0, 3600)] = 120.0
    """How long throttled (429) or failed (5xx) BigQuery calls are retried before the window
    is given up (the source ends partial and the next scan reads it again)."""
    timeout: Annotated[float, Range(0, 3600, above=True)] = 60.0
    """Seconds to wait for a connection and for each read of an answer."""
    deadline_hours: Annotated[float, Range(0, 168, above=True)] = 4.0
    """The source ends ``failed`` after this long, keeping what it collected."""
    max_response_mib: Annotated[int, Range(1, 4096)] = 64
    """The largest single answer accepted."""


def delegation_help(client_id: str) -> str:
    """Where an admin authorises our scopes for the service account."""
    return (
        "In the Admin console (admin.google.com) open Security > Access and data control > "
        f"API controls > Manage Domain Wide Delegation and add client ID {client_id} with the "
        f"scopes {','.join(SCOPES)}"
    )


def _validate(settings: GoogleSettings, config_path: Path | None) -> None:
    where = f" ({config_path})" if config_path else ""
    check_ranges(settings, "sources.google", config_path)
    if settings.events not in ("reports", "bigquery"):
        raise ConfigError(
            f'sources.google.events: "reports" or "bigquery", not {settings.events!r}{where}'
        )
    if settings.events == "bigquery":
        _validate_bigquery(settings, where)
    if not is_email(settings.admin_email):
        raise ConfigError(
            f"sources.google.admin_email: {one_line(repr(settings.admin_email), 200)} is not an "
            f"email address ({email_problem(settings.admin_email)}); name the admin the service "
            f"account acts as{where}"
        )
    if not settings.key_env and not settings.key_file:
        raise ConfigError(
            "sources.google.key: set sources.google.key_file (the service account's JSON key) "
            f"or sources.google.key_env (a variable holding it){where}"
        )


def _validate_bigquery(settings: GoogleSettings, where: str) -> None:
    for name in ("project", "dataset"):
        if not (getattr(settings, name) or "").strip():
            raise ConfigError(
                f'sources.google.{name}: required with events = "bigquery" (the project and '
                f"dataset of the Workspace BigQuery export){where}"
            )
    if settings.maximum_bytes_billed < 1:
        raise ConfigError(f"sources.google.maximum_bytes_billed: must be at least 1{where}")
    if not 1 <= settings.bigquery_trailing_days <= 30:
        raise ConfigError(f"sources.google.bigquery_trailing_days: 1 to 30{where}")
    if settings.bigquery_retry_seconds <= 0:
        raise ConfigError(f"sources.google.bigquery_retry_seconds: must be more than 0{where}")
