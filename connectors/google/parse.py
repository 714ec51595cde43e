"""Pure parsers: Admin SDK items -> records, on our payload files in tests/payloads/google."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from connectors.google.settings import SOURCE
from connectors.streams import Shapes, strict_time, utc_millis
from scanner.core.errors import ResponseShapeError
from scanner.core.models import Grant, RawApp, Removed, SignIn, SourceRecord, User

T = TypeVar("T")

LOGIN_APP_ID = "google-workspace"
"""``client_id`` of sign-ins to Google itself (``login`` events); no app record is made for it."""

# Event names of the Reports applications we read
# (https://developers.google.com/admin-sdk/reports/v1/appendix/activity/token,
# .../activity/login, .../activity/saml).
TOKEN_AUTHORIZE = "authorize"  # noqa: S105 (an event name)
TOKEN_REVOKE = "revoke"  # noqa: S105
SIGNIN_EVENTS = {"login_success": True, "login_failure": False}


def _parse_user(raw: Mapping[str, Any]) -> User:
    """A Directory user (https://developers.google.com/admin-sdk/directory/reference/rest/v1/users)."""
    organization = _primary_organization(raw.get("organizations"))
    name = raw.get("name") or {}
    org_unit = raw.get("orgUnitPath")
    return User(
        source=SOURCE,
        id=str(raw["id"]),
        email=raw.get("primaryEmail") or None,
        display_name=name.get("fullName") or None,
        department=organization.get("department") or None,
        job_title=organization.get("title") or None,
        groups=(org_unit,) if org_unit else (),
        enabled=not (raw.get("suspended") or raw.get("archived")),
        is_admin=bool(raw.get("isAdmin")),
        # aliases and nonEditableAliases: the user's other addresses, in the same reference.
        aliases=tuple(
            a
            for key in ("aliases", "nonEditableAliases")
            for a in raw.get(key) or ()
            if isinstance(a, str) and "@" in a
        ),
    )


def _primary_organization(organizations: Any) -> Mapping[str, Any]:
    """The ``primary`` entry of ``organizations`` (a list of dicts), else the first one."""
    if not isinstance(organizations, list):
        return {}
    entries = [o for o in organizations if isinstance(o, dict)]
    for entry in entries:
        if entry.get("primary"):
            return entry
    return entries[0] if entries else {}


def _parse_token(raw: Mapping[str, Any], user: User) -> tuple[RawApp, Grant]:
    """One Directory token: the app and the user's grant to it."""
    client_id = str(raw["clientId"])
    tags = ("anonymous",) if raw.get("anonymous") else ()
    app = RawApp(
        source=SOURCE,
        client_id=client_id,
        name=raw.get("displayText") or client_id,
        kind="native" if raw.get("nativeApp") else "oauth",
        tags=tags,
    )
    grant = Grant(
        source=SOURCE,
        client_id=client_id,
        user_id=user.id,
        scopes=tuple(raw.get("scopes") or ()),
        consent_type="user",
        resource="Google",
        user_email=user.email,
    )
    return app, grant


@dataclass(frozen=True)
class _Event:
    """One event of a Reports activity, flattened."""

    event_id: str
    name: str
    at: datetime
    actor_id: str | None
    actor_email: str | None
    params: Mapping[str, Any]


def _parse_activity(raw: Mapping[str, Any]) -> Iterator[_Event]:
    """The events of one Reports activity
    (https://developers.google.com/admin-sdk/reports/reference/rest/v1/activities)."""
    ident = raw["id"]
    time_text = ident["time"]
    at = _parse_time(time_text)
    base_id = f"{ident.get('applicationName', '')}:{ident['uniqueQualifier']}@{time_text}"
    actor = raw.get("actor") or {}
    events = raw.get("events") or []
    for index, event in enumerate(events):
        event_id = base_id if len(events) == 1 else f"{base_id}#{index}"
        yield _Event(
            event_id=event_id,
            name=event["name"],
            at=at,
            actor_id=actor.get("profileId") or None,
            actor_email=actor.get("email") or None,
            params=_parameters(event.get("parameters")),
        )


def _parameters(parameters: Any) -> dict[str, Any]:
    """``[{name, value|multiValue|boolValue|intValue}]`` -> ``{name: value}``."""
    values: dict[str, Any] = {}
    for parameter in parameters or []:
        name = parameter.get("name")
        if not name:
            continue
        for key in ("value", "multiValue", "boolValue", "intValue"):
            if key in parameter:
                values[name] = parameter[key]
                break
    return values


_parse_time = strict_time
"""An RFC 3339 time of the Reports API (or a stored cursor) as aware UTC; ValueError if none."""


def _token_event_records(event: _Event) -> list[SourceRecord]:
    """``authorize`` -> RawApp + Grant; ``revoke`` -> Removed grant (token audit log)."""
    app = _token_event_app(event)
    if app is None or not event.actor_id:
        return []
    client_id = app.client_id
    if event.name == TOKEN_REVOKE:
        return [Removed(SOURCE, "grant", client_id=client_id, user_id=event.actor_id, at=event.at)]
    scope = event.params.get("scope") or ()
    grant = Grant(
        source=SOURCE,
        client_id=client_id,
        user_id=event.actor_id,
        scopes=tuple(scope) if isinstance(scope, list) else (str(scope),),
        consent_type="user",
        resource="Google",
        granted_at=event.at,
        user_email=event.actor_email,
    )
    return [app, grant]


def _token_event_app(event: _Event) -> RawApp | None:
    """The app a token event names: ``app_name`` is "the application for which access was
    granted or revoked", so ``revoke`` events name it too
    (https://developers.google.com/admin-sdk/reports/v1/appendix/activity/token)."""
    client_id = event.params.get("client_id")
    if not client_id:
        return None
    client_type = str(event.params.get("client_type") or "")
    return RawApp(
        source=SOURCE,
        client_id=str(client_id),
        name=event.params.get("app_name") or str(client_id),
        kind="native" if client_type.startswith("NATIVE") else "oauth",
    )


def _signin(application: str, event: _Event) -> SignIn | None:
    """``login_success``/``login_failure`` of the login or SAML log -> SignIn."""
    if event.name not in SIGNIN_EVENTS:
        return None
    if application == "saml":
        app_name = event.params.get("application_name")
        if not app_name:
            return None
        client_id = str(app_name)
    else:
        client_id, app_name = LOGIN_APP_ID, "Google Workspace"
    return SignIn(
        source=SOURCE,
        event_id=event.event_id,
        client_id=client_id,
        at=event.at,
        user_id=event.actor_id,
        user_email=event.actor_email,
        app_name=str(app_name),
        success=SIGNIN_EVENTS[event.name],
        kind="saml" if application == "saml" else "sign_in",
    )


_iso = utc_millis
"""RFC 3339 in UTC with milliseconds, as the Reports API documents ``startTime``."""


def _page_body(body: Any, what: str) -> Mapping[str, Any]:
    """A page as an object. googleapiclient hands back the raw text of a body that is not JSON;
    taking it (or a JSON array) for an empty last page would end a listing early and mark every
    unread item gone, so it is a ResponseShapeError instead."""
    if isinstance(body, dict):
        return body
    if isinstance(body, str | bytes):
        raise ResponseShapeError(SOURCE, f"{what} answered with a body that is not JSON")
    kind = {list: "array"}.get(type(body), type(body).__name__)
    raise ResponseShapeError(SOURCE, f"{what} answered with a JSON {kind}, not an object")


_SHAPES = Shapes(SOURCE, "{what} answered with an item that lacks a required field ({error!r})")


def _shape(parse: Callable[[Any], T], what: str, raw: Any) -> T:
    """Run a parser; a missing required field becomes ResponseShapeError."""
    return _SHAPES.parse(what, parse, raw)
