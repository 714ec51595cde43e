"""What the demo tenant holds: Larkspur Outdoor Co.'s departments, people's names, and the SaaS
apps with how each shows up in Entra, Google Workspace and Okta, plus the expense and usage rows.

``tools/generate_demo.py`` turns this into provider-shaped files; edit here to change the story,
then rerun ``python -m tools.generate_demo``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.demo import DOMAIN

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
    DemoApp(
        # Okta's own Admin Console: the built-in app ``saasure`` every org has; first-party.
        "Okta Admin Console",
        okta={"label": "Okta Admin Console", "name": "saasure", "mode": "OPENID_CONNECT"},
        users=["IT"],
        count=2,
    ),
    # The apps below are appended last so the ids drawn for the ones above stay as they were.
    DemoApp(
        # An Okta SAML app deleted from Okta since: its SSO events are still in the System Log,
        # but the apps listing no longer has it, so only the log shows it (``sso_only``).
        "Asana",
        okta={"label": "Asana", "name": "asana", "mode": "SAML_2_0", "deleted": True},
        users=["Marketing"] * 3 + ["Sales"],
        count=4,
        last_use_days=9,
    ),
    DemoApp(
        # A SAML app Google Workspace signs people in to; only the SAML audit log names it.
        "Miro",
        google={"saml": "Miro"},
        users=["Marketing", "Engineering"],
        count=3,
        last_use_days=2,
    ),
    DemoApp(
        # App-only access: an admin granted Microsoft Graph's application permission Mail.Read
        # (every mailbox, no user signed in); no delegated grant, no user sign-ins.
        "InboxPulse",
        entra={
            "appId": "f1e2d3c4-0033-4000-8000-00000000a033",
            "publisher": "InboxPulse Ltd",
            "verified": False,
            "homepage": "https://inboxpulse.example",
            "reply": ["https://inboxpulse.example/auth/callback"],
            "app_only": True,
            "app_roles": ["Mail.Read"],
        },
        users=["Marketing"],
        count=1,
    ),
]
FAILED_SIGN_INS = [
    # (app, department, attempts): someone outside the app's users tries to sign in to it and
    # Entra refuses each time (a user not assigned to the app), so they are no user of it.
    ("Campaign Planner Pro", "Sales", 2),
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
