"""``[sources.entra]``: the app registration, the clouds and the pacing (see docs/entra.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from scanner.core.errors import ConfigError
from scanner.core.settings import InputFile, Range, check_ranges

SOURCE = "entra"
KEY = f"sources.{SOURCE}"


@dataclass(frozen=True, kw_only=True)
class EntraSettings:
    """``[sources.entra]``: one app registration in one tenant (see docs/entra.md)."""

    enabled: bool = True
    tenant_id: str
    """Directory (tenant) ID or a verified domain such as ``contoso.onmicrosoft.com``."""
    client_id: str
    """Application (client) ID of the app registration."""
    client_secret_env: str | None = None
    client_secret_file: InputFile | None = None
    certificate_thumbprint: str | None = None
    """SHA-1 thumbprint (hex) of the certificate uploaded to the app registration."""
    private_key_env: str | None = None
    private_key_file: InputFile | None = None
    """PEM private key of that certificate (recommended over a client secret)."""
    authority_host: str = "https://login.microsoftonline.com"
    """National clouds: https://login.microsoftonline.us, https://login.chinacloudapi.cn."""
    graph_url: str = "https://graph.microsoft.com"
    """National clouds: https://graph.microsoft.us, https://microsoftgraph.chinacloudapi.cn."""
    ca_bundle: InputFile | None = None
    """PEM bundle to trust (TLS-inspecting proxies, local test servers); relative to the
    config file."""
    signin_lookback_days: Annotated[
        int, Range(1, 30, why="Entra keeps sign-ins for 30 days (P1/P2), 7 without a licence")
    ] = 30
    """First scan: how far back to read sign-ins. P1/P2 keep them 30 days, Free 7:
    https://learn.microsoft.com/en-us/entra/identity/monitoring-health/reference-reports-data-retention
    """
    non_interactive_signins: bool = False
    """Also read non-interactive sign-ins (beta ``signInEventTypes``); many in big tenants."""
    sign_in_activity: bool = True
    """Read the per-app last sign-in (beta ``servicePrincipalSignInActivities``)."""
    concurrency: Annotated[int, Range(1, 64)] = 4
    """Parallel requests for per-app calls (app-role assignments, lookups)."""
    full_sweep_days: Annotated[int, Range(0, 365)] = 7
    """Days between full listings of users and grants; scans in between read only changes
    (users delta, the audit log's grant events). 0 lists everything on every scan."""
    reports_calls: Annotated[int, Range(1, 1000)] = 5
    reports_period: Annotated[float, Range(0, 3600, above=True)] = 10.0
    """Identity reports allow 5 requests per 10 s per app per tenant
    (https://learn.microsoft.com/en-us/graph/throttling-limits)."""
    signins: str = "graph"
    """Where sign-ins are read: ``graph`` (the sign-in listing) or ``log_analytics`` (the
    workspace Entra's diagnostic settings send ``SigninLogs`` to, counted there per app, person
    and day; docs/entra.md, "Sign-ins from Log Analytics")."""
    workspace_id: str | None = None
    """The Log Analytics workspace ID (a GUID, Overview > Workspace ID); with signins =
    "log_analytics"."""
    service_principal_signins: bool = False
    """With signins = "log_analytics": also count app-only sign-ins per app and day
    (``AADServicePrincipalSignInLogs``), evidence that an app is in use with no person."""
    log_analytics_url: str = "https://api.loganalytics.io"
    """The Log Analytics query endpoint (national clouds: https://api.loganalytics.us,
    https://api.loganalytics.azure.cn)."""
    log_analytics_shards: Annotated[int, Range(1, 256)] = 4
    """Queries per day, split by a hash of the user id, so each answer stays under the query
    API's 500,000 rows and ~100 MiB (raise it for tenants above ~100,000 people)."""
    log_analytics_trailing_days: Annotated[int, Range(1, 30)] = 3
    """Days re-read on every scan: logs reach the workspace late (up to days for a new one)."""
    log_analytics_concurrency: Annotated[int, Range(1, 5)] = 5
    """Queries in flight: the query API runs 5 at a time per identity and queues the rest."""
    log_analytics_retries: Annotated[int, Range(0, 10)] = 4
    """Retries of a throttled (429) or failed (5xx) query before its day and shard is given up
    (the source ends partial and the next scan reads that day again)."""
    timeout: Annotated[float, Range(0, 3600, above=True)] = 60.0
    """Seconds to wait for a connection and for each read of an answer."""
    deadline_hours: Annotated[float, Range(0, 168, above=True)] = 4.0
    """The source ends ``failed`` after this long, keeping what it collected."""
    max_response_mib: Annotated[int, Range(1, 4096)] = 64
    """The largest single answer accepted (a page of 1,000 Graph sign-ins is about 1.5 MiB)."""


def validate(settings: EntraSettings) -> None:
    """ConfigError naming the setting for values msal or the pacing cannot use."""
    if not settings.authority_host.startswith("https://"):
        raise ConfigError(f"{KEY}.authority_host: must start with https:// (msal requires it)")
    for key in ("tenant_id", "client_id"):
        if not getattr(settings, key).strip():
            raise ConfigError(f"{KEY}.{key}: must not be empty")
    check_ranges(settings, KEY)
    if settings.signins not in ("graph", "log_analytics"):
        raise ConfigError(f'{KEY}.signins: "graph" or "log_analytics", not {settings.signins!r}')
    if settings.signins == "log_analytics":
        _validate_log_analytics(settings)


def _validate_log_analytics(settings: EntraSettings) -> None:
    if not (settings.workspace_id or "").strip():
        raise ConfigError(
            f'{KEY}.workspace_id: required with signins = "log_analytics" (the workspace\'s '
            "Overview page shows its Workspace ID)"
        )
    if not settings.log_analytics_url.startswith("https://"):
        raise ConfigError(f"{KEY}.log_analytics_url: must start with https://")
