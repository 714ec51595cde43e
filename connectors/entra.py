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
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote, urlsplit

import msal
import requests
from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS

from connectors.base import ConnectorContext, ConnectorSpec, Probe, transport_policy
from connectors.tokens import (
    DISCOVERY_FIELDS,
    TOKEN_FIELDS,
    answer_problem,
    endpoint,
    not_a_token_answer,
    unavailable,
)
from scanner.core.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    ResponseShapeError,
    RetryableError,
)
from scanner.core.models import (
    Checkpoint,
    ConsentType,
    Grant,
    RawApp,
    Removed,
    SignIn,
    Skipped,
    SourceRecord,
    SourceWarning,
    User,
)
from scanner.core.names import one_line
from scanner.core.settings import secret
from scanner.net.http import HttpClient, HttpStatusError, RateLimiter, new_session
from scanner.net.paging import Page, odata_pages

log = logging.getLogger(__name__)

SOURCE = "entra"
KEY = f"sources.{SOURCE}"

# Least-privileged application permissions per collection (each Graph API page lists them,
# e.g. https://learn.microsoft.com/en-us/graph/api/serviceprincipal-list).
USER_READ = "User.Read.All"
APPLICATION_READ = "Application.Read.All"
DIRECTORY_READ = "Directory.Read.All"
AUDIT_READ = "AuditLog.Read.All"

# Tenants that own Microsoft's first-party apps (appOwnerOrganizationId); their service
# principals hold no third-party app permissions worth listing.
MICROSOFT_TENANTS = frozenset(
    {"f8cdef31-a31e-4b4a-93e4-5f571e91255a", "72f988bf-86f1-41af-91ab-2d7cd011db47"}
)
DEFAULT_ACCESS_ROLE = "00000000-0000-0000-0000-000000000000"
"""appRoleId of an assignment without a role ("default access"), not a permission."""

# $select trimmed to the fields we use. Users: department, userType and accountEnabled are
# "returned only on $select" (https://learn.microsoft.com/en-us/graph/api/user-list).
USER_FIELDS = "id,userPrincipalName,mail,displayName,department,jobTitle,accountEnabled,userType"
SP_FIELDS = (
    "id,appId,displayName,appDisplayName,publisherName,verifiedPublisher,"
    "appOwnerOrganizationId,servicePrincipalType,homepage,info,replyUrls,tags,accountEnabled,"
    "preferredSingleSignOnMode"
)
SP_INDEX_FIELDS = "id,appId,displayName,appOwnerOrganizationId,servicePrincipalType"
# Largest pages: users and servicePrincipals 999 (default 100); signIns 1,000
# (https://learn.microsoft.com/en-us/graph/api/user-list,
# https://learn.microsoft.com/en-us/graph/api/serviceprincipal-list,
# https://learn.microsoft.com/en-us/graph/api/signin-list). oauth2PermissionGrants "supports the
# OData query parameters" (https://learn.microsoft.com/en-us/graph/api/oauth2permissiongrant-list)
# and the beta activity report "$top, $filter and $orderby"
# (https://learn.microsoft.com/en-us/graph/api/reportroot-list-serviceprincipalsigninactivities),
# neither with a documented maximum; directory reads reject a $top above 999 ("must be between 1
# and 999 inclusive"), so both ask for 999 instead of the default page of 100. A report that
# refuses it answers 400, which becomes a warning for that stream. appRoleAssignments and
# directoryAudits pages are usually one page per app or per night, so we leave their size to Graph.
DIRECTORY_PAGE = 999
ACTIVITY_PAGE = 999
SIGNIN_PAGE = 1000
CONSENT_ACTIVITY = "Consent to application"
GRANT_ACTIVITIES = (
    "Add delegated permission grant",
    "Remove delegated permission grant",
    "Add app role assignment to service principal",
    "Remove app role assignment from service principal",
)
"""Audit activities that change an app's grants (category ApplicationManagement, service Core
Directory: https://learn.microsoft.com/en-us/entra/identity/monitoring-health/reference-audit-activities).
The grant and app-role events name the resource (e.g. Microsoft Graph) as the target and the
client in the ``ServicePrincipal.ObjectID`` modified property."""
QUEUED_PAGES = 32
"""Sign-in pages (1,000 parsed sign-ins each, ~0.5 MB) the background listing reads ahead
while the directory streams run. With 4 the reader stalls after 4 pages and the directory
phase barely overlaps the report budget; 32 bounds the read-ahead to ~16 MB."""

_DATA = Path(__file__).resolve().parent.parent / "scanner" / "data" / "microsoft"
GRAPH_APP_ROLES_CSV = _DATA / "GraphAppRoles.csv"


@dataclass(frozen=True, kw_only=True)
class EntraSettings:
    """``[sources.entra]``: one app registration in one tenant (see docs/entra.md)."""

    enabled: bool = True
    tenant_id: str
    """Directory (tenant) ID or a verified domain such as ``contoso.onmicrosoft.com``."""
    client_id: str
    """Application (client) ID of the app registration."""
    client_secret_env: str | None = None
    client_secret_file: str | None = None
    certificate_thumbprint: str | None = None
    """SHA-1 thumbprint (hex) of the certificate uploaded to the app registration."""
    private_key_env: str | None = None
    private_key_file: str | None = None
    """PEM private key of that certificate (recommended over a client secret)."""
    authority_host: str = "https://login.microsoftonline.com"
    """National clouds: https://login.microsoftonline.us, https://login.chinacloudapi.cn."""
    graph_url: str = "https://graph.microsoft.com"
    """National clouds: https://graph.microsoft.us, https://microsoftgraph.chinacloudapi.cn."""
    ca_bundle: str | None = None
    """PEM bundle to trust (TLS-inspecting proxies, local test servers)."""
    signin_lookback_days: int = 30
    """First scan: how far back to read sign-ins (P1/P2 keep 30 days, Free 7)."""
    non_interactive_signins: bool = False
    """Also read non-interactive sign-ins (beta ``signInEventTypes``); many in big tenants."""
    sign_in_activity: bool = True
    """Read the per-app last sign-in (beta ``servicePrincipalSignInActivities``)."""
    concurrency: int = 4
    """Parallel requests for per-app calls (app-role assignments, lookups)."""
    full_sweep_days: int = 7
    """Days between full listings of users and grants; scans in between read only changes
    (users delta, the audit log's grant events). 0 lists everything on every scan."""
    reports_calls: int = 5
    reports_period: float = 10.0
    """Identity reports allow 5 requests per 10 s per app per tenant
    (https://learn.microsoft.com/en-us/graph/throttling-limits)."""
    timeout: float = 60.0
    """Seconds to wait for a connection and for each read of an answer."""
    deadline_hours: float = 4.0
    """The source ends ``failed`` after this long, keeping what it collected."""
    max_response_mib: int = 64
    """The largest single answer accepted (a page of 1,000 Graph sign-ins is about 1.5 MiB)."""


@dataclass(frozen=True)
class _Credential:
    kind: str
    """``secret`` or ``certificate``."""
    value: Any = field(repr=False)


@dataclass
class _SpEntry:
    app_id: str
    name: str | None
    owner_tenant: str | None
    sp_type: str | None

    @property
    def third_party(self) -> bool:
        """Not Microsoft's own, and an application (not a managed identity)."""
        return (
            self.owner_tenant not in MICROSOFT_TENANTS
            and (self.sp_type or "Application") == "Application"
        )


class _SpIndex:
    """Service principal object id -> appId, name, owner; thread-safe for the lookups."""

    def __init__(self) -> None:
        self._entries: dict[str, _SpEntry] = {}
        self._lock = threading.Lock()

    def add(self, raw: Mapping[str, Any]) -> None:
        entry = _SpEntry(
            raw["appId"],
            raw.get("displayName") or raw.get("appDisplayName"),
            raw.get("appOwnerOrganizationId"),
            raw.get("servicePrincipalType"),
        )
        with self._lock:
            self._entries[raw["id"]] = entry

    def get(self, object_id: str) -> _SpEntry | None:
        with self._lock:
            return self._entries.get(object_id)

    def __contains__(self, object_id: object) -> bool:
        with self._lock:
            return object_id in self._entries

    def known(self) -> set[str]:
        with self._lock:
            return set(self._entries)

    def third_party(self) -> list[str]:
        """Object ids of non-Microsoft application service principals, in listing order."""
        with self._lock:
            return [object_id for object_id, e in self._entries.items() if e.third_party]


@dataclass
class _Consents:
    """Earliest 'Consent to application' time per service principal (and per consenting user)."""

    by_app: dict[str, datetime] = field(default_factory=dict)
    by_user: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def add(self, sp_id: str, user_id: str | None, at: datetime) -> None:
        if sp_id not in self.by_app or at < self.by_app[sp_id]:
            self.by_app[sp_id] = at
        if user_id:
            key = (sp_id, user_id)
            if key not in self.by_user or at < self.by_user[key]:
                self.by_user[key] = at

    def first(self, sp_id: str, user_id: str | None = None) -> datetime | None:
        if user_id and (sp_id, user_id) in self.by_user:
            return self.by_user[(sp_id, user_id)]
        return self.by_app.get(sp_id)


# -- pure parsing --------------------------------------------------------------------------

_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(Z|z|[+-]\d{1,2}(?::?\d{2})?)?$"
)


def parse_time(value: Any) -> datetime | None:
    """Parse a Graph timestamp leniently into aware UTC.

    Accepts 7-digit fractions (``...41.6195833Z``) and the beta activity report's invalid offsets
    such as ``2021-03-01T00:00:00-8:00``; no offset means UTC. Unparseable -> None.
    """
    if not isinstance(value, str):
        return None
    if value[-1:] == "Z" and len(value) <= 27:
        # The common shapes (``2026-11-20T06:00:00Z``, ``...:00.123456Z``) take the fast path.
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    match = _TIME.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        stamp = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, UTC
        )
    except ValueError:
        return None
    if offset and offset not in ("Z", "z"):
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        hours, minutes = (digits[:-2], digits[-2:]) if len(digits) > 2 else (digits, "0")
        stamp -= sign * timedelta(hours=int(hours), minutes=int(minutes))
    return stamp


def graph_time(value: datetime) -> str:
    """A DateTimeOffset literal for ``$filter`` (unquoted, UTC, whole seconds)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _require(raw: Mapping[str, Any], key: str, what: str) -> Any:
    value = raw.get(key)
    if value in (None, ""):
        raise ResponseShapeError(SOURCE, f"a {what} from Graph lacks '{key}'")
    return value


R = TypeVar("R")


def _shaped(what: str) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """A parser whose wrongly typed field (a list for a string, a bool for an object) fails
    as ResponseShapeError naming the item kind, like a missing one, instead of a crash."""

    def wrap(parse: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(parse)
        def parsed(*args: Any, **kwargs: Any) -> R:
            try:
                return parse(*args, **kwargs)
            except (KeyError, TypeError, ValueError, AttributeError) as err:
                raise ResponseShapeError(
                    SOURCE, f"a {what} from Graph is malformed ({type(err).__name__}: {err})"
                ) from None

        return parsed

    return wrap


@_shaped("user")
def parse_user(raw: Mapping[str, Any]) -> User:
    upn = raw.get("userPrincipalName") or None
    return User(
        source=SOURCE,
        id=_require(raw, "id", "user"),
        email=raw.get("mail") or upn,
        display_name=raw.get("displayName") or None,
        department=raw.get("department") or None,
        job_title=raw.get("jobTitle") or None,
        enabled=raw.get("accountEnabled") is not False,
        is_guest=raw.get("userType") == "Guest",
    )


_SSO_KINDS = {"saml": "saml", "password": "sso", "oidc": "oauth"}


@_shaped("service principal")
def parse_app(raw: Mapping[str, Any], created: datetime | None = None) -> RawApp:
    """A service principal -> RawApp (client_id = appId, object_id = service principal id)."""
    app_id = _require(raw, "appId", "service principal")
    verified = raw.get("verifiedPublisher") or {}
    info = raw.get("info") or {}
    return RawApp(
        source=SOURCE,
        client_id=app_id,
        name=raw.get("displayName") or raw.get("appDisplayName") or app_id,
        kind=_SSO_KINDS.get(raw.get("preferredSingleSignOnMode") or "", "oauth"),
        publisher=raw.get("publisherName") or verified.get("displayName") or None,
        publisher_verified=bool(verified.get("verifiedPublisherId")),
        publisher_tenant=raw.get("appOwnerOrganizationId") or None,
        homepage=raw.get("homepage") or info.get("marketingUrl") or None,
        reply_urls=tuple(raw.get("replyUrls") or ()),
        enabled=raw.get("accountEnabled") is not False,
        created=created,
        object_id=_require(raw, "id", "service principal"),
        tags=tuple(raw.get("tags") or ()),
    )


_CONSENT_TYPES: dict[str, ConsentType] = {"AllPrincipals": "admin", "Principal": "user"}


@_shaped("permission grant")
def parse_grant(
    raw: Mapping[str, Any],
    client: _SpEntry,
    resource: _SpEntry | None,
    user_email: str | None = None,
    granted_at: datetime | None = None,
) -> Grant:
    """A delegated oauth2PermissionGrant -> Grant; ``scope`` is space-separated."""
    consent = _CONSENT_TYPES.get(_require(raw, "consentType", "permission grant"), "user")
    user_id = raw.get("principalId") if consent == "user" else None
    return Grant(
        source=SOURCE,
        client_id=client.app_id,
        user_id=user_id or None,
        scopes=tuple((raw.get("scope") or "").split()),
        consent_type=consent,
        resource=resource.name if resource else None,
        granted_at=granted_at,
        user_email=user_email if user_id else None,
    )


@_shaped("sign-in")
def parse_signin(raw: Mapping[str, Any]) -> SignIn:
    at = parse_time(_require(raw, "createdDateTime", "sign-in"))
    if at is None:
        raise ResponseShapeError(SOURCE, f"sign-in {raw.get('id')} has an unreadable time")
    status = raw.get("status") or {}
    return SignIn(
        source=SOURCE,
        event_id=_require(raw, "id", "sign-in"),
        client_id=_require(raw, "appId", "sign-in"),
        at=at,
        user_id=raw.get("userId") or None,
        user_email=raw.get("userPrincipalName") or None,
        app_name=raw.get("appDisplayName") or None,
        success=status.get("errorCode", 0) == 0,
        interactive=raw.get("isInteractive") is not False,
    )


_ACTIVITY_KEYS = (
    "lastSignInActivity",
    "delegatedClientSignInActivity",
    "delegatedResourceSignInActivity",
    "applicationAuthenticationClientSignInActivity",
    "applicationAuthenticationResourceSignInActivity",
)


@_shaped("sign-in activity")
def parse_sp_activity(raw: Mapping[str, Any]) -> SignIn | None:
    """The beta per-app last sign-in -> one SignIn without a user (None if never signed in)."""
    app_id = _require(raw, "appId", "sign-in activity")
    times = [parse_time((raw.get(key) or {}).get("lastSignInDateTime")) for key in _ACTIVITY_KEYS]
    known = [t for t in times if t is not None]
    if not known:
        return None
    # lastSignInActivity is documented as the latest of the others; take the max in case not.
    at = times[0] or max(known)
    return SignIn(
        source=SOURCE,
        event_id=f"spsa:{app_id}:{graph_time(at)}",
        client_id=app_id,
        at=at,
        user_id=None,
        interactive=False,
    )


@_shaped("directory audit")
def parse_consent(raw: Mapping[str, Any]) -> tuple[str, str | None, datetime] | None:
    """A 'Consent to application' audit -> (service principal id, consenting user id, time)."""
    if raw.get("result") not in (None, "success"):
        return None
    at = parse_time(raw.get("activityDateTime"))
    targets = raw.get("targetResources") or []
    sp_ids = [
        t.get("id")
        for t in targets
        if str(t.get("type") or t.get("Type") or "").lower() == "serviceprincipal" and t.get("id")
    ]
    if at is None or not sp_ids:
        return None
    user = (raw.get("initiatedBy") or {}).get("user") or {}
    return sp_ids[0], user.get("id") or None, at


def _json_text(value: Any) -> str | None:
    """A modifiedProperties value: a JSON-encoded string (quotes included), sometimes plain."""
    if not isinstance(value, str) or not value:
        return None
    try:
        decoded = json.loads(value)
    except ValueError:
        decoded = value
    if not isinstance(decoded, str):
        return None
    return decoded.strip() or None


@_shaped("directory audit")
def parse_grant_change(raw: Mapping[str, Any]) -> tuple[frozenset[str], datetime] | None:
    """A grant or app-role audit event -> (client service principal ids, time).

    For ``Add/Remove delegated permission grant`` and ``Add/Remove app role assignment to/from
    service principal`` the target is the resource (e.g. Microsoft Graph) and the client is in its
    ``ServicePrincipal.ObjectID`` modified property; a target without that property (``Consent to
    application``) is the client itself.
    """
    if raw.get("result") not in (None, "success"):
        return None
    at = parse_time(raw.get("activityDateTime"))
    clients: set[str] = set()
    for target in raw.get("targetResources") or []:
        if str(target.get("type") or target.get("Type") or "").lower() != "serviceprincipal":
            continue
        named = [
            _json_text(prop.get(side))
            for prop in target.get("modifiedProperties") or []
            if prop.get("displayName") == "ServicePrincipal.ObjectID"
            for side in ("newValue", "oldValue")
        ]
        if any(named):
            clients.update(n for n in named if n)
        elif target.get("id"):
            clients.add(str(target["id"]))
    if at is None or not clients:
        return None
    return frozenset(clients), at


def load_graph_app_roles(path: Path = GRAPH_APP_ROLES_CSV) -> dict[str, str]:
    """Microsoft Graph app-role id -> permission name from the shipped table (may be absent)."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return {row["Id"].lower(): row["Value"] for row in csv.DictReader(handle)}
    except OSError:
        log.debug("%s not found; app roles resolve through Graph only", path)
        return {}


def _graph_error(err: HttpStatusError) -> tuple[str, str]:
    body = err.body if isinstance(err.body, dict) else {}
    error = body.get("error")
    if not isinstance(error, dict):
        error = {}
    return str(error.get("code") or ""), str(error.get("message") or "")


def _grant_sps(grants: Iterable[Mapping[str, Any]]) -> set[str]:
    """Service principal ids (clients and resources) that delegated grants name."""
    return {
        str(object_id)
        for raw in grants
        for object_id in (raw.get("clientId"), raw.get("resourceId"))
        if object_id
    }


def _expired_delta(err: HttpStatusError) -> str | None:
    """The error code when a stored delta link has expired (syncStateNotFound, resyncRequired).

    https://learn.microsoft.com/en-us/graph/delta-query-overview
    """
    code, _message = _graph_error(err)
    if err.status in (400, 410) and "sync" in code.lower():
        return code
    return None


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- credentials ---------------------------------------------------------------------------


def _read_credential(settings: EntraSettings, ctx: ConnectorContext) -> _Credential:
    has_secret = bool(settings.client_secret_env or settings.client_secret_file)
    has_cert = bool(
        settings.certificate_thumbprint or settings.private_key_env or settings.private_key_file
    )
    if has_secret and has_cert:
        raise ConfigError(
            f"{KEY}: set either client_secret_env/_file or certificate_thumbprint with "
            f"private_key_env/_file, not both"
        )
    if has_cert:
        if not settings.certificate_thumbprint:
            raise ConfigError(
                f"{KEY}.certificate_thumbprint: required with a private key (the hex thumbprint "
                "shown under Certificates & secrets)"
            )
        thumbprint = settings.certificate_thumbprint.replace(":", "").strip()
        if not re.fullmatch(r"[0-9A-Fa-f]{40}", thumbprint):
            raise ConfigError(
                f"{KEY}.certificate_thumbprint: expected 40 hex digits (SHA-1), got "
                f"{len(thumbprint)} characters"
            )
        key = secret(
            settings.private_key_env,
            settings.private_key_file,
            f"{KEY}.private_key",
            ctx.config_path,
        )
        if not key or "PRIVATE KEY" not in key:
            raise ConfigError(f"{KEY}.private_key: not a PEM private key")
        return _Credential("certificate", {"private_key": key, "thumbprint": thumbprint})
    value = secret(
        settings.client_secret_env,
        settings.client_secret_file,
        f"{KEY}.client_secret",
        ctx.config_path,
    )
    return _Credential("secret", value)


class _MsalHttp:
    """msal's http_client: our session (trusted CA, no env overrides) with a timeout.

    Every answer is checked before msal reads it (``connectors.tokens``): on an HTML page, an
    empty body or JSON of the wrong shape msal raises a parser error and logs the whole body;
    here it becomes one RetryableError naming the authority's origin. msal asks only for JSON:
    the OpenID discovery document (GET) and tokens (POST)."""

    def __init__(self, session: requests.Session, timeout: float) -> None:
        self._session, self._timeout = session, timeout

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return _msal_answer(self._session.post(url, **kwargs), url)

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        response = self._session.get(url, **kwargs)
        if urlsplit(url).path.endswith("/.well-known/openid-configuration"):
            return _msal_answer(response, url, DISCOVERY, DISCOVERY_FIELDS)
        return _msal_answer(response, url, "the sign-in authority", ())

    def close(self) -> None:  # msal may close its client; the session is the context's
        pass


DISCOVERY = "the sign-in authority's discovery document"


def _msal_answer(
    response: requests.Response,
    url: str,
    what: str = "the token endpoint",
    fields: tuple[str, ...] = TOKEN_FIELDS,
) -> requests.Response:
    """``response`` if msal can read it; 429/5xx and non-token answers raise our error."""
    where = f"{KEY}.authority_host"
    status = response.status_code
    if status == 429 or status >= 500:
        raise unavailable(SOURCE, url, status, where, what)
    problem = answer_problem(status, response.headers.get("Content-Type"), response.content, fields)
    if problem is not None:
        expected = "a discovery document" if fields == DISCOVERY_FIELDS else "a token response"
        raise not_a_token_answer(SOURCE, url, status, problem, where, what, expected)
    return response


_AADSTS = re.compile(r"AADSTS\d+")
_TOKEN_FIXES = {
    "AADSTS7000215": "the secret value is wrong: copy the secret's Value (not its ID) into {where}",
    "AADSTS7000222": "the secret has expired: create a new one under Certificates & secrets",
    "AADSTS700027": "the certificate does not match: upload it to the app registration and "
    "check certificate_thumbprint",
    "AADSTS700016": "the app is not in this tenant: check client_id and tenant_id",
    "AADSTS90002": "the tenant was not found: check tenant_id and authority_host",
}


class _Tokens:
    """App-only Graph tokens from msal; msal caches them until 5 minutes before expiry."""

    def __init__(
        self,
        settings: EntraSettings,
        credential: _Credential,
        session: requests.Session,
        timeout: float,
    ) -> None:
        self.settings = settings
        self._credential = credential
        self._http = _MsalHttp(session, timeout)
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()
        self.scope = f"{settings.graph_url.rstrip('/')}/.default"

    @property
    def authority(self) -> str:
        return f"{self.settings.authority_host.rstrip('/')}/{self.settings.tenant_id}"

    def _what(self) -> str:
        if self._credential.kind == "certificate":
            return f"the certificate {self.settings.certificate_thumbprint}"
        return "the client secret"

    def _build(self) -> msal.ConfidentialClientApplication:
        host = urlsplit(self.settings.authority_host).hostname or ""
        try:
            return msal.ConfidentialClientApplication(
                self.settings.client_id,
                client_credential=self._credential.value,
                authority=self.authority,
                http_client=self._http,
                # Off the well-known clouds (a proxy, a local test server) msal's instance
                # discovery would call login.microsoftonline.com; the authority is configured.
                instance_discovery=host in WELL_KNOWN_AUTHORITY_HOSTS,
                token_cache=msal.TokenCache(),
            )
        except requests.RequestException as err:
            raise RetryableError(
                SOURCE,
                f"cannot reach the sign-in authority at {endpoint(self.authority)} "
                f"({type(err).__name__}); check authority_host, ca_bundle and the network",
            ) from None
        except ValueError:
            # msal's text may quote what the server sent (a 4xx body, an endpoint URL): not ours
            # to print. Bodies that are not discovery documents were refused by _msal_answer.
            raise AuthError(
                SOURCE,
                f"tenant {self.settings.tenant_id} is unknown to {endpoint(self.authority)} (its "
                "discovery document answered an error or could not be used); check "
                f"{KEY}.tenant_id and authority_host",
            ) from None
        except (KeyError, TypeError, AttributeError) as err:
            raise self._unreadable(DISCOVERY, err) from None

    def token(self) -> str:
        with self._lock:
            if self._app is None:
                self._app = self._build()
            try:
                result = self._app.acquire_token_for_client(scopes=[self.scope])
            except requests.RequestException as err:
                raise RetryableError(
                    SOURCE,
                    f"cannot reach the token endpoint at {endpoint(self.authority)} "
                    f"({type(err).__name__}); check authority_host, ca_bundle and the network",
                ) from None
            except (ValueError, TypeError, KeyError, AttributeError) as err:
                # msal reading a JSON token answer of the wrong shape (an id_token that is not
                # a JWT, an expires_in that is not a number): the server's fault, not a bug.
                raise self._unreadable("the token endpoint", err) from None
        if not isinstance(result, dict):
            raise self._unreadable("the token endpoint", TypeError("no answer"))
        token = result.get("access_token")
        if isinstance(token, str) and token:
            return token
        if result.get("error"):
            raise self._rejected(result)
        raise not_a_token_answer(
            SOURCE, self.authority, 200, "JSON without access_token", f"{KEY}.authority_host"
        )

    def _unreadable(self, what: str, err: Exception) -> RetryableError:
        return RetryableError(
            SOURCE,
            f"{what} at {endpoint(self.authority)} answered with something msal cannot read "
            f"({type(err).__name__}), not a token response; check {KEY}.authority_host, or a "
            "proxy or captive portal in the way",
        )

    def _rejected(self, result: Mapping[str, Any]) -> AuthError:
        description = str(result.get("error_description") or result.get("error") or "no reason")
        first_line = description.splitlines()[0].strip()
        code_match = _AADSTS.search(first_line)
        code = code_match.group(0) if code_match else str(result.get("error") or "error")
        where = (
            f"{KEY}.client_secret_env/_file"
            if self._credential.kind == "secret"
            else f"{KEY}.private_key_env/_file"
        )
        fix = _TOKEN_FIXES.get(code, "check the app registration's credentials and consent")
        detail = first_line if first_line.startswith(code) else f"{code}: {first_line}"
        return AuthError(
            SOURCE,
            f"{self._what()} for app {self.settings.client_id} in tenant "
            f"{self.settings.tenant_id} was rejected ({one_line(detail, 300)}). Fix: "
            f"{fix.format(where=where)}",
        )

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}


# -- the connector -------------------------------------------------------------------------


class EntraConnector:
    """Collects one Entra tenant through Microsoft Graph (see the module docstring)."""

    name: ClassVar[str] = SOURCE

    def __init__(
        self,
        settings: EntraSettings,
        ctx: ConnectorContext,
        credential: _Credential | None = None,
    ) -> None:
        self.settings = settings
        self.ctx = ctx
        credential = credential or _read_credential(settings, ctx)
        session = ctx.session or new_session(settings.ca_bundle)
        self._base_sleep, clock = _paced_clock(ctx.sleep)
        self._real_sleep = ctx.sleep is None
        self._reader: _Background | None = None
        policy, deadline = transport_policy(SOURCE, settings, self._sleep)
        self.tokens = _Tokens(settings, credential, session, policy.timeout)
        self.client = HttpClient(
            SOURCE,
            session=session,
            policy=policy,
            origins=[settings.graph_url],
            origin_setting="graph_url",
            deadline=deadline,
            limiters={
                "reports": RateLimiter(
                    settings.reports_calls, settings.reports_period, clock=clock, sleep=self._sleep
                )
            },
            auth=self.tokens.headers,
        )
        graph = settings.graph_url.rstrip("/")
        self.v1 = f"{graph}/v1.0"
        self.beta = f"{graph}/beta"
        self._roles_by_resource: dict[str, dict[str, str]] = {}
        self._roles_lock = threading.Lock()
        self._graph_roles: dict[str, str] | None = None
        self._emails: dict[str, str] = {}
        self._grants_audit_next: str | None = None

    def _sleep(self, seconds: float) -> None:
        """Retry and pacing waits; the background sign-in listing ends here once cancelled."""
        reader = self._reader
        if reader is not None and reader.is_current():
            if reader.cancelled.is_set():
                raise _Cancelled
            if self._real_sleep:
                if reader.cancelled.wait(seconds):
                    raise _Cancelled
                return
        self._base_sleep(seconds)

    # -- collect ---------------------------------------------------------------------------
    def collect(self, since: Mapping[str, str]) -> Iterator[SourceRecord]:
        cursors: Mapping[str, str] = {} if self.ctx.full else since
        self.tokens.token()  # a rejected credential stops the source before any stream
        sweep = self._sweep_due(cursors)
        # The paced report listings start now and overlap the directory reads below.
        reader = self._reader = _Background(self._report_streams(cursors), QUEUED_PAGES)
        reader.start()
        try:
            yield from self._guarded("users", USER_READ, self._collect_users(cursors, sweep))
            consents = _Consents()
            changed: set[str] = set()
            audited = yield from self._collect_audits(cursors, sweep, consents, changed)
            index = _SpIndex()
            yield from self._guarded(
                "apps",
                APPLICATION_READ,
                self._collect_apps(cursors, consents, index, changed, sweep or not audited),
            )
            grants = (
                self._collect_grants(consents, index)
                if sweep or not audited
                else self._changed_grants(changed, consents, index)
            )
            yield from self._guarded("grants", DIRECTORY_READ, grants)
            yield from reader
        finally:
            reader.close()
            self._reader = None

    def _sweep_due(self, cursors: Mapping[str, str]) -> bool:
        """List users and grants in full: first scan, --full, or ``full_sweep_days`` passed."""
        last = parse_time(cursors.get("sweep"))
        if last is None or self.settings.full_sweep_days == 0:
            return True
        links = [cursors.get("users_delta"), cursors.get("apps_delta")]
        if not all(link and link.startswith(self.v1 + "/") for link in links):
            return True  # no change tracking yet, or saved against another graph_url
        if parse_time(cursors.get("grants_audit")) is None:
            return True
        return self.ctx.now - last >= timedelta(days=self.settings.full_sweep_days)

    def _report_streams(self, cursors: Mapping[str, str]) -> Generator[SourceRecord, None, None]:
        """The paced listings run by the background reader; the sign-in watermark comes last."""
        if self.settings.sign_in_activity:
            yield from self._guarded("signin_activity", AUDIT_READ, self._collect_sp_activity())
        yield from self._guarded("signins", AUDIT_READ, self._collect_signins(cursors))

    def _guarded(
        self, stream: str, permission: str, records: Iterator[SourceRecord]
    ) -> Iterator[SourceRecord]:
        """Run one stream; a 403 becomes Skipped (or a licence warning), others propagate."""
        try:
            yield from records
        except HttpStatusError as err:
            yield from self._translate(stream, permission, err)

    def _translate(
        self, stream: str, permission: str, err: HttpStatusError
    ) -> Iterator[SourceRecord]:
        code, message = _graph_error(err)
        where = urlsplit(err.response.url).path
        if err.status == 401:
            raise AuthError(
                SOURCE,
                f"Graph rejected the access token for app {self.settings.client_id} "
                f"({code or 'HTTP 401'}: {message[:200]}). Check that graph_url "
                f"({self.settings.graph_url}) belongs to the same cloud as authority_host",
            )
        if err.status == 403 and code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant":
            yield SourceWarning(
                SOURCE,
                stream,
                f"tenant {self.settings.tenant_id} has no Microsoft Entra ID P1 or P2 licence, "
                "which Graph needs for sign-in logs; sign-ins are not collected (grants and apps "
                "are). See https://learn.microsoft.com/en-us/entra/identity/monitoring-health/"
                "howto-configure-prerequisites-for-reporting-api",
            )
            return
        if err.status == 403:
            yield Skipped(SOURCE, stream, self._missing(permission, code), permission)
            return
        if stream == "signin_activity" and err.status in (400, 404):
            # Beta report, global cloud only
            # (https://learn.microsoft.com/en-us/graph/api/reportroot-list-serviceprincipalsigninactivities).
            yield SourceWarning(
                SOURCE,
                stream,
                f"the per-app sign-in activity report is not available here ({code or err.status});"
                " set sign_in_activity = false to stop asking",
            )
            return
        raise ConnectorError(
            SOURCE,
            f"{stream}: Graph answered HTTP {err.status} ({code}: {message[:200]}) for {where}",
        )

    def _missing(self, permission: str, code: str) -> str:
        return (
            f"the app registration {self.settings.client_id} lacks the Microsoft Graph "
            f"application permission {permission} (Graph answered 403 "
            f"{code or 'Forbidden'}). Add it under App registrations > API permissions > "
            "Add a permission > Microsoft Graph > Application permissions, then select "
            "'Grant admin consent' (docs/entra.md)"
        )

    def _pages(
        self, url: str, params: Mapping[str, Any] | None = None, pace: str | None = None
    ) -> Iterator[Page]:
        return odata_pages(self.client, url, params=params, pace=pace)

    # users ---------------------------------------------------------------------------------
    def _collect_users(self, cursors: Mapping[str, str], sweep: bool) -> Iterator[SourceRecord]:
        link = cursors.get("users_delta")
        changes = self._users_changes(link) if link and not sweep else None
        if changes and (yield from self._follow("users", "users", changes)):
            return
        latest = yield from self._users_delta_link()
        params = {"$select": USER_FIELDS, "$top": DIRECTORY_PAGE}
        for page in self._pages(f"{self.v1}/users", params):
            yield from self._users_page(page)
        yield Checkpoint(SOURCE, "users", complete=True)
        if latest:
            yield Checkpoint(SOURCE, "users_delta", cursor=latest)

    def _follow(
        self, stream: str, what: str, changes: Iterator[SourceRecord]
    ) -> Generator[SourceRecord, None, bool]:
        """Records from a stored delta link; False (after a warning) when the link expired."""
        try:
            yield from changes
        except HttpStatusError as err:
            code = _expired_delta(err)
            if code is None:
                raise
            yield SourceWarning(
                SOURCE,
                stream,
                f"the stored {what} delta link has expired ({code}); listing all {what} again",
            )
            return False
        return True

    def _users_delta_link(self) -> Generator[SourceRecord, None, str | None]:
        """A users delta link that starts now, without paging every user through delta."""
        params = {"$select": USER_FIELDS, "$deltatoken": "latest"}
        try:
            body, _ = self.client.get_json(f"{self.v1}/users/delta", params=params)
        except HttpStatusError as err:
            if err.status not in (400, 404, 501):
                raise
            code, _message = _graph_error(err)
            yield SourceWarning(
                SOURCE,
                "users",
                f"user change tracking is not available here ({code or err.status}); every "
                "scan lists all users",
            )
            return None
        link = body.get("@odata.deltaLink") if isinstance(body, dict) else None
        return link if isinstance(link, str) else None

    def _users_changes(self, link: str) -> Iterator[SourceRecord]:
        delta_link: str | None = None
        for page in self._pages(link):
            yield from self._users_page(page)
            delta_link = page.delta_link or delta_link
        if not delta_link:
            raise ResponseShapeError(SOURCE, "the users delta round ended without a deltaLink")
        yield Checkpoint(SOURCE, "users_delta", cursor=delta_link)

    def _users_page(self, page: Page) -> Iterator[SourceRecord]:
        for raw in page.items:
            if "@removed" in raw:
                yield Removed(SOURCE, "user", user_id=_require(raw, "id", "user"))
                continue
            user = parse_user(raw)
            if user.email:
                self._emails[user.id] = user.email
            yield user
        yield Checkpoint(SOURCE, "users")

    # audit log -----------------------------------------------------------------------------
    def _collect_audits(
        self,
        cursors: Mapping[str, str],
        sweep: bool,
        consents: _Consents,
        changed: set[str],
    ) -> Generator[SourceRecord, None, bool]:
        """Consent times; on incremental scans also the apps whose grants changed.

        Returns whether the grant changes could be read (False: list grants in full instead).
        """
        since_changes = None if sweep else parse_time(cursors.get("grants_audit"))
        yield from self._guarded(
            "consents",
            AUDIT_READ,
            self._collect_consents(cursors, consents, since_changes, changed),
        )
        if since_changes is None:
            return True
        try:
            newest = since_changes
            for activity in GRANT_ACTIVITIES:
                for raw in self._audit_events(activity, since_changes):
                    parsed = parse_grant_change(raw)
                    if parsed:
                        changed.update(parsed[0])
                        newest = max(newest, parsed[1])
        except HttpStatusError as err:
            if err.status != 403:
                yield from self._translate("grants", AUDIT_READ, err)  # raises ConnectorError
            return False  # the consents stream already said AuditLog.Read.All is missing
        self._grants_audit_next = graph_time(newest)
        return True

    def _audit_events(self, activity: str, since: datetime) -> Iterator[dict[str, Any]]:
        params = {
            "$filter": f"activityDisplayName eq '{activity}' and activityDateTime ge "
            f"{graph_time(since)}"
        }
        url = f"{self.v1}/auditLogs/directoryAudits"
        for page in self._pages(url, params, pace="reports"):
            yield from page.items

    # consents ------------------------------------------------------------------------------
    def _collect_consents(
        self,
        cursors: Mapping[str, str],
        consents: _Consents,
        since_changes: datetime | None = None,
        changed: set[str] | None = None,
    ) -> Iterator[SourceRecord]:
        start = self._start("consents", cursors)
        newest: datetime | None = None
        for raw in self._audit_events(CONSENT_ACTIVITY, start):
            parsed = parse_consent(raw)
            if parsed:
                consents.add(*parsed)
                newest = max(newest or parsed[2], parsed[2])
                if changed is not None and since_changes and parsed[2] >= since_changes:
                    changed.add(parsed[0])
        yield Checkpoint(SOURCE, "consents", cursor=graph_time(newest or start))

    def _start(self, stream: str, cursors: Mapping[str, str]) -> datetime:
        stored = parse_time(cursors.get(stream))
        if stored is not None:
            return stored
        return self.ctx.now - timedelta(days=self.settings.signin_lookback_days)

    # apps ----------------------------------------------------------------------------------
    def _collect_apps(
        self,
        cursors: Mapping[str, str],
        consents: _Consents,
        index: _SpIndex,
        changed: set[str],
        sweep: bool,
    ) -> Iterator[SourceRecord]:
        """Service principals; ``changed`` gains the ones a delta round reports new or changed."""
        link = cursors.get("apps_delta")
        if link and not link.startswith(self.v1 + "/"):
            # Saved against another Graph endpoint (graph_url changed, e.g. a national cloud):
            # following it would talk to the old host, so start a fresh round here.
            yield SourceWarning(
                SOURCE,
                "apps",
                "the stored delta link belongs to another Graph endpoint than "
                f"sources.entra.graph_url ({self.settings.graph_url}); listing all service "
                "principals again",
            )
            link = None
        if link:
            changes = self._apps_changes(link, consents, index, changed, sweep)
            if (yield from self._follow("apps", "service principals", changes)):
                return
        yield from self._apps_delta_round(
            f"{self.v1}/servicePrincipals/delta", {"$select": SP_FIELDS}, consents, index
        )
        yield Checkpoint(SOURCE, "apps", complete=True)
        changed.clear()  # a full round lists every app: nothing to compare against

    def _apps_delta_round(
        self,
        url: str,
        params: Mapping[str, Any] | None,
        consents: _Consents,
        index: _SpIndex,
        changed: set[str] | None = None,
    ) -> Iterator[SourceRecord]:
        delta_link: str | None = None
        for page in self._pages(url, params):
            for raw in page.items:
                object_id = str(raw.get("id") or "")
                if "@removed" in raw:
                    yield from self._removed_app(raw, index)
                    if changed is not None:
                        changed.discard(object_id)  # Removed(app) already retires its grants
                    continue
                if "appId" not in raw:
                    self._lookup_sps({object_id} - {""}, index)
                    if entry := index.get(object_id):
                        raw = {**raw, "appId": entry.app_id, "displayName": entry.name}
                app = parse_app(raw, consents.first(object_id))
                index.add(raw)
                if changed is not None:
                    changed.add(object_id)
                yield app
            yield Checkpoint(SOURCE, "apps")
            delta_link = page.delta_link or delta_link
        if not delta_link:
            raise ResponseShapeError(
                SOURCE, "the service principal delta round ended without a deltaLink"
            )
        yield Checkpoint(SOURCE, "apps_delta", cursor=delta_link)

    def _apps_changes(
        self, link: str, consents: _Consents, index: _SpIndex, changed: set[str], sweep: bool
    ) -> Iterator[SourceRecord]:
        if sweep:
            # Listing all grants needs every service principal's appId and owner, not only the
            # changed ones: a lean index (five fields, 999 a page).
            params = {"$select": SP_INDEX_FIELDS, "$top": DIRECTORY_PAGE}
            for page in self._pages(f"{self.v1}/servicePrincipals", params):
                for raw in page.items:
                    index.add(raw)
        yield from self._apps_delta_round(link, None, consents, index, changed)

    def _removed_app(self, raw: Mapping[str, Any], index: _SpIndex) -> Iterator[SourceRecord]:
        object_id = str(raw.get("id"))
        app_id = raw.get("appId") or self._deleted_app_id(object_id)
        if app_id:
            yield Removed(SOURCE, "app", client_id=app_id)
        else:
            yield SourceWarning(
                SOURCE,
                "apps",
                f"service principal {object_id} was deleted and is no longer readable; "
                "the next full scan (shadowit scan --full) marks its app gone",
            )

    def _deleted_app_id(self, object_id: str) -> str | None:
        """appId of a soft-deleted service principal (kept 30 days in deleted items)."""
        try:
            body, _ = self.client.get_json(
                f"{self.v1}/directory/deletedItems/{quote(object_id)}",
                params={"$select": "id,appId"},
            )
        except HttpStatusError as err:
            if err.status == 404:
                return None
            raise
        return body.get("appId") if isinstance(body, dict) else None

    # grants --------------------------------------------------------------------------------
    def _collect_grants(self, consents: _Consents, index: _SpIndex) -> Iterator[SourceRecord]:
        yield from self._delegated_grants(consents, index)
        try:
            yield from self._application_grants(index)
        except HttpStatusError as err:
            if err.status != 403:
                raise
            # Delegated grants are saved; without app-only ones the listing is not complete.
            yield from self._translate("grants", APPLICATION_READ, err)
            return
        yield Checkpoint(SOURCE, "grants", complete=True)
        # Grant changes from now on are read from the audit log until the next sweep.
        stamp = graph_time(self.ctx.now)
        yield Checkpoint(SOURCE, "grants_audit", cursor=stamp)
        yield Checkpoint(SOURCE, "sweep", cursor=stamp)

    def _delegated_grants(self, consents: _Consents, index: _SpIndex) -> Iterator[SourceRecord]:
        params = {"$top": DIRECTORY_PAGE}
        for page in self._pages(f"{self.v1}/oauth2PermissionGrants", params):
            self._lookup_sps(_grant_sps(page.items) - index.known(), index)
            for raw in page.items:
                yield self._delegated_grant(raw, index, consents)
            yield Checkpoint(SOURCE, "grants")

    def _delegated_grant(
        self, raw: Mapping[str, Any], index: _SpIndex, consents: _Consents
    ) -> Grant | SourceWarning:
        client = index.get(_require(raw, "clientId", "permission grant"))
        if client is None:
            return SourceWarning(
                SOURCE,
                "grants",
                f"grant {raw.get('id')} names service principal {raw['clientId']}, "
                "which no longer exists",
            )
        user_id = raw.get("principalId")
        return parse_grant(
            raw,
            client,
            index.get(raw.get("resourceId") or ""),
            self._emails.get(user_id or ""),
            consents.first(raw["clientId"], user_id),
        )

    def _changed_grants(
        self, changed: set[str], consents: _Consents, index: _SpIndex
    ) -> Iterator[SourceRecord]:
        """Incremental: re-read the grants of the apps that changed since the last scan.

        Each app's ``Removed(grant)`` comes first, then its current grants, so revoked ones end
        gone and kept ones stay (the store applies them in order). Never marked complete.
        """
        ids = sorted(changed)
        self._lookup_sps(set(ids) - index.known(), index)
        batch = max(1, self.settings.concurrency) * 8
        for chunk in _chunks(ids, batch):
            results = self._parallel(lambda object_id: self._grants_of(object_id, index), chunk)
            found = [g for delegated, _ in results for g in delegated]
            self._lookup_sps(_grant_sps(found) - index.known(), index)
            for object_id, (delegated, assignments) in zip(chunk, results, strict=True):
                client = index.get(object_id)
                if client is None:  # deleted meanwhile: the apps delta round retires it
                    continue
                yield Removed(SOURCE, "grant", client_id=client.app_id)
                for raw in delegated:
                    yield self._delegated_grant(raw, index, consents)
                if assignments:
                    yield from self._app_only_grants(client, assignments)
            yield Checkpoint(SOURCE, "grants")
        if self._grants_audit_next:
            yield Checkpoint(SOURCE, "grants_audit", cursor=self._grants_audit_next)

    def _grants_of(
        self, object_id: str, index: _SpIndex
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
        """One app's delegated grants and (third-party apps only) app-role assignments."""
        client = index.get(object_id)
        if client is None:
            return [], None
        params = {"$filter": f"clientId eq '{object_id}'", "$top": DIRECTORY_PAGE}
        url = f"{self.v1}/oauth2PermissionGrants"
        delegated = [item for page in self._pages(url, params) for item in page.items]
        assignments = self._assignments_of(object_id) if client.third_party else None
        return delegated, assignments

    def _lookup_sps(self, object_ids: set[str], index: _SpIndex) -> None:
        """Fetch service principals missing from the index (in parallel)."""

        def fetch(object_id: str) -> None:
            try:
                body, _ = self.client.get_json(
                    f"{self.v1}/servicePrincipals/{quote(object_id)}",
                    params={"$select": SP_INDEX_FIELDS},
                )
            except HttpStatusError as err:
                if err.status == 404:
                    return
                raise
            index.add(body)

        self._parallel(fetch, sorted(object_ids))

    def _parallel(self, work: Callable[[str], Any], items: list[str]) -> list[Any]:
        if not items:
            return []
        workers = max(1, min(self.settings.concurrency, len(items)))
        if workers == 1:
            return [work(item) for item in items]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="entra") as pool:
            return list(pool.map(work, items))

    def _application_grants(self, index: _SpIndex) -> Iterator[SourceRecord]:
        """App-only permissions: app-role assignments held by each third-party service principal."""
        batch = max(1, self.settings.concurrency) * 8
        for chunk in _chunks(index.third_party(), batch):
            results = self._parallel(self._assignments_of, chunk)
            for object_id, assignments in zip(chunk, results, strict=True):
                client = index.get(object_id)
                if client is None or assignments is None:
                    continue
                yield from self._app_only_grants(client, assignments)
            yield Checkpoint(SOURCE, "grants")

    def _assignments_of(self, object_id: str) -> list[dict[str, Any]] | None:
        url = f"{self.v1}/servicePrincipals/{quote(object_id)}/appRoleAssignments"
        try:
            assignments = [item for page in self._pages(url) for item in page.items]
        except HttpStatusError as err:
            if err.status == 404:  # deleted since it was listed
                return None
            raise
        for item in assignments:
            self._roles_of(str(item.get("resourceId") or ""))
        return assignments

    def _app_only_grants(
        self, client: _SpEntry, assignments: Iterable[Mapping[str, Any]]
    ) -> Iterator[Grant]:
        by_resource: dict[str, list[Mapping[str, Any]]] = {}
        for item in assignments:
            if item.get("appRoleId") == DEFAULT_ACCESS_ROLE or item.get("deletedDateTime"):
                continue
            by_resource.setdefault(str(item.get("resourceId") or ""), []).append(item)
        for resource_id, items in by_resource.items():
            roles = self._roles_of(resource_id)
            names = tuple(
                roles.get(str(i.get("appRoleId")).lower()) or str(i.get("appRoleId")) for i in items
            )
            created = [t for t in (parse_time(i.get("createdDateTime")) for i in items) if t]
            yield Grant(
                source=SOURCE,
                client_id=client.app_id,
                user_id=None,
                scopes=names,
                consent_type="application",
                resource=items[0].get("resourceDisplayName") or None,
                granted_at=min(created) if created else None,
            )

    def _roles_of(self, resource_id: str) -> dict[str, str]:
        """App-role id -> permission name for a resource service principal (cached).

        Falls back to the shipped Microsoft Graph table (scanner/data/microsoft) for ids the
        resource does not list, or when it cannot be read.
        """
        # One lock for the few resources (usually only Microsoft Graph): each is read once.
        with self._roles_lock:
            if resource_id not in self._roles_by_resource:
                self._roles_by_resource[resource_id] = self._fetch_roles(resource_id)
            return self._roles_by_resource[resource_id]

    def _fetch_roles(self, resource_id: str) -> dict[str, str]:
        if self._graph_roles is None:
            self._graph_roles = load_graph_app_roles()
        roles = dict(self._graph_roles)
        if resource_id:
            try:
                body, _ = self.client.get_json(
                    f"{self.v1}/servicePrincipals/{quote(resource_id)}",
                    params={"$select": "id,appId,appRoles"},
                )
                for role in body.get("appRoles") or []:
                    if role.get("id") and role.get("value"):
                        roles[str(role["id"]).lower()] = str(role["value"])
            except HttpStatusError as err:
                if err.status not in (403, 404):
                    raise
        return roles

    # sign-ins ------------------------------------------------------------------------------
    def _collect_signins(self, cursors: Mapping[str, str]) -> Iterator[SourceRecord]:
        start = self._start("signins", cursors)
        since_filter = f"createdDateTime ge {graph_time(start)}"
        listings = [(f"{self.v1}/auditLogs/signIns", since_filter)]
        if self.settings.non_interactive_signins:
            # v1.0 lists interactive sign-ins only; beta filters on signInEventTypes
            # (https://learn.microsoft.com/en-us/graph/api/signin-list?view=graph-rest-beta).
            listings.append(
                (
                    f"{self.beta}/auditLogs/signIns",
                    f"{since_filter} and signInEventTypes/any(t: t eq 'nonInteractiveUser')",
                )
            )
        newest: datetime | None = None
        for url, query in listings:
            params = {"$filter": query, "$top": SIGNIN_PAGE}
            for page in self._pages(url, params, pace="reports"):
                for raw in page.items:
                    signin = parse_signin(raw)
                    newest = max(newest or signin.at, signin.at)
                    yield signin
                yield Checkpoint(SOURCE, "signins")
        yield Checkpoint(SOURCE, "signins", cursor=graph_time(newest or start))

    def _collect_sp_activity(self) -> Iterator[SourceRecord]:
        url = f"{self.beta}/reports/servicePrincipalSignInActivities"
        for page in self._pages(url, {"$top": ACTIVITY_PAGE}, pace="reports"):
            for raw in page.items:
                signin = parse_sp_activity(raw)
                if signin is not None:
                    yield signin
            yield Checkpoint(SOURCE, "signin_activity")

    # doctor --------------------------------------------------------------------------------
    PROBES: ClassVar[tuple[tuple[str, str, str], ...]] = (
        (USER_READ, "users", "$select=id&$top=1"),
        (APPLICATION_READ, "servicePrincipals", "$select=id&$top=1"),
        (DIRECTORY_READ, "oauth2PermissionGrants", "$top=1"),
        (AUDIT_READ, "auditLogs/directoryAudits", "$top=1"),
        (AUDIT_READ + " (sign-in logs, P1 licence)", "auditLogs/signIns", "$top=1"),
    )

    def check(self) -> Iterator[Probe]:
        try:
            self.tokens.token()
        except (AuthError, ConnectorError) as err:
            yield Probe(SOURCE, "token", False, str(err), "see docs/entra.md, Troubleshooting")
            return
        yield Probe(
            SOURCE,
            "token",
            True,
            f"app {self.settings.client_id} got a token from tenant {self.settings.tenant_id}",
        )
        for permission, path, query in self.PROBES:
            yield self._probe(permission, path, query)

    def _probe(self, permission: str, path: str, query: str) -> Probe:
        pace = "reports" if path.startswith("auditLogs") else None
        try:
            self.client.get_json(f"{self.v1}/{path}?{query}", pace=pace)
        except HttpStatusError as err:
            code, message = _graph_error(err)
            if code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant":
                return Probe(
                    SOURCE,
                    permission,
                    False,
                    "the tenant has no Entra ID P1/P2 licence: sign-ins will be skipped",
                    "sign-in logs through Graph need Microsoft Entra ID P1 or P2",
                )
            base = permission.split(" ")[0]
            return Probe(
                SOURCE,
                permission,
                False,
                f"GET /{path}: HTTP {err.status} {code}: {message[:120]}",
                self._missing(base, code) if err.status == 403 else None,
            )
        return Probe(SOURCE, permission, True, f"GET /{path} answered")


class _Cancelled(Exception):
    """The consumer stopped the scan: the background listing ends at its next wait or page."""


class _Failure:
    """An exception raised on the background thread, re-raised to the consumer as it was."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


_DONE = object()


class _Background:
    """Runs a record generator on a thread and hands its pages over through a bounded queue.

    A page is the records up to and including a Checkpoint. The consumer iterates the reader to
    get the records in order; an exception on the thread reaches the consumer unchanged, after
    the records yielded before it. ``close()`` (also when the consumer stops early) cancels the
    thread: it stops at its next page or wait (see ``EntraConnector._sleep``).
    """

    def __init__(self, records: Generator[SourceRecord, None, None], pages: int) -> None:
        self._records = records
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=pages)
        self.cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, name="entra-signins", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def is_current(self) -> bool:
        return threading.current_thread() is self._thread

    def _run(self) -> None:
        page: list[SourceRecord] = []
        try:
            for record in self._records:
                page.append(record)
                if isinstance(record, Checkpoint):
                    if not self._put(page):
                        return
                    page = []
            self._put(page)
            self._put(_DONE)
        except _Cancelled:
            return
        except BaseException as err:  # handed to the consumer, which raises it  # noqa: BLE001
            self._put(page)
            self._put(_Failure(err))
        finally:
            self._records.close()

    def _put(self, item: Any) -> bool:
        """Wait for room in the queue; False once cancelled."""
        while not self.cancelled.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[SourceRecord]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield from item

    def close(self, wait: float = 10.0) -> None:
        """Cancel the thread and wait a little for it (an HTTP request in flight finishes)."""
        self.cancelled.set()
        if self._thread.is_alive():
            self._thread.join(wait)
        if self._thread.is_alive():
            log.debug("the background sign-in listing is still finishing a request")


def _paced_clock(
    sleep: Callable[[float], None] | None,
) -> tuple[Callable[[float], None], Callable[[], float]]:
    """The sleep and clock for retries and pacing.

    With an injected (fake) sleep the pacing clock advances by the time "slept", so the rate
    limiter neither spins nor really waits in tests, and its waits show up in the recorded sleeps.
    """
    if sleep is None:
        return time.sleep, time.monotonic
    slept = [0.0]
    lock = threading.Lock()
    inject = sleep

    def fake_sleep(seconds: float) -> None:
        inject(seconds)
        with lock:
            slept[0] += seconds

    def clock() -> float:
        return time.monotonic() + slept[0]

    return fake_sleep, clock


def _factory(settings: EntraSettings, ctx: ConnectorContext) -> EntraConnector:
    if not settings.authority_host.startswith("https://"):
        raise ConfigError(f"{KEY}.authority_host: must start with https:// (msal requires it)")
    for key in ("tenant_id", "client_id"):
        if not getattr(settings, key).strip():
            raise ConfigError(f"{KEY}.{key}: must not be empty")
    if settings.concurrency < 1 or settings.reports_calls < 1 or settings.reports_period <= 0:
        raise ConfigError(f"{KEY}: concurrency and reports_calls must be >= 1, reports_period > 0")
    return EntraConnector(settings, ctx)


SPEC = ConnectorSpec(
    SOURCE,
    EntraSettings,
    _factory,
    "Microsoft Entra ID: users, enterprise apps, delegated and application permission grants, "
    "sign-ins (Microsoft Graph, app-only)",
)
