"""Where the Entra connector reads sign-ins when not from Graph: ``signins = "log_analytics"``.

The workspace reader needs the ``logs`` extra (``azure-monitor-query``); it is imported only
when the setting asks for it, so a Graph-only install never needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import requests

from connectors.base import ConnectorContext
from connectors.entra.auth import _Credential, _Tokens
from connectors.entra.settings import KEY, EntraSettings
from scanner.core.errors import ConfigError

if TYPE_CHECKING:
    from connectors.entra.log_analytics import LogAnalyticsSignins


def open_log_analytics(
    settings: EntraSettings,
    credential: _Credential,
    session: requests.Session,
    sleep: Callable[[float], None],
    ctx: ConnectorContext,
) -> LogAnalyticsSignins | None:
    """The workspace reader when ``signins = "log_analytics"``, else None."""
    if settings.signins != "log_analytics":
        return None
    try:
        from connectors.entra.log_analytics import LogAnalyticsSignins
    except ImportError:
        raise ConfigError(
            f'{KEY}.signins = "log_analytics" needs the logs extra (azure-monitor-query): '
            "pip install 'shadow-it-scanner[logs]'"
        ) from None
    # Its own msal app: the token it holds is for the workspace API, not Graph.
    tokens = _Tokens(settings, credential, session, settings.timeout)
    return LogAnalyticsSignins(settings, tokens, session, sleep, ctx.now)
