"""The demo tenant in Google Workspace: one app's OAuth tokens and token audit events, or its
SAML sign-ins."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from connectors.demo import DEMO_NOW
from tools.demo_data import DemoApp, Person
from tools.demo_people import Directory
from tools.demo_shapes import Tenant, ts, uid


def add_google_app(
    tenant: Tenant, rng: random.Random, app: DemoApp, members: list[Person], people_of: Directory
) -> None:
    assert app.google is not None
    g = app.google
    if g.get("saml"):
        add_saml_sign_ins(tenant, rng, app, members, people_of)
        return
    for p in members:
        google_id = people_of.google_ids[p.email]
        tenant.google["tokens"].append(google_token(rng, g, google_id))
        event = token_event(rng, app, g, p, google_id)
        tenant.google["activities-token"].append(event)
        if app.night2:
            tenant.night2.add(g["clientId"] + "|" + google_id)
            tenant.night2.add(event["id"]["uniqueQualifier"])


def google_token(rng: random.Random, g: dict[str, Any], google_id: str) -> dict[str, Any]:
    return {
        "kind": "admin#directory#token",
        "etag": f'"{uid(rng)}"',
        "clientId": g["clientId"],
        "displayText": g["displayText"],
        "scopes": g["scopes"],
        "nativeApp": False,
        "anonymous": False,
        "userKey": google_id,
    }


def token_event(
    rng: random.Random, app: DemoApp, g: dict[str, Any], p: Person, google_id: str
) -> dict[str, Any]:
    """The ``authorize`` event of the token report (night 2's apps: five hours ago)."""
    unique = str(rng.randrange(10**17, 10**18))
    return {
        "kind": "admin#reports#activity",
        "id": {
            "time": ts(
                DEMO_NOW - timedelta(hours=5) if app.night2 else DEMO_NOW - timedelta(days=40)
            ).replace("Z", ".000Z"),
            "uniqueQualifier": unique,
            "applicationName": "token",
            "customerId": "C03az79cb",
        },
        "etag": f'"{uid(rng)}"',
        "actor": {
            "email": p.email,
            "profileId": google_id,
            "callerType": "USER",
        },
        "ipAddress": "203.0.113.50",
        "events": [
            {
                "type": "auth",
                "name": "authorize",
                "parameters": [
                    {"name": "client_id", "value": g["clientId"]},
                    {"name": "app_name", "value": g["displayText"]},
                    {"name": "client_type", "value": "WEB"},
                    {"name": "scope", "multiValue": g["scopes"]},
                ],
            }
        ],
    }


def add_saml_sign_ins(
    tenant: Tenant, rng: random.Random, app: DemoApp, members: list[Person], people_of: Directory
) -> None:
    """A SAML app Google Workspace is the IdP for: one ``login_success`` per member in the SAML
    audit log (https://developers.google.com/admin-sdk/reports/v1/appendix/activity/saml)."""
    assert app.google is not None
    for k, p in enumerate(members):
        google_id = people_of.google_ids[p.email]
        when = DEMO_NOW - timedelta(days=app.last_use_days, hours=2 + k)
        tenant.google["activities-saml"].append(
            {
                "kind": "admin#reports#activity",
                "id": {
                    "time": ts(when).replace("Z", ".000Z"),
                    "uniqueQualifier": str(rng.randrange(10**17, 10**18)),
                    "applicationName": "saml",
                    "customerId": "C03az79cb",
                },
                "etag": f'"{uid(rng)}"',
                "actor": {"email": p.email, "profileId": google_id, "callerType": "USER"},
                "ipAddress": "203.0.113.51",
                "events": [
                    {
                        "type": "login",
                        "name": "login_success",
                        "parameters": [
                            {"name": "application_name", "value": app.google["saml"]},
                            {"name": "initiated_by", "value": "idp"},
                            {"name": "orgunit_path", "value": f"/{p.department}"},
                            {"name": "saml_status_code", "value": "SUCCESS_URI"},
                        ],
                    }
                ],
            }
        )
