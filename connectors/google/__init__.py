"""Google Workspace: the directory, every user's third-party OAuth tokens, token audit events and
SSO sign-ins, read from the Admin SDK with a service account and domain-wide delegation.

Streams (all read-only):

- ``users``   Directory ``users.list`` (``admin.directory.user.readonly``): department, org unit,
  suspended, admin (https://developers.google.com/admin-sdk/directory/reference/rest/v1/users/list).
- ``apps`` and ``grants`` from Directory ``tokens.list`` per user
  (``admin.directory.user.security``; Google offers no read-only variant of that scope, and this
  connector never calls a write method;
  https://developers.google.com/admin-sdk/directory/reference/rest/v1/tokens/list). The calls go
  in Directory batch requests (at most 1,000 calls each,
  https://developers.google.com/admin-sdk/directory/v1/guides/batch). The first scan, ``--full``
  and every ``full_sweep_days`` sweep every user; the scans in between read the
  ``token`` audit log instead (``authorize`` -> Grant, ``revoke`` -> Removed). The first scan
  (and ``--full``) also reads the token log of the ``lookback_days`` window, before its sweep,
  so apps authorised and revoked before night one are seen (a revoke names its app too); a
  grant authorised in the window that the sweep finds no token for is removed.
- ``token_events``, ``login_events``, ``saml_events``: Reports ``activities.list``
  (``admin.reports.audit.readonly``,
  https://developers.google.com/admin-sdk/reports/reference/rest/v1/activities/list) from the last
  watermark minus an overlap, because Google's audit events arrive late
  (https://support.google.com/a/answer/7061566). The Reports API has no batching for
  activities (https://developers.google.com/admin-sdk/reports/v1/guides/batch).

The client library retries only when ``execute(num_retries=N)`` is set and ignores Retry-After,
so every call goes through ``_Caller``: 429, 5xx and 403 with a quota reason are retried with
the server's Retry-After or exponential backoff, within ``scanner.net.http.RetryPolicy`` bounds
(Directory quota errors: https://developers.google.com/admin-sdk/directory/v1/limits; the Reports
API signals quota with 503: https://developers.google.com/admin-sdk/reports/v1/limits).
Directory calls are paced under ``queries_per_minute`` (each call inside a batch counts).
Transport: googleapiclient's own calls (httplib2's interface through google-auth-httplib2), one
client per thread because httplib2 is not thread-safe, carried by ``transport.BoundedHttp`` over
our HTTP layer (``ConnectorContext.session``, else a session trusting ``ca_bundle``), so answers
are bounded in size and time and pinned to ``api_root`` and ``token_uri``.

The package: ``settings`` (``[sources.google]``, scopes), ``auth`` (the key and its delegated
credentials), ``calls`` (retries and Google's error bodies), ``transport`` (``BoundedHttp``),
``parse`` (pure parsers) and ``collect`` (the connector and its streams).
"""

from __future__ import annotations

from connectors.base import ConnectorContext, ConnectorSpec
from connectors.google.auth import build_credentials, load_key
from connectors.google.collect import GoogleConnector
from connectors.google.settings import (
    SCOPE_REPORTS,
    SCOPE_TOKENS,
    SCOPE_USERS,
    SCOPES,
    SOURCE,
    GoogleSettings,
    delegation_help,
)

__all__ = [
    "SCOPES",
    "SCOPE_REPORTS",
    "SCOPE_TOKENS",
    "SCOPE_USERS",
    "SOURCE",
    "SPEC",
    "GoogleConnector",
    "GoogleSettings",
    "build_credentials",
    "delegation_help",
    "factory",
    "load_key",
]


def factory(settings: GoogleSettings, context: ConnectorContext) -> GoogleConnector:
    return GoogleConnector(settings, context)


SPEC = ConnectorSpec(
    "google",
    GoogleSettings,
    factory,
    "Google Workspace: users, third-party OAuth tokens, token/login/SAML audit events",
    capabilities=frozenset({"first_party_by_name"}),
)
