"""Write the demo tenant: Larkspur Outdoor Co., 48 people, 30+ SaaS apps, two nights.

Everything is deterministic (fixed seed, fixed clock ``DEMO_NOW``). Items whose id is listed in
``tenant/night2.json`` appear only on the second night, so the demo shows "new since last
night". The people and apps are in ``tools/demo_data.py``; the steps per provider in
``demo_people`` (directories), ``demo_google`` and ``demo_okta``, the shared item shapes in
``demo_shapes``, the Entra steps and the files here. Rewrite ``connectors/demo/tenant/``
after editing either file, from the repository root (``tests/test_demo_tenant.py`` checks the
shipped files are what this writes):

    python -m tools.generate_demo                 # into connectors/demo/tenant
    python -m tools.generate_demo --out /tmp/t    # elsewhere, to compare

The steps draw from one seeded generator in a fixed order (people, Microsoft's own apps, then
per app its Entra service principal, grants, roles, consent audit and sign-ins, its Google tokens
and token events (or SAML sign-ins), its Okta assignments and SSO events; last, the failed
sign-ins, then the identity variants, then the review cases of ``demo_review``): reordering
them changes every id after the change, so new items go at the end.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.demo import DEMO_NOW, TENANT_DIR
from tools.demo_data import (
    APPS,
    EXPENSES,
    FAILED_SIGN_INS,
    MICROSOFT_FIRST_PARTY,
    USAGE,
    DemoApp,
    Person,
)
from tools.demo_google import add_google_app
from tools.demo_okta import add_okta_app
from tools.demo_people import Directory, add_identity_variants, add_people, directory, people
from tools.demo_review import LEAVERS_APP, REVIEW_APPS
from tools.demo_shapes import (
    GRAPH_APP_ID,
    NOT_ASSIGNED,
    Tenant,
    sign_in,
    ts,
    uid,
)

TENANT_ID = "5b1f3c2e-8a4d-4c6e-9f1a-2d3e4f5a6b7c"
MICROSOFT_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
SEED = 20261120


UNVERIFIED_PUBLISHER: dict[str, Any] = {
    "displayName": None,
    "verifiedPublisherId": None,
    "addedDateTime": None,
}


def members_of(app: DemoApp, by_dept: dict[str, list[Person]]) -> list[Person]:
    """``app.count`` people drawn from its departments, weighted, the same on every run."""
    chosen: list[Person] = []
    pool = [p for d in dict.fromkeys(app.users) for p in by_dept[d]]
    weights = [app.users.count(p.department) for p in pool]
    picker = random.Random(app.name)
    while len(chosen) < min(app.count, len(pool)):
        pick = picker.choices(pool, weights)[0]
        if pick not in chosen:
            chosen.append(pick)
    return chosen


# -- Microsoft's own service principals --------------------------------------------------------


def _app_role(role_id: str, value: str, display_name: str) -> dict[str, Any]:
    return {
        "id": role_id,
        "value": value,
        "displayName": display_name,
        "allowedMemberTypes": ["Application"],
        "isEnabled": True,
        "origin": "Application",
        "description": display_name,
    }


def graph_resource(rng: random.Random) -> dict[str, Any]:
    """Microsoft Graph's service principal: the resource every grant and role points at."""
    return {
        "id": uid(rng),
        "appId": GRAPH_APP_ID,
        "displayName": "Microsoft Graph",
        "appDisplayName": "Microsoft Graph",
        "publisherName": "Microsoft Services",
        "appOwnerOrganizationId": MICROSOFT_TENANT,
        "servicePrincipalType": "Application",
        "verifiedPublisher": dict(UNVERIFIED_PUBLISHER),
        "homepage": None,
        "replyUrls": [],
        "tags": [],
        "accountEnabled": True,
        "info": {"marketingUrl": None, "privacyStatementUrl": None},
        "appRoles": [
            _app_role(
                "7ab1d382-f21e-4acd-a863-ba3e13f7da61", "Directory.Read.All", "Read directory data"
            ),
            _app_role(
                "01d4889c-1287-42c6-ac1f-5d1e02578ef6",
                "Files.Read.All",
                "Read files in all site collections",
            ),
            # The application form of Mail.Read (its id in the permissions reference,
            # https://learn.microsoft.com/graph/permissions-reference#mailread).
            _app_role(
                "810c84a8-4a9e-49e6-bf7d-12d183f40d01", "Mail.Read", "Read mail in all mailboxes"
            ),
        ],
    }


def first_party_app(rng: random.Random, app_id: str, name: str) -> dict[str, Any]:
    return {
        "id": uid(rng),
        "appId": app_id,
        "displayName": name,
        "appDisplayName": name,
        "publisherName": "Microsoft Services",
        "appOwnerOrganizationId": MICROSOFT_TENANT,
        "servicePrincipalType": "Application",
        "verifiedPublisher": dict(UNVERIFIED_PUBLISHER),
        "homepage": None,
        "replyUrls": [],
        "tags": [],
        "accountEnabled": True,
        "info": {},
    }


# -- Entra: one app's service principal, grants, roles, consent and sign-ins -------------------


@dataclass(frozen=True)
class EntraApp:
    """One demo app as Entra sees it, with what its records share."""

    app: DemoApp
    spec: dict[str, Any]
    """``DemoApp.entra``."""
    sp_id: str
    members: list[Person]
    last_use: datetime
    graph_sp: dict[str, Any]
    """Microsoft Graph's service principal (``graph_resource()``)."""


def add_entra_app(
    tenant: Tenant,
    rng: random.Random,
    app: DemoApp,
    members: list[Person],
    last_use: datetime,
    graph_sp: dict[str, Any],
) -> None:
    assert app.entra is not None
    entra = EntraApp(app, app.entra, uid(rng), members, last_use, graph_sp)
    tenant.graph["servicePrincipals"].append(service_principal(rng, entra))
    if app.night2:
        tenant.night2.add(entra.sp_id)
    if entra.spec.get("app_only"):
        # Only application permissions: no user consents to it and no user signs in to it.
        add_app_roles(tenant, rng, entra)
        add_sign_in_activity(tenant, rng, entra, app_only=True)
        return
    add_grants(tenant, rng, entra)
    add_app_roles(tenant, rng, entra)
    add_sign_in_activity(tenant, rng, entra)
    add_consent_audit(tenant, rng, entra)
    add_sign_ins(tenant, rng, entra)


def service_principal(rng: random.Random, entra: EntraApp) -> dict[str, Any]:
    e = entra.spec
    name = entra.app.name
    return {
        "id": entra.sp_id,
        "appId": e["appId"],
        "displayName": name,
        "appDisplayName": name,
        "publisherName": e["publisher"],
        "appOwnerOrganizationId": TENANT_ID
        if e.get("own")
        else str(uuid.UUID(int=rng.getrandbits(128))),
        "servicePrincipalType": "Application",
        "verifiedPublisher": (
            {
                "displayName": e["publisher"],
                "verifiedPublisherId": str(rng.randrange(10**6, 10**7)),
                "addedDateTime": "2023-01-10T00:00:00Z",
            }
            if e["verified"]
            else dict(UNVERIFIED_PUBLISHER)
        ),
        "homepage": e["homepage"],
        "replyUrls": e["reply"],
        "tags": ["WindowsAzureActiveDirectoryIntegratedApp"],
        "accountEnabled": True,
        "info": {"marketingUrl": e["homepage"], "privacyStatementUrl": None},
    }


def add_grants(tenant: Tenant, rng: random.Random, entra: EntraApp) -> None:
    """One admin grant for everyone, or one grant per member."""
    scope = " ".join(entra.spec["scopes"])
    grants = tenant.graph["oauth2PermissionGrants"]

    def grant(consent_type: str, principal_id: str | None) -> dict[str, Any]:
        return {
            "id": uid(rng),
            "clientId": entra.sp_id,
            "consentType": consent_type,
            "principalId": principal_id,
            "resourceId": entra.graph_sp["id"],
            "scope": scope,
        }

    if entra.spec.get("admin"):
        grants.append(grant("AllPrincipals", None))
        return
    for p in entra.members:
        grants.append(grant("Principal", p.id))
        if entra.app.night2:
            tenant.night2.add(grants[-1]["id"])


def add_app_roles(tenant: Tenant, rng: random.Random, entra: EntraApp) -> None:
    role_ids = {r["value"]: r["id"] for r in entra.graph_sp["appRoles"]}
    for role in entra.spec.get("app_roles", []):
        tenant.graph["appRoleAssignments"].append(
            {
                "id": uid(rng),
                "appRoleId": role_ids[role],
                "createdDateTime": "2026-09-02T10:00:00Z",
                "principalId": entra.sp_id,
                "principalType": "ServicePrincipal",
                "principalDisplayName": entra.app.name,
                "resourceId": entra.graph_sp["id"],
                "resourceDisplayName": "Microsoft Graph",
                "deletedDateTime": None,
            }
        )


def add_sign_in_activity(
    tenant: Tenant, rng: random.Random, entra: EntraApp, app_only: bool = False
) -> None:
    """The app's last sign-in: as a delegated client, or (``app_only``) as itself, with its own
    credentials (servicePrincipalSignInActivity,
    https://learn.microsoft.com/graph/api/resources/serviceprincipalsigninactivity)."""
    activity = {"lastSignInDateTime": ts(entra.last_use), "lastSignInRequestId": uid(rng)}
    tenant.graph["servicePrincipalSignInActivities"].append(
        {
            "id": uid(rng),
            "appId": entra.spec["appId"],
            "lastSignInActivity": activity,
            "delegatedClientSignInActivity": None if app_only else activity,
            "delegatedResourceSignInActivity": None,
            "applicationAuthenticationClientSignInActivity": activity if app_only else None,
            "applicationAuthenticationResourceSignInActivity": None,
        }
    )


def add_consent_audit(tenant: Tenant, rng: random.Random, entra: EntraApp) -> None:
    """The directory audit of the first member consenting (night 2's apps: last evening)."""
    app = entra.app
    consenter = entra.members[0]
    audit_id = uid(rng)
    tenant.graph["directoryAudits"].append(
        {
            "id": audit_id,
            "category": "ApplicationManagement",
            "correlationId": uid(rng),
            "result": "success",
            "resultReason": "",
            "activityDisplayName": "Consent to application",
            "activityDateTime": ts(
                (DEMO_NOW - timedelta(hours=20))
                if app.night2
                else (DEMO_NOW - timedelta(days=60 + len(app.name)))
            ),
            "loggedByService": "Core Directory",
            "operationType": "Assign",
            "initiatedBy": {
                "user": {
                    "id": consenter.id,
                    "displayName": consenter.name,
                    "userPrincipalName": consenter.email,
                    "ipAddress": None,
                },
                "app": None,
            },
            "targetResources": [
                {
                    "id": entra.sp_id,
                    "displayName": app.name,
                    "type": "ServicePrincipal",
                    "userPrincipalName": None,
                    "modifiedProperties": [
                        {
                            "displayName": "ConsentContext.IsAdminConsent",
                            "oldValue": None,
                            "newValue": '"True"' if entra.spec.get("admin") else '"False"',
                        }
                    ],
                }
            ],
            "additionalDetails": [],
        }
    )
    if app.night2:
        tenant.night2.add(audit_id)


def add_sign_ins(tenant: Tenant, rng: random.Random, entra: EntraApp) -> None:
    """Three sign-ins per member, five days apart (night 2's apps: in the last hours)."""
    app = entra.app
    for k, p in enumerate(entra.members):
        for d in range(3):
            when = entra.last_use - timedelta(days=d * 5, minutes=37 * k)
            if app.night2:
                when = DEMO_NOW - timedelta(hours=4 + k + d)
            event_id = uid(rng)
            tenant.graph["signIns"].append(
                sign_in(event_id, when, p, entra.spec["appId"], app.name, f"203.0.113.{10 + k}")
            )
            if app.night2:
                tenant.night2.add(event_id)


def add_failed_sign_ins(tenant: Tenant, rng: random.Random, people_of: Directory) -> None:
    """``FAILED_SIGN_INS``: attempts Entra refused, by someone who is no user of the app."""
    apps = {a.name: a for a in APPS}
    for app_name, dept, attempts in FAILED_SIGN_INS:
        app = apps[app_name]
        assert app.entra is not None
        members = members_of(app, people_of.by_dept)
        p = next(p for p in people_of.by_dept[dept] if p not in members)
        for k in range(attempts):
            when = DEMO_NOW - timedelta(days=2, hours=3 * k)
            tenant.graph["signIns"].append(
                sign_in(
                    uid(rng), when, p, app.entra["appId"], app.name, "203.0.113.90", NOT_ASSIGNED
                )
            )


def add_review_cases(
    tenant: Tenant, rng: random.Random, people_of: Directory, graph_sp: dict[str, Any]
) -> None:
    """``tools.demo_review``'s apps, after everything else: a consent-phishing app, the
    company's own development app, and an app only the leaver used."""
    for app in REVIEW_APPS:
        last_use = DEMO_NOW - timedelta(days=app.last_use_days, hours=3)
        add_entra_app(tenant, rng, app, members_of(app, people_of.by_dept), last_use, graph_sp)
    disabled = {u["id"] for u in tenant.graph["users"] if u.get("accountEnabled") is False}
    leaver = next(p for p in people_of.by_dept["Sales"] if p.id in disabled)
    last_use = DEMO_NOW - timedelta(days=LEAVERS_APP.last_use_days, hours=3)
    add_entra_app(tenant, rng, LEAVERS_APP, [leaver], last_use, graph_sp)


# -- files -------------------------------------------------------------------------------------


def expenses_csv(by_dept: dict[str, list[Person]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Date", "Merchant", "Amount", "Currency", "Employee Email", "Memo"])
    for k, (day, merchant, amount, currency, dept) in enumerate(EXPENSES):
        person = by_dept[dept][k % len(by_dept[dept])]
        writer.writerow([day, merchant, amount, currency, person.email, "Subscription"])
    return out.getvalue()


def usage_csv(by_dept: dict[str, list[Person]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["domain", "user", "last_used"])
    for domain, dept, n in USAGE:
        for k in range(n):
            person = by_dept[dept][(k * 3) % len(by_dept[dept])]
            writer.writerow([domain, person.email, ts(DEMO_NOW - timedelta(days=k + 2))])
    return out.getvalue()


# -- the whole tenant --------------------------------------------------------------------------


def build() -> dict[str, Any]:
    """The tenant: ``graph``, ``google``, ``okta`` collections, ``files`` texts, ``night2`` ids."""
    rng = random.Random(SEED)
    people_of = directory(people(rng))
    tenant = Tenant()
    add_people(tenant, people_of)
    graph_sp = graph_resource(rng)
    tenant.graph["servicePrincipals"].append(graph_sp)
    for app_id, name in MICROSOFT_FIRST_PARTY:
        tenant.graph["servicePrincipals"].append(first_party_app(rng, app_id, name))
    for app in APPS:
        members = members_of(app, people_of.by_dept)
        last_use = DEMO_NOW - timedelta(days=app.last_use_days, hours=3)
        if app.entra:
            add_entra_app(tenant, rng, app, members, last_use, graph_sp)
        if app.google:
            add_google_app(tenant, rng, app, members, people_of)
        if app.okta:
            add_okta_app(tenant, rng, app, members, last_use, people_of)
    add_failed_sign_ins(tenant, rng, people_of)
    add_identity_variants(tenant, rng, people_of)
    add_review_cases(tenant, rng, people_of, graph_sp)
    return {
        "graph": tenant.graph,
        "google": tenant.google,
        "okta": tenant.okta,
        "files": {
            "expenses.csv": expenses_csv(people_of.by_dept),
            "usage.csv": usage_csv(people_of.by_dept),
        },
        "night2": sorted(tenant.night2),
    }


def write(target: Path = TENANT_DIR) -> list[Path]:
    """Write the tenant under ``target``; the paths written."""
    data = build()
    written = []
    for provider in ("graph", "google", "okta"):
        folder = target / provider
        folder.mkdir(parents=True, exist_ok=True)
        for name, items in data[provider].items():
            path = folder / f"{name}.json"
            path.write_text(
                json.dumps(items, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
            )
            written.append(path)
    folder = target / "files"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in data["files"].items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    path = target / "night2.json"
    path.write_text(json.dumps(data["night2"], indent=1) + "\n", encoding="utf-8")
    written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tools.generate_demo",
        description="Write the demo tenant's provider-shaped JSON and CSV files.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=TENANT_DIR,
        help="folder to write into (default: connectors/demo/tenant)",
    )
    args = parser.parse_args(argv)
    for path in write(args.out):
        print(path)


if __name__ == "__main__":
    main()
