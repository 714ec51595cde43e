"""The shapes the demo tenant is written in: one list per provider collection, and the
items several steps write (Graph ``signIn`` records), with the seeded ids and times they use."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tools.demo_data import Person

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


def uid(rng: random.Random) -> str:
    """A version-4 style GUID from the seeded generator (ids must not change between runs)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


GRAPH_COLLECTIONS = (
    "users",
    "servicePrincipals",
    "oauth2PermissionGrants",
    "appRoleAssignments",
    "signIns",
    "directoryAudits",
    "servicePrincipalSignInActivities",
)
GOOGLE_COLLECTIONS = ("users", "tokens", "activities-token", "activities-login", "activities-saml")
OKTA_COLLECTIONS = ("apps", "app_users", "users", "logs")


def _collections(names: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    return {name: [] for name in names}


@dataclass
class Tenant:
    """The collections each fake provider serves (one JSON file each), filled step by step."""

    graph: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: _collections(GRAPH_COLLECTIONS)
    )
    google: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: _collections(GOOGLE_COLLECTIONS)
    )
    okta: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: _collections(OKTA_COLLECTIONS)
    )
    night2: set[str] = field(default_factory=set)
    """Ids of the items that appear only on the second night."""


SUCCESS: dict[str, Any] = {"errorCode": 0, "failureReason": None, "additionalDetails": None}
"""A signIn ``status``: ``errorCode`` 0 is a successful sign-in, any other code the error
(https://learn.microsoft.com/graph/api/resources/signinstatus)."""
NOT_ASSIGNED: dict[str, Any] = {
    # AADSTS50105: the app requires user assignment and this user is not assigned
    # (https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
    "errorCode": 50105,
    "failureReason": "The signed in user is not assigned to a role for the application.",
    "additionalDetails": None,
}


def sign_in(
    event_id: str,
    when: datetime,
    p: Person,
    app_id: str,
    app_name: str,
    ip: str,
    status: dict[str, Any] = SUCCESS,
) -> dict[str, Any]:
    """One Graph ``signIn`` (https://learn.microsoft.com/graph/api/resources/signin)."""
    return {
        "id": event_id,
        "createdDateTime": ts(when),
        "userDisplayName": p.name,
        "userPrincipalName": p.email,
        "userId": p.id,
        "appId": app_id,
        "appDisplayName": app_name,
        "ipAddress": ip,
        "clientAppUsed": "Browser",
        "isInteractive": True,
        "resourceDisplayName": "Microsoft Graph",
        "resourceId": GRAPH_APP_ID,
        "conditionalAccessStatus": "notApplied",
        "status": dict(status),
    }
