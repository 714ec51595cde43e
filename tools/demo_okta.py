"""The demo tenant in Okta: one app, its assignments and its SSO events in the System Log."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from tools.demo_data import DemoApp, Person
from tools.demo_people import Directory
from tools.demo_shapes import Tenant, uid

OKTA_API = "https://larkspur.okta.example/api/v1"


def add_okta_app(
    tenant: Tenant,
    rng: random.Random,
    app: DemoApp,
    members: list[Person],
    last_use: datetime,
    people_of: Directory,
) -> None:
    assert app.okta is not None
    o = app.okta
    app_id = "0oa" + uuid.UUID(int=random.Random(app.name).getrandbits(128)).hex[:17]
    # A deleted app is gone from /apps (and its assignments with it); its SSO events stay in the
    # System Log.
    deleted = bool(o.get("deleted"))
    if not deleted:
        tenant.okta["apps"].append(okta_app(app_id, o))
    for k, p in enumerate(members):
        okta_id = people_of.okta_ids[p.email]
        if not deleted:
            tenant.okta["app_users"].append(okta_assignment(app_id, p, okta_id))
        when = last_use - timedelta(minutes=13 * k)
        tenant.okta["logs"].append(okta_sso_event(rng, app_id, o, p, okta_id, when))


def okta_app(app_id: str, o: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": app_id,
        "name": o["name"],
        "label": o["label"],
        "status": "ACTIVE",
        "lastUpdated": "2026-06-01T10:00:00.000Z",
        "created": "2025-02-11T10:00:00.000Z",
        "signOnMode": o["mode"],
        "accessibility": {"selfService": False},
        "visibility": {
            "autoSubmitToolbar": False,
            "hide": {"iOS": False, "web": False},
        },
        "features": [],
        "settings": {"app": {}},
        "_links": {"users": {"href": f"{OKTA_API}/apps/{app_id}/users"}},
    }


def okta_assignment(app_id: str, p: Person, okta_id: str) -> dict[str, Any]:
    return {
        "id": okta_id,
        "appId": app_id,
        "scope": "USER",
        "status": "ACTIVE",
        "created": "2025-03-01T10:00:00.000Z",
        "lastUpdated": "2025-03-01T10:00:00.000Z",
        "credentials": {"userName": p.email},
        "_links": {
            "app": {"href": f"{OKTA_API}/apps/{app_id}"},
            "user": {"href": f"{OKTA_API}/users/{okta_id}"},
        },
    }


def okta_sso_event(
    rng: random.Random, app_id: str, o: dict[str, Any], p: Person, okta_id: str, when: datetime
) -> dict[str, Any]:
    return {
        "uuid": uid(rng),
        "published": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "eventType": "user.authentication.sso",
        "version": "0",
        "severity": "INFO",
        "legacyEventType": None,
        "displayMessage": "User single sign on to app",
        "actor": {
            "id": okta_id,
            "type": "User",
            "alternateId": p.email,
            "displayName": p.name,
            "detailEntry": None,
        },
        "client": {
            "ipAddress": "203.0.113.77",
            "userAgent": {
                "browser": "CHROME",
                "os": "Mac OS X",
                "rawUserAgent": "Mozilla/5.0",
            },
        },
        "outcome": {"result": "SUCCESS", "reason": None},
        "target": [
            {
                "id": app_id,
                "type": "AppInstance",
                "alternateId": o["label"],
                "displayName": o["label"],
                "detailEntry": {"signOnModeType": o["mode"]},
            },
            {
                "id": "0ua" + okta_id[3:],
                "type": "AppUser",
                "alternateId": p.email,
                "displayName": p.name,
                "detailEntry": None,
            },
        ],
        "transaction": {"type": "WEB", "id": uid(rng), "detail": {}},
        "authenticationContext": {"externalSessionId": uid(rng)},
    }
