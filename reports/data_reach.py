"""What data a SaaS app can reach through the permissions it holds, by kind of data.

For the SaaSBOM's ``services[].data``: each held permission (the report model's ``scopes``)
names a kind of data (mail, files, calendar, ...) and whether it only lets the app read it
(data flows *into* the service: CycloneDX ``inbound``, "data that enters a service") or also
change it (``bi-directional``); direction is relative to the service
(CycloneDX 1.6 ``dataFlowDirection``, https://cyclonedx.org/docs/1.6/json/#services_items_data).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SIGN_IN = "sign-in identity"
OTHER = "other data"

# The OpenID Connect scopes (OpenID Connect Core 1.0 §5.4) and Google's userinfo scopes name
# only who signed in.
_IDENTITY = frozenset({"openid", "profile", "email", "offline_access", "user.read"})

# First match wins: more specific words first ("contacts" before "mail", so that a
# Microsoft ``Contacts.Read`` is contacts; "gmail" and "mail" are mail).
_KINDS: Sequence[tuple[str, str]] = (
    ("userinfo", SIGN_IN),
    ("contacts", "contacts"),
    ("people", "contacts"),
    ("calendar", "calendar"),
    ("mail", "mail"),
    ("chat", "chat and messages"),
    ("channelmessage", "chat and messages"),
    ("files", "files"),
    ("drive", "files"),
    ("documents", "files"),
    ("sites", "files"),
    ("spreadsheets", "files"),
    ("directory", "directory"),
    ("user.", "directory"),
    ("group", "directory"),
    ("okta.users", "directory"),
    ("analytics", "analytics"),
    ("webmasters", "analytics"),
)
_LEVELS = ("critical", "high", "medium", "low")


@dataclass(frozen=True)
class DataReach:
    """One kind of data the app can reach, how, and the most sensitive permission behind it."""

    kind: str
    flow: str
    """``inbound`` (read into the service) or ``bi-directional`` (read and change)."""
    level: str
    scopes: tuple[str, ...]

    @property
    def classification(self) -> str:
        return f"{self.kind} ({self.level} sensitivity)"


def kind_of(scope: str) -> str:
    name = scope.lower()
    if name in _IDENTITY:
        return SIGN_IN
    return next((kind for word, kind in _KINDS if word in name), OTHER)


def writes(scope: str) -> bool:
    """True when the permission lets the app change data, not only read it."""
    name = scope.lower()
    if name.startswith("https://www.googleapis.com/auth/"):
        # Google names read-only scopes ``.readonly``; the bare scope is read and write
        # (https://developers.google.com/identity/protocols/oauth2/scopes).
        return kind_of(scope) != SIGN_IN and not name.endswith(".readonly")
    return any(word in name for word in ("write", "send", "manage", "delete", "create"))


def reach(scopes: Iterable[Mapping[str, Any]]) -> list[DataReach]:
    """The report model's held permissions grouped by kind of data, most sensitive first."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for scope in scopes:
        grouped.setdefault(kind_of(scope["scope"]), []).append(scope)
    found = []
    for kind, held in grouped.items():
        names = tuple(sorted(s["scope"] for s in held))
        flow = "bi-directional" if any(writes(n) for n in names) else "inbound"
        levels = [s["level"] for s in held if s["level"] in _LEVELS]
        level = min(levels, key=_LEVELS.index) if levels else "medium"
        found.append(DataReach(kind, flow, level, names))
    found.sort(key=lambda r: (_LEVELS.index(r.level), r.kind))
    return found
