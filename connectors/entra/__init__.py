"""Microsoft Entra ID: users, service principals, permission grants and sign-ins from Graph.

Read-only, app-only (client credentials through msal), least privilege. Each stream names the
application permission it needs (https://learn.microsoft.com/en-us/graph/permissions-reference):

    stream           endpoint                                              permission
    users            GET /users, /users/delta                              User.Read.All
    consents         GET /auditLogs/directoryAudits  ('Consent to application')  AuditLog.Read.All
    (grant changes)  GET /auditLogs/directoryAudits  (incremental scans)   AuditLog.Read.All
    apps             GET /servicePrincipals[/delta]                        Application.Read.All
    grants           GET /oauth2PermissionGrants                           Directory.Read.All
                     GET /servicePrincipals/{id}/appRoleAssignments        Application.Read.All
    signins          GET /auditLogs/signIns (beta for non-interactive)     AuditLog.Read.All
    signin_activity  GET beta /reports/servicePrincipalSignInActivities    AuditLog.Read.All

Full sweeps and incremental scans:

- A *full sweep* runs on the first scan, on ``--full`` and every ``full_sweep_days`` (default 7):
  users (``/users``), delegated grants (``/oauth2PermissionGrants``) and every third-party
  app's app-role assignments are listed in full and marked complete, so what is gone is marked
  gone. Before listing users it asks ``/users/delta?$deltatoken=latest`` for a delta link that
  starts "from now" without returning any user ("sync from now",
  https://learn.microsoft.com/en-us/graph/delta-query-overview), kept as ``users_delta``.
- In between, scans are *incremental* and never mark users or grants complete:

  - users: the ``users_delta`` link returns only new, changed and removed users
    (https://learn.microsoft.com/en-us/graph/api/user-delta); ``@removed`` -> ``Removed(user)``.
  - grants: the directory audit log since the ``grants_audit`` watermark names the service
    principals whose grants changed (activities ``Add delegated permission grant``,
    ``Remove delegated permission grant``, ``Add app role assignment to service principal``,
    ``Remove app role assignment from service principal`` and ``Consent to application``,
    https://learn.microsoft.com/en-us/entra/identity/monitoring-health/reference-audit-activities).
    ``activityDisplayName`` supports only ``eq`` and ``startswith`` in ``$filter``
    (https://learn.microsoft.com/en-us/graph/api/resources/directoryaudit), so each activity is
    one call. With the apps the service-principal delta round reports as new or changed, each
    such app's grants are read again: ``/oauth2PermissionGrants?$filter=clientId eq '{id}'``
    (the filter the list page recommends,
    https://learn.microsoft.com/en-us/graph/api/oauth2permissiongrant-list) and its
    app-role assignments. The connector yields ``Removed(grant, client_id=appId)`` first and
    then that app's current grants; the store applies them in that order.

- ``apps``: the first scan (or a sweep) runs a complete delta round of
  ``/servicePrincipals/delta`` (documented to return every service principal that exists, with
  the ``$select``-ed fields), so one listing both fills the inventory (``complete=True``) and
  yields the delta link kept as the ``apps_delta`` cursor. Later scans follow that link: only
  new, changed and removed service principals come back. Delta links live 7 days; an expired
  one (``syncStateNotFound``) starts a full round again
  (https://devblogs.microsoft.com/microsoft365dev/duration-of-change-tracking-tokens-for-identity-and-education-resources/),
  which is one more reason for the weekly sweep.
- ``signins`` and ``consents``: filtered by time from the last watermark (first scan: the
  configured look-back); the cursor is the newest event time seen, saved after the last page.

Pacing: identity reports (sign-ins, directory audits, sign-in activity) allow 5 requests per
10 s per app per tenant (https://learn.microsoft.com/en-us/graph/throttling-limits), so those
requests wait on a ``reports`` RateLimiter; directory reads are limited far higher. The sign-in
listings (the slow, paced part) run on a background thread from the start of ``collect()``
while the directory streams are read; their pages wait in a small bounded queue and are yielded
after the directory records, the sign-in watermark last. 429/503 with a (fractional)
Retry-After are retried by ``scanner.net.http.HttpClient``.

The package: ``settings`` (``[sources.entra]``), ``auth`` (credentials, msal tokens), ``graph``
(permissions, fields, page sizes, Graph's errors), ``parse`` (pure parsers), ``index`` (what a
scan learns: service principals, consent times), ``collect`` (the connector and its streams),
``grants`` (grant listings and per-app lookups) and ``pump`` (the background sign-in listing).
"""

from __future__ import annotations

from connectors.base import ConnectorContext, ConnectorSpec
from connectors.entra.collect import EntraConnector
from connectors.entra.graph import (
    APPLICATION_READ,
    AUDIT_READ,
    CONSENT_ACTIVITY,
    DIRECTORY_READ,
    GRANT_ACTIVITIES,
    USER_READ,
)
from connectors.entra.parse import (
    graph_time,
    load_graph_app_roles,
    parse_app,
    parse_consent,
    parse_grant,
    parse_grant_change,
    parse_signin,
    parse_sp_activity,
    parse_time,
    parse_user,
)
from connectors.entra.settings import KEY, SOURCE, EntraSettings, validate

__all__ = [
    "APPLICATION_READ",
    "AUDIT_READ",
    "CONSENT_ACTIVITY",
    "DIRECTORY_READ",
    "GRANT_ACTIVITIES",
    "KEY",
    "SOURCE",
    "SPEC",
    "USER_READ",
    "EntraConnector",
    "EntraSettings",
    "graph_time",
    "load_graph_app_roles",
    "parse_app",
    "parse_consent",
    "parse_grant",
    "parse_grant_change",
    "parse_signin",
    "parse_sp_activity",
    "parse_time",
    "parse_user",
]


def _factory(settings: EntraSettings, ctx: ConnectorContext) -> EntraConnector:
    validate(settings)
    return EntraConnector(settings, ctx)


SPEC = ConnectorSpec(
    SOURCE,
    EntraSettings,
    _factory,
    "Microsoft Entra ID: users, enterprise apps, delegated and application permission grants, "
    "sign-ins (Microsoft Graph, app-only)",
    capabilities=frozenset({"publisher_verification"}),
)
