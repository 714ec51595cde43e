"""The demo's people: the staff in Entra, Google Workspace and Okta, and the identity variants
a real tenant has (a user whose UPN is not their mail, a B2B guest, a leaver whose accounts are
disabled) so the report counts each person once and the disabled ones apart."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.demo import DOMAIN
from tools.demo_data import DEPARTMENTS, FIRST, LAST, Person
from tools.demo_shapes import Tenant, sign_in, uid


def people(rng: random.Random) -> list[Person]:
    """The staff, department by department, in ``DEPARTMENTS`` order."""
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


@dataclass(frozen=True)
class Directory:
    """The staff and their ids in each directory."""

    staff: list[Person]
    by_dept: dict[str, list[Person]]
    google_ids: dict[str, str]
    """Email -> Google Workspace user id."""
    okta_ids: dict[str, str]
    """Email -> Okta user id."""


# -- people ------------------------------------------------------------------------------------


def directory(staff: list[Person]) -> Directory:
    by_dept: dict[str, list[Person]] = {}
    for p in staff:
        by_dept.setdefault(p.department, []).append(p)
    return Directory(
        staff=staff,
        by_dept=by_dept,
        google_ids={p.email: str(100000000000000000000 + staff.index(p)) for p in staff},
        okta_ids={p.email: "00u" + p.id.replace("-", "")[:17] for p in staff},
    )


def add_people(tenant: Tenant, people_of: Directory) -> None:
    """Each person in Entra, Google Workspace and Okta."""
    for p in people_of.staff:
        tenant.graph["users"].append(
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
        tenant.google["users"].append(
            {
                "kind": "admin#directory#user",
                "id": people_of.google_ids[p.email],
                "primaryEmail": p.email,
                "name": {"fullName": p.name},
                "isAdmin": p.department == "IT",
                "suspended": False,
                "orgUnitPath": f"/{p.department}",
                "organizations": [{"title": p.title, "department": p.department, "primary": True}],
            }
        )
        tenant.okta["users"].append(
            {
                "id": people_of.okta_ids[p.email],
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


# -- identity variants (written last: they draw from the generator after everything else) ----
TENANT_DOMAIN = "larkspur.onmicrosoft.com"
GUEST = Person(
    id="",  # drawn from the generator
    name="Mia Okafor",
    email="mia.okafor@brightside-agency.example",
    department="",
    title="Agency Designer",
)
GUEST_APP = "Canva"
"""The app the agency guest consented to and signs in to with her guest UPN."""


def add_identity_variants(tenant: Tenant, rng: random.Random, people_of: Directory) -> None:
    """A marketer whose UPN is not her mail, an agency guest and a leaver: each is one person
    in the report, and the leaver is counted as disabled."""
    graph = tenant.graph
    holders = {g["principalId"] for g in graph["oauth2PermissionGrants"] if g["principalId"]}
    marketer = next(p for p in people_of.by_dept["Marketing"] if p.id in holders)
    _upn_not_mail(graph, marketer)
    _add_guest(graph, rng)
    leaver = next(p for p in people_of.by_dept["Sales"] if p.id in holders)
    _disable_everywhere(tenant, people_of, leaver)


def _upn_not_mail(graph: dict[str, list[dict[str, Any]]], p: Person) -> None:
    """Entra names ``p`` by a UPN in the tenant's initial domain: sign-ins carry the UPN, grants
    the object id, the directory the mail (and the UPN among ``proxyAddresses``)."""
    upn = f"{p.email.split('@')[0]}@{TENANT_DOMAIN}"
    user = next(u for u in graph["users"] if u["id"] == p.id)
    user["userPrincipalName"] = upn
    user["proxyAddresses"] = [f"SMTP:{p.email}", f"smtp:{upn}"]
    for event in graph["signIns"]:
        if event["userId"] == p.id:
            event["userPrincipalName"] = upn


def guest_upn(email: str) -> str:
    """A B2B guest's UPN: the ``@`` of the home address becomes ``_``, then ``#EXT#@`` and the
    tenant's initial domain (https://learn.microsoft.com/entra/external-id/user-properties)."""
    return f"{email.replace('@', '_')}#EXT#@{TENANT_DOMAIN}"


def _add_guest(graph: dict[str, list[dict[str, Any]]], rng: random.Random) -> None:
    guest = Person(
        id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        name=GUEST.name,
        email=guest_upn(GUEST.email),  # as her sign-ins name her
        department=GUEST.department,
        title=GUEST.title,
    )
    graph["users"].append(
        {
            "id": guest.id,
            "userPrincipalName": guest.email,
            "mail": GUEST.email,
            "otherMails": [GUEST.email],
            "displayName": f"{GUEST.name} (Brightside)",
            "department": None,
            "jobTitle": GUEST.title,
            "accountEnabled": True,
            "userType": "Guest",
        }
    )
    sp = next(s for s in graph["servicePrincipals"] if s["displayName"] == GUEST_APP)
    own = next(g for g in graph["oauth2PermissionGrants"] if g["clientId"] == sp["id"])
    graph["oauth2PermissionGrants"].append(
        {**own, "id": uid(rng), "consentType": "Principal", "principalId": guest.id}
    )
    last = max(e["createdDateTime"] for e in graph["signIns"] if e["appId"] == sp["appId"])
    for k in range(2):
        event = sign_in(
            uid(rng),
            _before(last, hours=6 + 30 * k),
            guest,
            sp["appId"],
            GUEST_APP,
            "198.51.100.23",
        )
        graph["signIns"].append(event)


def _disable_everywhere(tenant: Tenant, people_of: Directory, p: Person) -> None:
    """``p`` has left: disabled in Entra, suspended in Google, deprovisioned in Okta; the grants
    they gave stay, which is what the report's disabled count is for."""
    next(u for u in tenant.graph["users"] if u["id"] == p.id)["accountEnabled"] = False
    google_id = people_of.google_ids[p.email]
    next(u for u in tenant.google["users"] if u["id"] == google_id)["suspended"] = True
    okta_id = people_of.okta_ids[p.email]
    next(u for u in tenant.okta["users"] if u["id"] == okta_id)["status"] = "DEPROVISIONED"


def _before(stamp: str, hours: int) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) - timedelta(
        hours=hours
    )
