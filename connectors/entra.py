"""Microsoft Entra ID: users, service principals, permission grants and sign-ins from Graph.

Read-only, app-only (client credentials through msal), least privilege. Each stream names the
application permission it needs (https://learn.microsoft.com/en-us/graph/permissions-reference):

    stream           endpoint                                              permission
    users            GET /users                                            User.Read.All
    consents         GET /auditLogs/directoryAudits  ('Consent to application')  AuditLog.Read.All
    apps             GET /servicePrincipals[/delta]                        Application.Read.All
    grants           GET /oauth2PermissionGrants                           Directory.Read.All
                     GET /servicePrincipals/{id}/appRoleAssignments        Application.Read.All
    signins          GET /auditLogs/signIns (beta for non-interactive)     AuditLog.Read.All
    signin_activity  GET beta /reports/servicePrincipalSignInActivities    AuditLog.Read.All

Incremental scans:

- ``apps``: the first scan (or ``--full``) runs a complete delta round of
  ``/servicePrincipals/delta`` (documented to return every service principal that exists, with
  the ``$select``-ed fields, https://learn.microsoft.com/en-us/graph/delta-query-overview), so one
  listing both fills the inventory (``complete=True``) and yields the delta link kept as the
  ``apps_delta`` cursor. Later scans follow that link: only new, changed and removed service
  principals come back. Delta links live 7 days; an expired one (``syncStateNotFound``) starts a
  full round again
  (https://devblogs.microsoft.com/microsoft365dev/duration-of-change-tracking-tokens-for-identity-and-education-resources/).
- ``grants``: listed in full every scan (and marked complete). Delegated grants need the object
  id -> appId map of *every* service principal, and application permissions need the list of
  third-party service principals, so a delta scan also reads a lean index of service principals
  (five fields, 999 per page). A delta query on ``oauth2PermissionGrants`` would return removed
  grants by id only, which we could not map back to an app and user without keeping state.
- ``signins`` and ``consents``: filtered by time from the last watermark (first scan: the
  configured look-back); the cursor is the newest event time seen, saved after the last page.

Pacing: identity reports (sign-ins, directory audits, sign-in activity) allow 5 requests per
10 s per app per tenant (https://learn.microsoft.com/en-us/graph/throttling-limits), so those
requests wait on a ``reports`` RateLimiter; directory reads are limited far higher. 429/503 with
a (fractional) Retry-After are retried by ``scanner.http.HttpClient``.
"""

from __future__ import annotations

import csv
import functools
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote, urlsplit

import msal
import requests
from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS

from connectors.base import ConnectorContext, ConnectorSpec, Probe
from scanner.errors import AuthError, ConfigError, ConnectorError, ResponseShapeError
from scanner.http import HttpClient, HttpStatusError, RateLimiter, RetryPolicy, new_session
from scanner.models import (
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
from scanner.paging import Page, odata_pages
from scanner.settings import secret

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
# https://learn.microsoft.com/en-us/graph/api/signin-list). oauth2PermissionGrants,
# appRoleAssignments, directoryAudits and the beta activity report document no maximum, so we
# leave their page size to Graph.
DIRECTORY_PAGE = 999
SIGNIN_PAGE = 1000
CONSENT_ACTIVITY = "Consent to application"

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
    reports_calls: int = 5
    reports_period: float = 10.0
    """Identity reports allow 5 requests per 10 s per app per tenant
    (https://learn.microsoft.com/en-us/graph/throttling-limits)."""


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

    def third_party(self) -> list[str]:
        """Object ids of non-Microsoft application service principals, in listing order."""
        with self._lock:
            return [
                object_id
                for object_id, e in self._entries.items()
                if e.owner_tenant not in MICROSOFT_TENANTS
                and (e.sp_type or "Application") == "Application"
            ]


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
    """msal's http_client: our session (trusted CA, no env overrides) with a timeout."""

    def __init__(self, session: requests.Session, timeout: float) -> None:
        self._session, self._timeout = session, timeout

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return self._session.post(url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return self._session.get(url, **kwargs)

    def close(self) -> None:  # msal may close its client; the session is the context's
        pass


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
            raise ConnectorError(
                SOURCE,
                f"cannot reach the sign-in authority {self.settings.authority_host} "
                f"({type(err).__name__}); check authority_host, ca_bundle and the network",
            ) from None
        except ValueError as err:
            raise AuthError(
                SOURCE,
                f"tenant {self.settings.tenant_id} is unknown to {self.settings.authority_host} "
                f"({str(err).splitlines()[0][:200]}); check {KEY}.tenant_id and authority_host",
            ) from None

    def token(self) -> str:
        with self._lock:
            if self._app is None:
                self._app = self._build()
            try:
                result = self._app.acquire_token_for_client(scopes=[self.scope])
            except requests.RequestException as err:
                raise ConnectorError(
                    SOURCE,
                    f"cannot reach the token endpoint at {self.settings.authority_host} "
                    f"({type(err).__name__})",
                ) from None
        if result and result.get("access_token"):
            return str(result["access_token"])
        raise self._rejected(result or {})

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
            f"{self.settings.tenant_id} was rejected ({detail[:300]}). Fix: "
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
        sleep, clock = _paced_clock(ctx.sleep)
        policy = RetryPolicy(sleep=sleep)
        self.tokens = _Tokens(settings, credential, session, policy.timeout)
        self.client = HttpClient(
            SOURCE,
            session=session,
            policy=policy,
            limiters={
                "reports": RateLimiter(
                    settings.reports_calls, settings.reports_period, clock=clock, sleep=sleep
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

    # -- collect ---------------------------------------------------------------------------
    def collect(self, since: Mapping[str, str]) -> Iterator[SourceRecord]:
        cursors: Mapping[str, str] = {} if self.ctx.full else since
        self.tokens.token()  # a rejected credential stops the source before any stream
        yield from self._guarded("users", USER_READ, self._collect_users())
        consents = _Consents()
        yield from self._guarded("consents", AUDIT_READ, self._collect_consents(cursors, consents))
        index = _SpIndex()
        yield from self._guarded(
            "apps", APPLICATION_READ, self._collect_apps(cursors, consents, index)
        )
        yield from self._guarded("grants", DIRECTORY_READ, self._collect_grants(consents, index))
        yield from self._guarded("signins", AUDIT_READ, self._collect_signins(cursors))
        if self.settings.sign_in_activity:
            yield from self._guarded("signin_activity", AUDIT_READ, self._collect_sp_activity())

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
    def _collect_users(self) -> Iterator[SourceRecord]:
        params = {"$select": USER_FIELDS, "$top": DIRECTORY_PAGE}
        for page in self._pages(f"{self.v1}/users", params):
            for raw in page.items:
                user = parse_user(raw)
                if user.email:
                    self._emails[user.id] = user.email
                yield user
            yield Checkpoint(SOURCE, "users")
        yield Checkpoint(SOURCE, "users", complete=True)

    # consents ------------------------------------------------------------------------------
    def _collect_consents(
        self, cursors: Mapping[str, str], consents: _Consents
    ) -> Iterator[SourceRecord]:
        start = self._start("consents", cursors)
        params = {
            "$filter": f"activityDisplayName eq '{CONSENT_ACTIVITY}' "
            f"and activityDateTime ge {graph_time(start)}"
        }
        newest: datetime | None = None
        for page in self._pages(f"{self.v1}/auditLogs/directoryAudits", params, pace="reports"):
            for raw in page.items:
                parsed = parse_consent(raw)
                if parsed:
                    consents.add(*parsed)
                    newest = max(newest or parsed[2], parsed[2])
        yield Checkpoint(SOURCE, "consents", cursor=graph_time(newest or start))

    def _start(self, stream: str, cursors: Mapping[str, str]) -> datetime:
        stored = parse_time(cursors.get(stream))
        if stored is not None:
            return stored
        return self.ctx.now - timedelta(days=self.settings.signin_lookback_days)

    # apps ----------------------------------------------------------------------------------
    def _collect_apps(
        self, cursors: Mapping[str, str], consents: _Consents, index: _SpIndex
    ) -> Iterator[SourceRecord]:
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
            try:
                yield from self._apps_changes(link, consents, index)
                return
            except HttpStatusError as err:
                code, _message = _graph_error(err)
                if err.status not in (400, 410) or "sync" not in code.lower():
                    raise
                yield SourceWarning(
                    SOURCE,
                    "apps",
                    f"the stored delta link has expired ({code}); listing all service "
                    "principals again",
                )
        yield from self._apps_delta_round(
            f"{self.v1}/servicePrincipals/delta", {"$select": SP_FIELDS}, consents, index
        )
        yield Checkpoint(SOURCE, "apps", complete=True)

    def _apps_delta_round(
        self,
        url: str,
        params: Mapping[str, Any] | None,
        consents: _Consents,
        index: _SpIndex,
    ) -> Iterator[SourceRecord]:
        delta_link: str | None = None
        for page in self._pages(url, params):
            for raw in page.items:
                if "@removed" in raw:
                    yield from self._removed_app(raw, index)
                    continue
                if "appId" not in raw and (entry := index.get(raw.get("id", ""))):
                    raw = {**raw, "appId": entry.app_id, "displayName": entry.name}
                app = parse_app(raw, consents.first(str(raw.get("id"))))
                index.add(raw)
                yield app
            yield Checkpoint(SOURCE, "apps")
            delta_link = page.delta_link or delta_link
        if not delta_link:
            raise ResponseShapeError(
                SOURCE, "the service principal delta round ended without a deltaLink"
            )
        yield Checkpoint(SOURCE, "apps_delta", cursor=delta_link)

    def _apps_changes(
        self, link: str, consents: _Consents, index: _SpIndex
    ) -> Iterator[SourceRecord]:
        # Grants need every service principal's appId and owner, not only the changed ones.
        params = {"$select": SP_INDEX_FIELDS, "$top": DIRECTORY_PAGE}
        for page in self._pages(f"{self.v1}/servicePrincipals", params):
            for raw in page.items:
                index.add(raw)
        yield from self._apps_delta_round(link, None, consents, index)

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

    def _delegated_grants(self, consents: _Consents, index: _SpIndex) -> Iterator[SourceRecord]:
        for page in self._pages(f"{self.v1}/oauth2PermissionGrants"):
            wanted = {g.get("clientId") for g in page.items} | {
                g.get("resourceId") for g in page.items
            }
            self._lookup_sps({w for w in wanted if w and w not in index}, index)
            for raw in page.items:
                client = index.get(_require(raw, "clientId", "permission grant"))
                if client is None:
                    yield SourceWarning(
                        SOURCE,
                        "grants",
                        f"grant {raw.get('id')} names service principal {raw['clientId']}, "
                        "which no longer exists",
                    )
                    continue
                user_id = raw.get("principalId")
                yield parse_grant(
                    raw,
                    client,
                    index.get(raw.get("resourceId") or ""),
                    self._emails.get(user_id or ""),
                    consents.first(raw["clientId"], user_id),
                )
            yield Checkpoint(SOURCE, "grants")

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
        for page in self._pages(url, pace="reports"):
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
