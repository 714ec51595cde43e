"""``[sources.okta]``: the org, and either an API token or an OAuth service app."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated
from urllib.parse import urlsplit

from connectors.base import ConnectorContext
from scanner.core.errors import ConfigError
from scanner.core.settings import InputFile, Range, check_ranges

SOURCE = "okta"
READ_SCOPES = ("okta.apps.read", "okta.users.read", "okta.logs.read")

# The System Log keeps 90 days; a `since` older than 180 days is refused with E0000053
# (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/SystemLog/).
LOG_RETENTION_DAYS = 90


@dataclass(frozen=True)
class OktaSettings:
    """``[sources.okta]``: the org, and either an API token or an OAuth service app."""

    org_url: str
    """``https://acme.okta.com`` (not the ``-admin`` URL)."""
    enabled: bool = True
    token_env: str | None = None
    """Environment variable holding an API token (sent as ``SSWS``)."""
    token_file: InputFile | None = None
    client_id: str | None = None
    """OAuth service app client id; with ``private_key_env`` or ``private_key_file``."""
    private_key_env: str | None = None
    """Environment variable holding the service app's private key (PEM or JWK JSON)."""
    private_key_file: InputFile | None = None
    key_id: str | None = None
    """``kid`` of the key registered on the service app, when it has several."""
    scopes: tuple[str, ...] = READ_SCOPES
    ca_bundle: InputFile | None = None
    """PEM bundle to trust (a TLS-inspecting proxy's CA); relative to the config file."""
    lookback_days: Annotated[
        int, Range(1, LOG_RETENTION_DAYS, why="the System Log keeps 90 days")
    ] = 30
    """First scan (or ``--full``): read this many days of System Log (Okta keeps 90)."""
    slowdown_remaining: Annotated[float, Range(0, 0.99)] = 0.1
    """Wait for the rate-limit reset once fewer than this share of calls remain."""
    concurrency: Annotated[int, Range(1, 75)] = 4
    """App-user listings fetched in parallel (Okta's org concurrency limit is 75 by default,
    https://developer.okta.com/docs/reference/rl2-concurrency/)."""
    timeout: Annotated[float, Range(0, 3600, above=True)] = 60.0
    """Seconds to wait for a connection and for each read of an answer."""
    deadline_hours: Annotated[float, Range(0, 168, above=True)] = 4.0
    """The source ends ``failed`` after this long, keeping what it collected."""
    max_response_mib: Annotated[int, Range(1, 4096)] = 64
    """The largest single answer accepted (a page of 1,000 Graph sign-ins is about 1.5 MiB)."""


def _org_url(settings: OktaSettings, context: ConnectorContext) -> str:
    where = f" ({context.config_path})" if context.config_path else ""
    url = settings.org_url.strip().rstrip("/")
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ConfigError(
            f"sources.okta.org_url: {settings.org_url!r} is not an https:// URL, "
            f"e.g. https://acme.okta.com{where}"
        )
    if parts.hostname and "-admin." in parts.hostname:
        raise ConfigError(
            f"sources.okta.org_url: use the org URL, not the admin console "
            f"({parts.hostname.replace('-admin.', '.')}){where}"
        )
    check_ranges(settings, "sources.okta", context.config_path)
    return f"{parts.scheme}://{parts.netloc}"


def _replace_org(settings: OktaSettings, org_url: str) -> OktaSettings:
    return replace(settings, org_url=org_url)
