"""The demo's review cases, generated last so every earlier id stays as it was.

- "Q4 Bonus Statement": an unverified app one marketer consented to, reading and sending mail,
  whose reply URL is ``http://localhost:<port>/access`` (a consent-phishing pattern).
- "Larkspur Dev Portal": the company's own app (registered in its tenant) with a localhost
  reply URL for development: it must stay quiet.
- "Apollo.io": a sales tool whose only user is the demo's leaver, who still holds its grant.
"""

from __future__ import annotations

from connectors.demo import DOMAIN
from tools.demo_data import BASIC, DemoApp

PHISHING = DemoApp(
    "Q4 Bonus Statement",
    entra={
        "appId": "e4e4e4e4-0001-4000-8000-00000000c0de",
        "publisher": "Payroll Notices",
        "verified": False,
        "homepage": None,
        "reply": ["http://localhost:7777/access"],
        "scopes": BASIC + ["Mail.Read", "Mail.Send", "Contacts.Read"],
    },
    users=["Marketing"],
    count=1,
    last_use_days=2,
)

DEV_PORTAL = DemoApp(
    "Larkspur Dev Portal",
    entra={
        "appId": "a7a7a7a7-0000-4000-8000-000000000002",
        "publisher": "Larkspur Outdoor Co.",
        "verified": False,
        "homepage": f"https://dev.{DOMAIN}",
        "reply": ["http://localhost:3000/callback", f"https://dev.{DOMAIN}/callback"],
        "scopes": BASIC,
        "own": True,
    },
    users=["Engineering"],
    count=2,
)

LEAVERS_APP = DemoApp(
    "Apollo.io",
    entra={
        "appId": "e4e4e4e4-0002-4000-8000-00000000a9a9",
        "publisher": "Apollo",
        "verified": True,
        "homepage": "https://www.apollo.io",
        "reply": ["https://app.apollo.io/oauth/callback"],
        "scopes": BASIC + ["Contacts.Read"],
    },
    users=["Sales"],
    count=1,
    last_use_days=40,
)

REVIEW_APPS: tuple[DemoApp, ...] = (PHISHING, DEV_PORTAL)
"""Drawn their users like every app; ``LEAVERS_APP`` goes to the leaver alone."""
