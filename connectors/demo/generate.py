"""Write the demo tenant: Larkspur Outdoor Co., 48 people, 30+ SaaS apps, two nights.

Everything is deterministic (fixed seed, fixed clock ``DEMO_NOW``). Items whose id is listed in
``tenant/night2.json`` appear only on the second night, so the demo shows "new since last
night". Run ``python -m connectors.demo.generate`` to rewrite ``tenant/``.
"""

from __future__ import annotations

import csv
import io
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DEMO_NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
"""The demo's second night; the first night is one day earlier."""
NIGHT1 = DEMO_NOW - timedelta(days=1)
DOMAIN = "larkspur.example"
TENANT_ID = "5b1f3c2e-8a4d-4c6e-9f1a-2d3e4f5a6b7c"
MICROSOFT_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
TENANT_DIR = Path(__file__).parent / "tenant"

DEPARTMENTS = {
    "Marketing": 14,
    "Sales": 10,
    "Engineering": 12,
    "Finance": 6,
    "People": 3,
    "IT": 3,
}
FIRST = [
    "Ana",
    "Ben",
    "Chloe",
    "Dev",
    "Elif",
    "Farah",
    "Gus",
    "Hana",
    "Ivan",
    "Jade",
    "Kofi",
    "Lena",
    "Mateo",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
    "Umar",
    "Vera",
    "Wes",
    "Xia",
    "Yara",
    "Zane",
    "Aiko",
    "Bruno",
    "Cora",
    "Dario",
    "Esme",
    "Felix",
    "Gita",
    "Hugo",
    "Isla",
    "Jonas",
    "Kira",
    "Luca",
    "Maya",
    "Nils",
    "Olga",
    "Pavel",
    "Rhea",
    "Sven",
    "Tomas",
    "Una",
    "Viktor",
    "Wren",
]
LAST = [
    "Silva",
    "Okafor",
    "Nguyen",
    "Patel",
    "Kaya",
    "Haddad",
    "Berg",
    "Sato",
    "Petrov",
    "Moreau",
    "Mensah",
    "Fischer",
    "Garcia",
    "Adeyemi",
    "Rahman",
    "Iyer",
    "Walsh",
    "Costa",
    "Aalto",
    "Reddy",
    "Malik",
    "Novak",
    "Harper",
    "Chen",
    "Haddad",
    "Lund",
    "Tanaka",
    "Rossi",
    "Byrne",
    "Conti",
    "Dubois",
    "Vogel",
    "Rao",
    "Lopez",
    "Grant",
    "Weber",
    "Stein",
    "Marino",
    "Shah",
    "Larsen",
    "Ivanova",
    "Horvat",
    "Das",
    "Nilsson",
    "Kral",
    "Ueda",
    "Popov",
    "Quist",
]


@dataclass
class Person:
    id: str
    name: str
    email: str
    department: str
    title: str


@dataclass
class DemoApp:
    """One SaaS app of the demo and how it shows up in each source."""

    name: str
    entra: dict[str, Any] | None = None
    google: dict[str, Any] | None = None
    okta: dict[str, Any] | None = None
    users: list[str] = field(default_factory=list)
    """Departments (weighted) its users come from."""
    count: int = 3
    night2: bool = False
    last_use_days: int = 1


def people(rng: random.Random) -> list[Person]:
    out = []
    i = 0
    titles = {
        "Marketing": [
            "Content Lead",
            "Growth Marketer",
            "Brand Designer",
            "Marketing Ops Manager",
            "Social Media Manager",
            "SEO Specialist",
            "Events Manager",
        ],
        "Sales": ["Account Executive", "Sales Manager", "SDR"],
        "Engineering": ["Software Engineer", "Engineering Manager", "SRE"],
        "Finance": ["Accountant", "Controller", "FP&A Analyst"],
        "People": ["HR Partner", "Recruiter"],
        "IT": ["IT Administrator", "Security Engineer"],
    }
    for dept, n in DEPARTMENTS.items():
        for k in range(n):
            first, last = FIRST[i], LAST[i]
            i += 1
            out.append(
                Person(
                    id=str(uuid.UUID(int=rng.getrandbits(128))),
                    name=f"{first} {last}",
                    email=f"{first.lower()}.{last.lower()}@{DOMAIN}",
                    department=dept,
                    title=titles[dept][k % len(titles[dept])],
                )
            )
    return out


def uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


G = "https://www.googleapis.com/auth/"
BASIC = ["openid", "profile", "email", "offline_access", "User.Read"]
APPS: list[DemoApp] = [
    DemoApp(
        "HubSpot",
        entra={
            "appId": "b1a2c3d4-0001-4000-8000-00000000a001",
            "publisher": "HubSpot, Inc.",
            "verified": True,
            "homepage": "https://www.hubspot.com",
            "reply": ["https://app.hubspot.com/oauth-callback"],
            "scopes": BASIC + ["Mail.Read", "Mail.Send", "Calendars.Read"],
        },
        google={
            "clientId": "1044423331-hubspot.apps.googleusercontent.com",
            "displayText": "HubSpot Sales",
            "scopes": [G + "gmail.readonly", G + "calendar.readonly", G + "userinfo.email"],
        },
        okta={"label": "HubSpot Marketing Hub", "name": "hubspot", "mode": "SAML_2_0"},
        users=["Marketing"] * 5 + ["Sales"] * 2,
        count=11,
    ),
    DemoApp(
        "Mailchimp",
        entra={
            "appId": "b1a2c3d4-0002-4000-8000-00000000a002",
            "publisher": "Intuit Mailchimp",
            "verified": True,
            "homepage": "https://mailchimp.com",
            "reply": ["https://login.mailchimp.com/oauth2/callback"],
            "scopes": BASIC + ["Contacts.Read"],
        },
        users=["Marketing"],
        count=6,
    ),
    DemoApp(
        "Canva",
        entra={
            "appId": "b1a2c3d4-0003-4000-8000-00000000a003",
            "publisher": "Canva Pty Ltd",
            "verified": True,
            "homepage": "https://www.canva.com",
            "reply": ["https://www.canva.com/oauth/authorized"],
            "scopes": BASIC + ["Files.Read"],
        },
        google={
            "clientId": "5517823-canva.apps.googleusercontent.com",
            "displayText": "Canva",
            "scopes": [G + "drive.file", G + "userinfo.email", G + "userinfo.profile"],
        },
        users=["Marketing"] * 4 + ["Sales", "People"],
        count=12,
    ),
    DemoApp(
        "Canva Pro Free Download",
        entra={
            "appId": "e66c1a2b-7777-4f00-9abc-0000deadbeef",
            "publisher": None,
            "verified": False,
            "homepage": "https://canva-pro-free.top",
            "reply": ["https://canva-pro-free.top/auth"],
            "scopes": BASIC + ["Mail.ReadWrite", "Files.ReadWrite.All"],
        },
        users=["Marketing", "Finance"],
        count=2,
        night2=True,
    ),
    DemoApp(
        "Hootsuite",
        entra={
            "appId": "b1a2c3d4-0005-4000-8000-00000000a005",
            "publisher": "Hootsuite Inc.",
            "verified": True,
            "homepage": "https://www.hootsuite.com",
            "reply": ["https://hootsuite.com/oauth/callback"],
            "scopes": BASIC,
        },
        users=["Marketing"],
        count=3,
        night2=True,
    ),
    DemoApp(
        "Jasper",
        entra={
            "appId": "b1a2c3d4-0006-4000-8000-00000000a006",
            "publisher": "Jasper AI, Inc.",
            "verified": False,
            "homepage": "https://www.jasper.ai",
            "reply": ["https://app.jasper.ai/auth/callback"],
            "scopes": BASIC + ["Files.Read.All", "Sites.Read.All"],
        },
        users=["Marketing"],
        count=4,
    ),
    DemoApp(
        "Semrush",
        google={
            "clientId": "80112-semrush.apps.googleusercontent.com",
            "displayText": "Semrush",
            "scopes": [G + "analytics.readonly", G + "webmasters.readonly", G + "userinfo.email"],
        },
        users=["Marketing"],
        count=3,
    ),
    DemoApp(
        "Hotjar",
        google={
            "clientId": "90233-hotjar.apps.googleusercontent.com",
            "displayText": "Hotjar",
            "scopes": [G + "userinfo.email", G + "userinfo.profile"],
        },
        users=["Marketing", "Engineering"],
        count=3,
    ),
    DemoApp(
        "Typeform",
        entra={
            "appId": "b1a2c3d4-0009-4000-8000-00000000a009",
            "publisher": "Typeform SL",
            "verified": True,
            "homepage": "https://www.typeform.com",
            "reply": ["https://admin.typeform.com/oauth/callback"],
            "scopes": BASIC + ["Contacts.Read"],
        },
        users=["Marketing", "People"],
        count=3,
        last_use_days=140,
    ),
    DemoApp(
        "Bitly",
        google={
            "clientId": "77441-bitly.apps.googleusercontent.com",
            "displayText": "Bitly",
            "scopes": [G + "userinfo.email"],
        },
        users=["Marketing"],
        count=2,
    ),
    DemoApp(
        "Zoom",
        entra={
            "appId": "b1a2c3d4-0011-4000-8000-00000000a011",
            "publisher": "Zoom Video Communications, Inc.",
            "verified": True,
            "homepage": "https://zoom.us",
            "reply": ["https://zoom.us/signin/oauth"],
            "scopes": BASIC + ["Calendars.ReadWrite"],
            "admin": True,
        },
        users=["Sales", "Marketing", "Engineering", "Finance", "People", "IT"],
        count=20,
    ),
    DemoApp(
        "ContentBoost Analytics",
        entra={
            "appId": "c0b0a5e1-1234-4abc-8def-0000c0ffee01",
            "publisher": "ContentBoost",
            "verified": False,
            "homepage": "https://contentboost-analytics.example",
            "reply": ["https://contentboost-analytics.example/callback"],
            "scopes": BASIC + ["Mail.Read"],
            "admin": True,
            "app_roles": ["Directory.Read.All", "Files.Read.All"],
        },
        users=["Marketing"],
        count=4,
    ),
    DemoApp(
        "Grammarly",
        google={
            "clientId": "66120-grammarly.apps.googleusercontent.com",
            "displayText": "Grammarly",
            "scopes": [G + "userinfo.email", G + "documents"],
        },
        users=["Marketing", "Sales", "People"],
        count=6,
    ),
    DemoApp(
        "Salesforce",
        entra={
            "appId": "b1a2c3d4-0014-4000-8000-00000000a014",
            "publisher": "Salesforce.com, inc.",
            "verified": True,
            "homepage": "https://www.salesforce.com",
            "reply": ["https://login.salesforce.com/services/authcallback"],
            "scopes": BASIC,
        },
        okta={"label": "Salesforce.com", "name": "salesforce", "mode": "SAML_2_0"},
        users=["Sales"],
        count=9,
    ),
    DemoApp(
        "Slack",
        entra={
            "appId": "b1a2c3d4-0015-4000-8000-00000000a015",
            "publisher": "Slack Technologies, LLC",
            "verified": True,
            "homepage": "https://slack.com",
            "reply": ["https://slack.com/sso/saml"],
            "scopes": BASIC,
        },
        okta={"label": "Slack", "name": "slack", "mode": "SAML_2_0"},
        users=["Sales", "Marketing", "Engineering", "Finance", "People", "IT"],
        count=30,
    ),
    DemoApp(
        "GitHub",
        okta={"label": "GitHub Enterprise Cloud", "name": "githubcloud", "mode": "SAML_2_0"},
        users=["Engineering"],
        count=10,
    ),
    DemoApp(
        "Jira",
        okta={"label": "Atlassian Jira Cloud", "name": "jira_cloud", "mode": "SAML_2_0"},
        users=["Engineering", "IT"],
        count=9,
    ),
    DemoApp(
        "Figma",
        okta={"label": "Figma", "name": "figma", "mode": "SAML_2_0"},
        users=["Marketing", "Engineering"],
        count=6,
    ),
    DemoApp(
        "Loom",
        google={
            "clientId": "41232-loom.apps.googleusercontent.com",
            "displayText": "Loom",
            "scopes": [G + "userinfo.email", G + "calendar.events"],
        },
        users=["Marketing", "Sales", "Engineering"],
        count=5,
    ),
    DemoApp(
        "Later",
        google={
            "clientId": "55123-later.apps.googleusercontent.com",
            "displayText": "Later: Social Media Scheduler",
            "scopes": [G + "userinfo.email", G + "drive.readonly"],
        },
        users=["Marketing"],
        count=3,
    ),
    DemoApp(
        "Buffer",
        entra={
            "appId": "b1a2c3d4-0021-4000-8000-00000000a021",
            "publisher": "Buffer, Inc.",
            "verified": True,
            "homepage": "https://buffer.com",
            "reply": ["https://login.buffer.com/oauth/callback"],
            "scopes": BASIC,
        },
        users=["Marketing"],
        count=2,
    ),
    DemoApp(
        "Sprout Social",
        okta={"label": "Sprout Social", "name": "sproutsocial", "mode": "SAML_2_0"},
        users=["Marketing"],
        count=4,
    ),
    DemoApp(
        "Unbounce",
        okta={"label": "Unbounce", "name": "unbounce", "mode": "AUTO_LOGIN"},
        users=["Marketing"],
        count=2,
    ),
    DemoApp(
        "Calendly",
        google={
            "clientId": "33211-calendly.apps.googleusercontent.com",
            "displayText": "Calendly",
            "scopes": [G + "calendar", G + "userinfo.email"],
        },
        users=["Sales", "People"],
        count=5,
    ),
    DemoApp(
        "Copy.ai",
        google={
            "clientId": "22190-copyai.apps.googleusercontent.com",
            "displayText": "Copy.ai",
            "scopes": [G + "userinfo.email", G + "drive.file"],
        },
        users=["Marketing"],
        count=2,
        night2=True,
    ),
    DemoApp(
        "SurveyMonkey",
        google={
            "clientId": "11876-surveymonkey.apps.googleusercontent.com",
            "displayText": "SurveyMonkey",
            "scopes": [G + "userinfo.email", G + "contacts.readonly"],
        },
        users=["Marketing", "People"],
        count=3,
    ),
    DemoApp(
        "Expensify",
        okta={"label": "Expensify", "name": "expensify", "mode": "SAML_2_0"},
        users=["Finance"],
        count=6,
    ),
    DemoApp(
        "Workday",
        okta={"label": "Workday", "name": "workday", "mode": "SAML_2_0"},
        users=["People", "Finance"],
        count=8,
    ),
    DemoApp(
        "Mixpanel",
        entra={
            "appId": "b1a2c3d4-0029-4000-8000-00000000a029",
            "publisher": "Mixpanel, Inc.",
            "verified": True,
            "homepage": "https://mixpanel.com",
            "reply": ["https://mixpanel.com/oauth/callback"],
            "scopes": BASIC,
        },
        users=["Marketing", "Engineering"],
        count=4,
    ),
    DemoApp(
        "Campaign Planner Pro",
        entra={
            "appId": "d00d5e1f-4242-4a00-8b00-00000000beef",
            "publisher": "Planify Labs",
            "verified": False,
            "homepage": "https://campaignplanner.example",
            "reply": ["https://campaignplanner.example/oauth"],
            "scopes": BASIC + ["Calendars.ReadWrite"],
        },
        users=["Marketing"],
        count=3,
    ),
    DemoApp(
        "Larkspur Intranet",
        entra={
            "appId": "a7a7a7a7-0000-4000-8000-000000000001",
            "publisher": "Larkspur Outdoor Co.",
            "verified": False,
            "homepage": f"https://intranet.{DOMAIN}",
            "reply": [f"https://intranet.{DOMAIN}/auth"],
            "scopes": BASIC,
            "own": True,
        },
        users=["Sales", "Marketing", "Engineering", "Finance", "People", "IT"],
        count=25,
    ),
]
MICROSOFT_FIRST_PARTY = [
    ("00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online"),
    ("1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams"),
    ("de8bc8b5-d9f9-48b1-a8ad-b748da725064", "Graph Explorer"),
]
EXPENSES = [
    ("2026-10-03", "HUBSPOT INC 888-482-7768", "1200.00", "USD", "Marketing"),
    ("2026-10-07", "SQ *CANVA", "119.99", "USD", "Marketing"),
    ("2026-10-09", "VIMEO.COM", "75.00", "USD", "Marketing"),
    ("2026-10-12", "Zapier Inc", "49.00", "USD", "Marketing"),
    ("2026-10-15", "SEMRUSH", "129.95", "USD", "Marketing"),
    ("2026-10-20", "Descript", "24.00", "USD", "Marketing"),
    ("2026-10-22", "AWS EMEA", "not-a-number", "EUR", "Engineering"),
]
USAGE = [
    ("notion.so", "Marketing", 3),
    ("airtable.com", "Marketing", 6),
    ("chat.openai.com", "Marketing", 1),
]


def build() -> dict[str, Any]:
    rng = random.Random(20261120)
    staff = people(rng)
    by_dept: dict[str, list[Person]] = {}
    for p in staff:
        by_dept.setdefault(p.department, []).append(p)
    night2: set[str] = set()

    def users_of(app: DemoApp) -> list[Person]:
        chosen: list[Person] = []
        pool = [p for d in dict.fromkeys(app.users) for p in by_dept[d]]
        weights = [app.users.count(p.department) for p in pool]
        picker = random.Random(app.name)
        while len(chosen) < min(app.count, len(pool)):
            pick = picker.choices(pool, weights)[0]
            if pick not in chosen:
                chosen.append(pick)
        return chosen

    graph: dict[str, list[dict[str, Any]]] = {
        k: []
        for k in (
            "users",
            "servicePrincipals",
            "oauth2PermissionGrants",
            "appRoleAssignments",
            "signIns",
            "directoryAudits",
            "servicePrincipalSignInActivities",
        )
    }
    google: dict[str, list[dict[str, Any]]] = {
        k: []
        for k in ("users", "tokens", "activities-token", "activities-login", "activities-saml")
    }
    okta: dict[str, list[dict[str, Any]]] = {k: [] for k in ("apps", "app_users", "users", "logs")}

    for p in staff:
        graph["users"].append(
            {
                "id": p.id,
                "userPrincipalName": p.email,
                "mail": p.email,
                "displayName": p.name,
                "department": p.department,
                "jobTitle": p.title,
                "accountEnabled": True,
                "userType": "Member",
            }
        )
        google["users"].append(
            {
                "kind": "admin#directory#user",
                "id": str(100000000000000000000 + staff.index(p)),
                "primaryEmail": p.email,
                "name": {"fullName": p.name},
                "isAdmin": p.department == "IT",
                "suspended": False,
                "orgUnitPath": f"/{p.department}",
                "organizations": [{"title": p.title, "department": p.department, "primary": True}],
            }
        )
        okta["users"].append(
            {
                "id": "00u" + p.id.replace("-", "")[:17],
                "status": "ACTIVE",
                "created": "2024-02-01T09:00:00.000Z",
                "profile": {
                    "login": p.email,
                    "email": p.email,
                    "firstName": p.name.split()[0],
                    "lastName": p.name.split()[1],
                    "department": p.department,
                    "title": p.title,
                },
            }
        )
    google_ids = {p.email: u["id"] for p, u in zip(staff, google["users"], strict=True)}
    okta_ids = {p.email: u["id"] for p, u in zip(staff, okta["users"], strict=True)}

    graph_sp: dict[str, Any] = {
        "id": uid(rng),
        "appId": GRAPH_APP_ID,
        "displayName": "Microsoft Graph",
        "appDisplayName": "Microsoft Graph",
        "publisherName": "Microsoft Services",
        "appOwnerOrganizationId": MICROSOFT_TENANT,
        "servicePrincipalType": "Application",
        "verifiedPublisher": {
            "displayName": None,
            "verifiedPublisherId": None,
            "addedDateTime": None,
        },
        "homepage": None,
        "replyUrls": [],
        "tags": [],
        "accountEnabled": True,
        "info": {"marketingUrl": None, "privacyStatementUrl": None},
        "appRoles": [
            {
                "id": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
                "value": "Directory.Read.All",
                "displayName": "Read directory data",
                "allowedMemberTypes": ["Application"],
                "isEnabled": True,
                "origin": "Application",
                "description": "Read directory data",
            },
            {
                "id": "01d4889c-1287-42c6-ac1f-5d1e02578ef6",
                "value": "Files.Read.All",
                "displayName": "Read files in all site collections",
                "allowedMemberTypes": ["Application"],
                "isEnabled": True,
                "origin": "Application",
                "description": "Read files in all site collections",
            },
        ],
    }
    graph["servicePrincipals"].append(graph_sp)
    for app_id, name in MICROSOFT_FIRST_PARTY:
        graph["servicePrincipals"].append(
            {
                "id": uid(rng),
                "appId": app_id,
                "displayName": name,
                "appDisplayName": name,
                "publisherName": "Microsoft Services",
                "appOwnerOrganizationId": MICROSOFT_TENANT,
                "servicePrincipalType": "Application",
                "verifiedPublisher": {
                    "displayName": None,
                    "verifiedPublisherId": None,
                    "addedDateTime": None,
                },
                "homepage": None,
                "replyUrls": [],
                "tags": [],
                "accountEnabled": True,
                "info": {},
            }
        )
    role_ids = {r["value"]: r["id"] for r in graph_sp["appRoles"]}

    for app in APPS:
        members = users_of(app)
        last_use = DEMO_NOW - timedelta(days=app.last_use_days, hours=3)
        if app.entra:
            e = app.entra
            sp_id = uid(rng)
            sp = {
                "id": sp_id,
                "appId": e["appId"],
                "displayName": app.name,
                "appDisplayName": app.name,
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
                    else {"displayName": None, "verifiedPublisherId": None, "addedDateTime": None}
                ),
                "homepage": e["homepage"],
                "replyUrls": e["reply"],
                "tags": ["WindowsAzureActiveDirectoryIntegratedApp"],
                "accountEnabled": True,
                "info": {"marketingUrl": e["homepage"], "privacyStatementUrl": None},
            }
            graph["servicePrincipals"].append(sp)
            if app.night2:
                night2.add(sp_id)
            scope = " ".join(e["scopes"])
            if e.get("admin"):
                gid = uid(rng)
                graph["oauth2PermissionGrants"].append(
                    {
                        "id": gid,
                        "clientId": sp_id,
                        "consentType": "AllPrincipals",
                        "principalId": None,
                        "resourceId": graph_sp["id"],
                        "scope": scope,
                    }
                )
            else:
                for p in members:
                    gid = uid(rng)
                    graph["oauth2PermissionGrants"].append(
                        {
                            "id": gid,
                            "clientId": sp_id,
                            "consentType": "Principal",
                            "principalId": p.id,
                            "resourceId": graph_sp["id"],
                            "scope": scope,
                        }
                    )
                    if app.night2:
                        night2.add(gid)
            for role in e.get("app_roles", []):
                graph["appRoleAssignments"].append(
                    {
                        "id": uid(rng),
                        "appRoleId": role_ids[role],
                        "createdDateTime": "2026-09-02T10:00:00Z",
                        "principalId": sp_id,
                        "principalType": "ServicePrincipal",
                        "principalDisplayName": app.name,
                        "resourceId": graph_sp["id"],
                        "resourceDisplayName": "Microsoft Graph",
                        "deletedDateTime": None,
                    }
                )
            activity = {"lastSignInDateTime": ts(last_use), "lastSignInRequestId": uid(rng)}
            graph["servicePrincipalSignInActivities"].append(
                {
                    "id": uid(rng),
                    "appId": e["appId"],
                    "lastSignInActivity": activity,
                    "delegatedClientSignInActivity": activity,
                    "delegatedResourceSignInActivity": None,
                    "applicationAuthenticationClientSignInActivity": None,
                    "applicationAuthenticationResourceSignInActivity": None,
                }
            )
            consenter = members[0]
            audit_id = uid(rng)
            graph["directoryAudits"].append(
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
                            "id": sp_id,
                            "displayName": app.name,
                            "type": "ServicePrincipal",
                            "userPrincipalName": None,
                            "modifiedProperties": [
                                {
                                    "displayName": "ConsentContext.IsAdminConsent",
                                    "oldValue": None,
                                    "newValue": '"True"' if e.get("admin") else '"False"',
                                }
                            ],
                        }
                    ],
                    "additionalDetails": [],
                }
            )
            if app.night2:
                night2.add(audit_id)
            for k, p in enumerate(members):
                for d in range(3):
                    when = last_use - timedelta(days=d * 5, minutes=37 * k)
                    if app.night2:
                        when = DEMO_NOW - timedelta(hours=4 + k + d)
                    event_id = uid(rng)
                    graph["signIns"].append(
                        {
                            "id": event_id,
                            "createdDateTime": ts(when),
                            "userDisplayName": p.name,
                            "userPrincipalName": p.email,
                            "userId": p.id,
                            "appId": e["appId"],
                            "appDisplayName": app.name,
                            "ipAddress": f"203.0.113.{10 + k}",
                            "clientAppUsed": "Browser",
                            "isInteractive": True,
                            "resourceDisplayName": "Microsoft Graph",
                            "resourceId": GRAPH_APP_ID,
                            "conditionalAccessStatus": "notApplied",
                            "status": {
                                "errorCode": 0,
                                "failureReason": None,
                                "additionalDetails": None,
                            },
                        }
                    )
                    if app.night2:
                        night2.add(event_id)
        if app.google:
            g = app.google
            for p in members:
                google["tokens"].append(
                    {
                        "kind": "admin#directory#token",
                        "etag": f'"{uid(rng)}"',
                        "clientId": g["clientId"],
                        "displayText": g["displayText"],
                        "scopes": g["scopes"],
                        "nativeApp": False,
                        "anonymous": False,
                        "userKey": google_ids[p.email],
                    }
                )
                unique = str(rng.randrange(10**17, 10**18))
                google["activities-token"].append(
                    {
                        "kind": "admin#reports#activity",
                        "id": {
                            "time": ts(
                                DEMO_NOW - timedelta(hours=5)
                                if app.night2
                                else DEMO_NOW - timedelta(days=40)
                            ).replace("Z", ".000Z"),
                            "uniqueQualifier": unique,
                            "applicationName": "token",
                            "customerId": "C03az79cb",
                        },
                        "etag": f'"{uid(rng)}"',
                        "actor": {
                            "email": p.email,
                            "profileId": google_ids[p.email],
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
                )
                if app.night2:
                    night2.add(g["clientId"] + "|" + google_ids[p.email])
                    night2.add(unique)
        if app.okta:
            o = app.okta
            app_id = "0oa" + uuid.UUID(int=random.Random(app.name).getrandbits(128)).hex[:17]
            okta["apps"].append(
                {
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
                    "_links": {
                        "users": {
                            "href": f"https://larkspur.okta.example/api/v1/apps/{app_id}/users"
                        }
                    },
                }
            )
            for k, p in enumerate(members):
                okta["app_users"].append(
                    {
                        "id": okta_ids[p.email],
                        "appId": app_id,
                        "scope": "USER",
                        "status": "ACTIVE",
                        "created": "2025-03-01T10:00:00.000Z",
                        "lastUpdated": "2025-03-01T10:00:00.000Z",
                        "credentials": {"userName": p.email},
                        "_links": {
                            "app": {"href": f"https://larkspur.okta.example/api/v1/apps/{app_id}"},
                            "user": {
                                "href": f"https://larkspur.okta.example/api/v1/users/{okta_ids[p.email]}"
                            },
                        },
                    }
                )
                when = last_use - timedelta(minutes=13 * k)
                okta["logs"].append(
                    {
                        "uuid": uid(rng),
                        "published": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                        "eventType": "user.authentication.sso",
                        "version": "0",
                        "severity": "INFO",
                        "legacyEventType": None,
                        "displayMessage": "User single sign on to app",
                        "actor": {
                            "id": okta_ids[p.email],
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
                                "id": "0ua" + okta_ids[p.email][3:],
                                "type": "AppUser",
                                "alternateId": p.email,
                                "displayName": p.name,
                                "detailEntry": None,
                            },
                        ],
                        "transaction": {"type": "WEB", "id": uid(rng), "detail": {}},
                        "authenticationContext": {"externalSessionId": uid(rng)},
                    }
                )
    marketing = by_dept["Marketing"]
    expenses = io.StringIO()
    writer = csv.writer(expenses)
    writer.writerow(["Date", "Merchant", "Amount", "Currency", "Employee Email", "Memo"])
    for k, (day, merchant, amount, currency, dept) in enumerate(EXPENSES):
        person = by_dept[dept][k % len(by_dept[dept])]
        writer.writerow([day, merchant, amount, currency, person.email, "Subscription"])
    usage = io.StringIO()
    writer = csv.writer(usage)
    writer.writerow(["domain", "user", "last_used"])
    for domain, dept, n in USAGE:
        for k in range(n):
            person = by_dept[dept][(k * 3) % len(by_dept[dept])]
            writer.writerow([domain, person.email, ts(DEMO_NOW - timedelta(days=k + 2))])
    del marketing
    return {
        "graph": graph,
        "google": google,
        "okta": okta,
        "files": {"expenses.csv": expenses.getvalue(), "usage.csv": usage.getvalue()},
        "night2": sorted(night2),
    }


def write(target: Path = TENANT_DIR) -> list[Path]:
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


if __name__ == "__main__":
    for p in write():
        print(p)
