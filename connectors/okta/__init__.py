"""Okta: SSO apps, who is assigned to them, the directory, and System Log sign-ins and consents.

Streams (all read-only, each behind one OAuth scope):

- ``users``   ``GET /api/v1/users`` (``okta.users.read``): department, title, status.
- ``apps``    ``GET /api/v1/apps`` (``okta.apps.read``): one RawApp per app integration, tagged
  ``okta:<name>`` with the integration's ``name`` (the same in every org for Okta's own apps:
  ``saasure``, ``okta_enduser``...), so the analysis knows Okta's built-in apps as first-party.
- ``grants``  ``GET /api/v1/apps/{id}/users`` (``okta.apps.read``): one Grant per assigned user, so
  the users of an SSO app are counted even when they never signed in during the lookback.
- ``signins`` ``GET /api/v1/logs`` (``okta.logs.read``): ``user.authentication.sso`` events become
  SignIns, OAuth consent events become Grants.

Auth is an API token (``Authorization: SSWS ...``) or an OAuth 2.0 service app that signs a
private-key JWT (https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/);
``private_key_jwt`` is the only client authentication Okta accepts for Okta-scoped tokens.

Paging follows ``Link: <...>; rel="next"`` (https://developer.okta.com/docs/api/#pagination).
Rate limits come back on every answer as ``X-Rate-Limit-Limit`` / ``-Remaining`` / ``-Reset``
(reset in UTC epoch seconds, https://developer.okta.com/docs/reference/rl2-monitor/): when the
remaining share falls under ``slowdown_remaining`` we wait for the reset before the next request
to that endpoint family, and a 429 (``E0000047``) waits until the reset (``scanner.net.http``).

The package: ``settings`` (``[sources.okta]``), ``auth`` (API token, service app), ``pacing``
(rate-limit headers), ``parse`` (pure parsers), ``pump`` (listings side by side) and ``collect``
(the connector and its streams).
"""

from __future__ import annotations

from connectors.base import ConnectorContext, ConnectorSpec
from connectors.okta.auth import Auth, ServiceAppAuth, TokenAuth, build_auth, load_private_key
from connectors.okta.collect import OktaConnector
from connectors.okta.pacing import ResetPacer, pace_group
from connectors.okta.parse import (
    CONSENT_EVENTS,
    LOG_FILTER,
    SSO_EVENT,
    app_kind,
    format_time,
    parse_app,
    parse_app_user,
    parse_consent_event,
    parse_sso_event,
    parse_time,
    parse_user,
)
from connectors.okta.pump import parallel
from connectors.okta.settings import READ_SCOPES, SOURCE, OktaSettings

__all__ = [
    "CONSENT_EVENTS",
    "LOG_FILTER",
    "READ_SCOPES",
    "SOURCE",
    "SPEC",
    "SSO_EVENT",
    "Auth",
    "OktaConnector",
    "OktaSettings",
    "ResetPacer",
    "ServiceAppAuth",
    "TokenAuth",
    "app_kind",
    "build_auth",
    "factory",
    "format_time",
    "load_private_key",
    "pace_group",
    "parallel",
    "parse_app",
    "parse_app_user",
    "parse_consent_event",
    "parse_sso_event",
    "parse_time",
    "parse_user",
]


def factory(settings: OktaSettings, context: ConnectorContext) -> OktaConnector:
    return OktaConnector(settings, context)


SPEC = ConnectorSpec(
    SOURCE,
    OktaSettings,
    factory,
    "Okta: SSO apps and their users, the directory, System Log sign-ins and OAuth consents",
    # Every app carries the ``okta:<name>`` tag (``parse_app``): the app ``name`` is Okta's
    # global id of the integration (``saasure`` is the Admin Console in every org), which the
    # shipped okta_first_party.csv recognises. An app known only from the System Log has no
    # name, only its label, so Okta's own apps are recognised by their default label there.
    capabilities=frozenset({"first_party_ids", "first_party_by_name"}),
)
