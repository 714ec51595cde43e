"""Where the Google connector reads login and SAML sign-ins when not from the Reports API:
``events = "bigquery"``, the Workspace BigQuery export.

The reader needs the ``logs`` extra (``google-cloud-bigquery``); it is imported only when the
setting asks for it. It acts as the service account itself (no domain-wide delegation): the
export's dataset grants BigQuery roles to the account, not to an admin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from connectors.base import ConnectorContext
from connectors.google.auth import _Credentials
from connectors.google.settings import GoogleSettings
from scanner.core.errors import ConfigError

if TYPE_CHECKING:
    from connectors.google.bigquery import BigQueryEvents


def open_bigquery(
    settings: GoogleSettings, info: Mapping[str, Any], context: ConnectorContext
) -> BigQueryEvents | None:
    """The export reader when ``events = "bigquery"``, else None."""
    if settings.events != "bigquery":
        return None
    try:
        from connectors.google.bigquery import SCOPE, BigQueryEvents
    except ImportError:
        raise ConfigError(
            'sources.google.events = "bigquery" needs the logs extra (google-cloud-bigquery): '
            "pip install 'shadow-it-scanner[logs]'"
        ) from None
    credentials = _Credentials.from_service_account_info(
        {**info, "token_uri": settings.token_uri}, scopes=[SCOPE]
    )
    return BigQueryEvents(settings, credentials, context.now)
