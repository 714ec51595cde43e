"""Pure parsers: Okta API items and System Log events -> records, on our payload files in
tests/payloads/okta."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from connectors.okta.settings import SOURCE
from connectors.streams import Shapes, strict_time, utc_millis
from scanner.core.models import SSO_OIDC, Grant, RawApp, SignIn, SourceRecord, User

T = TypeVar("T")

SSO_EVENT = "user.authentication.sso"
""""A user attempts a Single Sign-On (SSO) to an application managed in Okta"
(https://developer.okta.com/docs/reference/api/event-types/)."""
CONSENT_EVENTS = {
    # A user consents to an app's scopes on a custom authorization server
    # (https://help.okta.com/en-us/content/topics/workflows/connector-reference/okta/events/oauth2appconsentgranted.htm).
    "app.oauth2.as.consent.grant": "user",
    # An admin grants an app Okta API scopes on the org authorization server (event type catalog,
    # https://developer.okta.com/docs/reference/api/event-types/).
    "app.oauth2.admin.consent.grant": "admin",
}
LOG_FILTER = " or ".join(f'eventType eq "{t}"' for t in (SSO_EVENT, *CONSENT_EVENTS))

# signOnMode -> RawApp.kind (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/Application/)
_SAML_MODES = {"SAML_2_0", "SAML_1_1", "WS_FEDERATION"}
_OAUTH_MODES = {"OPENID_CONNECT"}
# User statuses that can no longer sign in
# (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/User/).
_DISABLED_STATUSES = {"DEPROVISIONED", "SUSPENDED"}
# Hosts that belong to Okta itself, never to the app behind an integration.
_OKTA_HOST_SUFFIXES = (".okta.com", ".oktapreview.com", ".okta-emea.com", ".oktacdn.com")


def parse_time(value: str | None) -> datetime | None:
    """Okta timestamps: ``2024-01-31T18:25:01.000Z``; None when absent, ValueError if unreadable."""
    return strict_time(value) if value else None


format_time = utc_millis
"""ISO 8601 in UTC with milliseconds, as the System Log takes ``since`` / ``until``."""


def _host(url: Any) -> str | None:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    host = (urlsplit(url).hostname or "").lower()
    if not host or host.endswith(_OKTA_HOST_SUFFIXES) or "{" in host:
        return None
    return host


def app_kind(sign_on_mode: str | None) -> str:
    if sign_on_mode in _SAML_MODES:
        return "saml"
    if sign_on_mode in _OAUTH_MODES:
        return "oauth"
    return "sso"


def parse_app(raw: Mapping[str, Any]) -> RawApp:
    """One ``/api/v1/apps`` item -> RawApp. Domains come from the app's own URLs.

    ``name`` is the integration's key (``salesforce``, or ``saasure`` for Okta's Admin Console:
    https://developer.okta.com/docs/api/openapi/okta-management/management/tag/Application/); it
    becomes the ``okta:<name>`` tag that the ``first_party_ids`` capability promises."""
    settings = raw.get("settings") or {}
    app_settings = settings.get("app") or {}
    oauth = settings.get("oauthClient") or {}
    urls: list[Any] = [v for v in app_settings.values() if isinstance(v, str)]
    reply_urls = tuple(u for u in oauth.get("redirect_uris") or () if isinstance(u, str))
    urls += [oauth.get("client_uri"), oauth.get("initiate_login_uri"), *reply_urls]
    domains = tuple(dict.fromkeys(h for h in map(_host, urls) if h))
    homepage = next(
        (u for u in urls if isinstance(u, str) and _host(u)),
        None,
    )
    name = raw.get("name")
    return RawApp(
        source=SOURCE,
        client_id=raw["id"],
        name=raw.get("label") or name or raw["id"],
        kind=app_kind(raw.get("signOnMode")),
        homepage=homepage,
        reply_urls=reply_urls,
        domains=domains,
        enabled=raw.get("status") == "ACTIVE",
        created=parse_time(raw.get("created")),
        # Every Okta app is signed in to through Okta; an OIDC one is marked so, as its kind
        # (oauth) does not say it.
        tags=(
            *((f"okta:{name}",) if name else ()),
            *((SSO_OIDC,) if raw.get("signOnMode") in _OAUTH_MODES else ()),
        ),
    )


def parse_app_user(app_id: str, raw: Mapping[str, Any]) -> Grant:
    """One ``/api/v1/apps/{id}/users`` item -> an SSO Grant (no OAuth scopes)."""
    profile = raw.get("profile") or {}
    credentials = raw.get("credentials") or {}
    embedded = (raw.get("_embedded") or {}).get("user") or {}
    email = (
        profile.get("email")
        or (embedded.get("profile") or {}).get("email")
        or _email_or_none(credentials.get("userName"))
    )
    return Grant(
        source=SOURCE,
        client_id=app_id,
        user_id=raw["id"],
        scopes=(),
        consent_type="user",
        resource="Okta",
        granted_at=parse_time(raw.get("created")),
        user_email=email or None,
    )


def parse_user(raw: Mapping[str, Any]) -> User:
    """One ``/api/v1/users`` item -> User."""
    profile = raw.get("profile") or {}
    full_name = " ".join(p for p in (profile.get("firstName"), profile.get("lastName")) if p)
    return User(
        source=SOURCE,
        id=raw["id"],
        email=profile.get("email") or _email_or_none(profile.get("login")),
        display_name=profile.get("displayName") or full_name or None,
        department=profile.get("department") or None,
        job_title=profile.get("title") or None,
        enabled=raw.get("status") not in _DISABLED_STATUSES,
        is_guest=(profile.get("userType") or "").lower() in ("guest", "contractor"),
        # The login is the sign-in name and often, not always, the email
        # (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/User/).
        aliases=tuple(a for a in (_email_or_none(profile.get("login")),) if a),
    )


def _email_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and "@" in value else None


def parse_sso_event(raw: Mapping[str, Any]) -> SignIn | None:
    """A ``user.authentication.sso`` event -> SignIn, or None when it names no app."""
    app = next((t for t in raw.get("target") or () if t.get("type") == "AppInstance"), None)
    if app is None or not app.get("id"):
        return None
    actor = raw.get("actor") or {}
    published = parse_time(raw["published"])
    if published is None:
        raise ValueError("'published' is empty")
    return SignIn(
        source=SOURCE,
        event_id=raw["uuid"],
        client_id=app["id"],
        at=published,
        user_id=actor.get("id") if actor.get("type") == "User" else None,
        user_email=_email_or_none(actor.get("alternateId")),
        app_name=app.get("displayName"),
        success=(raw.get("outcome") or {}).get("result") in (None, "SUCCESS", "ALLOW"),
        kind="sso",
    )


def parse_consent_event(raw: Mapping[str, Any]) -> Grant | None:
    """An OAuth consent event -> Grant, or None when it failed or names no client.

    The targets are the granted scopes; each carries ``detailEntry.publicclientapp`` (the client)
    and ``detailEntry.user``; an ``AppInstance`` target or a ``PublicClientApp`` actor also names
    the client.
    """
    if (raw.get("outcome") or {}).get("result") not in (None, "SUCCESS"):
        return None
    actor = raw.get("actor") or {}
    targets = [t for t in raw.get("target") or () if isinstance(t, dict)]
    details = [t.get("detailEntry") or {} for t in targets]
    client_id = next((d["publicclientapp"] for d in details if d.get("publicclientapp")), None)
    if client_id is None:
        client_id = next(
            (t.get("id") for t in targets if t.get("type") == "AppInstance"), None
        ) or (actor.get("id") if actor.get("type") == "PublicClientApp" else None)
    if not client_id:
        return None
    user_id = next((d["user"] for d in details if d.get("user")), None)
    if user_id is None and actor.get("type") == "User":
        user_id = actor.get("id")
    scope_types = ("AppInstance", "User", "AppUser", "PublicClientApp")
    scopes = tuple(
        dict.fromkeys(
            t["displayName"]
            for t in targets
            if t.get("displayName") and t.get("type") not in scope_types
        )
    )
    consent = CONSENT_EVENTS.get(raw["eventType"], "user")
    return Grant(
        source=SOURCE,
        client_id=client_id,
        user_id=user_id if consent == "user" else None,
        scopes=scopes,
        consent_type="admin" if consent == "admin" else "user",
        resource="Okta",
        granted_at=parse_time(raw.get("published")),
        user_email=_email_or_none(actor.get("alternateId")) if consent == "user" else None,
    )


def _parse_event(raw: Mapping[str, Any]) -> SourceRecord | None:
    if raw["eventType"] == SSO_EVENT:
        return parse_sso_event(raw)
    if raw["eventType"] in CONSENT_EVENTS:
        return parse_consent_event(raw)
    return None


_SHAPES = Shapes(SOURCE, "{what} lacks a field we need ({kind}: {error})")


def _parsed(parse: Callable[..., T], *args: Any, what: str) -> T:
    """Run a parser; a missing required field fails loudly instead of half-storing."""
    return _SHAPES.parse(what, parse, *args)
