"""Pure parsers: Graph items -> records, on our payload files in tests/payloads/entra.

Required fields are read with ``_require`` (None and "" count as missing); a field of the wrong
type fails as ResponseShapeError naming the item kind (``connectors.streams.Shapes``), so no
half-record is stored.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors.entra.index import _SpEntry
from connectors.entra.settings import SOURCE
from connectors.streams import Shapes, provider_time, utc_seconds
from scanner.core.errors import ResponseShapeError
from scanner.core.models import SSO_OIDC, ConsentType, Grant, RawApp, SignIn, User

log = logging.getLogger(__name__)

_DATA = Path(__file__).resolve().parents[2] / "scanner" / "data" / "microsoft"
GRAPH_APP_ROLES_CSV = _DATA / "GraphAppRoles.csv"

parse_time = provider_time
"""Parse a Graph timestamp leniently into aware UTC: 7-digit fractions (``...41.6195833Z``), the
beta activity report's invalid offsets such as ``2021-03-01T00:00:00-8:00``; no offset means
UTC; unparseable -> None."""
graph_time = utc_seconds
"""A DateTimeOffset literal for ``$filter`` (unquoted, UTC, whole seconds)."""

_SHAPES = Shapes(SOURCE, "a {what} from Graph is malformed ({kind}: {error})")
_shaped = _SHAPES.checked
"""A parser whose wrongly typed field (a list for a string, a bool for an object) fails
as ResponseShapeError naming the item kind, like a missing one, instead of a crash."""


def _require(raw: Mapping[str, Any], key: str, what: str) -> Any:
    value = raw.get(key)
    if value in (None, ""):
        raise ResponseShapeError(SOURCE, f"a {what} from Graph lacks '{key}'")
    return value


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
        aliases=_user_aliases(raw, upn),
    )


def _user_aliases(raw: Mapping[str, Any], upn: str | None) -> tuple[str, ...]:
    """The UPN, ``otherMails``, the SMTP ``proxyAddresses`` and, for a guest, the home address
    its UPN carries (``alice_contoso.com#EXT#@tenant.onmicrosoft.com`` -> alice@contoso.com)."""
    found: list[str] = [upn] if upn else []
    found += [m for m in raw.get("otherMails") or () if isinstance(m, str)]
    for proxy in raw.get("proxyAddresses") or ():
        kind, _, address = proxy.partition(":") if isinstance(proxy, str) else ("", "", "")
        if kind.strip().lower() == "smtp" and address.strip():
            found.append(address.strip())
    home = guest_home_address(upn)
    if home:
        found.append(home)
    return tuple(dict.fromkeys(a for a in found if "@" in a))


def guest_home_address(upn: str | None) -> str | None:
    """The home address of a B2B guest from its UPN (the ``@`` of the address becomes the last
    ``_`` before ``#EXT#``), or None when ``upn`` is no guest UPN."""
    local, marker, _tenant = (upn or "").partition("#EXT#")
    name, underscore, domain = local.rpartition("_")
    if not marker or not underscore or not name or "." not in domain:
        return None
    return f"{name}@{domain}"


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
        tags=(
            *(raw.get("tags") or ()),
            *((SSO_OIDC,) if raw.get("preferredSingleSignOnMode") == "oidc" else ()),
        ),
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
        kind="activity",
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
