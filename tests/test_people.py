"""People resolution: one person across sources and spellings, disabled people counted apart.

The end-to-end case scans the documented Entra payloads (tests/payloads/entra) through
FakeGraph on 127.0.0.1 with three more sign-ins into Canva: Grace, whose UPN is not her mail,
signs in by UPN and holds a grant by object id; the guest Eve signs in with her ``#EXT#`` UPN
(her mail is her home address); Dave, whose account is disabled, signed in before it was.
The cross-source case stores what the Entra, Google and Okta parsers make of their documented
user shapes and counts one person per human.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.entra.parse import guest_home_address
from connectors.entra.parse import parse_user as entra_user
from connectors.google.parse import _parse_user as google_user
from connectors.okta.parse import parse_user as okta_user
from connectors.testing.graph import FakeGraph
from connectors.testing.server import LoopbackServer
from reports import model as report_model
from scanner.analysis.catalog import Catalog
from scanner.analysis.inventory import build
from scanner.analysis.people import People
from scanner.analysis.risk import ScopeTable
from scanner.app import config as configuration
from scanner.app.pipeline import run_scan
from scanner.core.config import OrganisationSettings
from scanner.core.models import Grant, RawApp, SignIn, SourceRecord
from scanner.store.database import Store
from scanner.store.inventory import DirectoryUser
from tests.test_entra import (  # noqa: F401  (fixtures: one TLS FakeGraph per test)
    NOW,
    SECRET,
    entra_config_text,
    fake,
    server,
    session,
    tls_server,
)

CANVA_APP = "c0c0a000-1111-4222-8333-444455556666"
CANVA_SP = "a1000000-0000-4000-8000-000000000001"
GRACE = "b2000000-0000-4000-8000-000000000007"
EVE = "b2000000-0000-4000-8000-000000000005"
DAVE = "b2000000-0000-4000-8000-000000000004"
EVE_UPN = "eve_agency.example#EXT#@contoso.onmicrosoft.com"

# https://learn.microsoft.com/en-us/graph/api/resources/user (proxyAddresses: "SMTP:" marks
# the primary address, "smtp:" the others).
GRACE_USER = {
    "id": GRACE,
    "userPrincipalName": "grace.hopper@contoso.onmicrosoft.com",
    "mail": "grace@contoso.example",
    "otherMails": ["grace.private@example.net"],
    "proxyAddresses": ["SMTP:grace@contoso.example", "smtp:g.hopper@contoso.example"],
    "displayName": "Grace Hopper",
    "department": "Marketing",
    "jobTitle": "Content Lead",
    "accountEnabled": True,
    "userType": "Member",
}


def _sign_in(number: int, user_id: str, upn: str, error: int = 0) -> dict[str, Any]:
    """A signIn in the shape of tests/payloads/entra/signIns.json."""
    return {
        "id": f"c3000000-0000-4000-8000-0000000001{number:02d}",
        "createdDateTime": f"2026-02-27T1{number}:00:00Z",
        "userDisplayName": upn,
        "userPrincipalName": upn,
        "userId": user_id,
        "appId": CANVA_APP,
        "appDisplayName": "Canva",
        "ipAddress": "203.0.113.9",
        "clientAppUsed": "Browser",
        "isInteractive": True,
        "status": {"errorCode": error, "failureReason": None, "additionalDetails": None},
    }


@pytest.fixture
def config(
    tmp_path: Path,
    server: LoopbackServer,  # noqa: F811
    fake: FakeGraph,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> configuration.Config:
    monkeypatch.setenv("ENTRA_TEST_SECRET", SECRET)
    fake.users.append(copy.deepcopy(GRACE_USER))
    fake.sign_ins += [
        _sign_in(1, GRACE, GRACE_USER["userPrincipalName"]),
        _sign_in(2, GRACE, GRACE_USER["userPrincipalName"]),
        _sign_in(3, EVE, EVE_UPN),
        _sign_in(4, DAVE, "dave@contoso.example"),
    ]
    fake.grants.append(
        {
            "id": "grant-grace-canva",
            "clientId": CANVA_SP,
            "consentType": "Principal",
            "principalId": GRACE,
            "resourceId": "7d1e2c3b-0a4f-4e5d-8c6b-1a2b3c4d5e01",
            "scope": "openid profile User.Read",
        }
    )
    path = tmp_path / "config.toml"
    path.write_text(entra_config_text(server, fake), encoding="utf-8")
    return configuration.load(path)


def test_a_guest_and_a_user_whose_upn_differs_from_mail_are_counted_once(
    config: configuration.Config,
    session: requests.Session,  # noqa: F811
) -> None:
    result = run_scan(config, now=NOW, session=session, sleep=lambda _s: None)
    assert result.exit_code == 0, result.sources
    store = Store.open(config.store_path)
    try:
        model = report_model.build(store, config, now=NOW + timedelta(hours=1))
    finally:
        store.close()
    canva = next(a for a in model["apps"] if a["key"] == "cat:canva")
    # alice and bob (payloads), Grace by UPN and by grant, Eve by #EXT# UPN, Dave (disabled).
    assert sorted(canva["user_list"]) == [
        "alice@contoso.example",
        "bob@contoso.example",
        "dave@contoso.example",
        "eve@agency.example",
        "grace@contoso.example",
    ]
    assert canva["users"] == canva["people"] == 5
    assert canva["people_disabled"] == 1
    assert {"department": "Marketing", "users": 3} in canva["departments"]


def test_guest_home_address_from_the_ext_upn() -> None:
    assert guest_home_address(EVE_UPN) == "eve@agency.example"
    assert guest_home_address("first_last_partner.co.uk#EXT#@t.onmicrosoft.com") == (
        "first_last@partner.co.uk"
    )
    assert guest_home_address("alice@contoso.example") is None
    assert guest_home_address("nodomain#EXT#@t.onmicrosoft.com") is None
    assert guest_home_address(None) is None


def test_entra_user_aliases_from_upn_other_mails_and_smtp_proxies() -> None:
    user = entra_user(
        {**GRACE_USER, "proxyAddresses": [*GRACE_USER["proxyAddresses"], "X500:/o=Contoso/cn=g"]}
    )
    assert user.email == "grace@contoso.example"
    assert user.aliases == (
        "grace.hopper@contoso.onmicrosoft.com",
        "grace.private@example.net",
        "grace@contoso.example",
        "g.hopper@contoso.example",
    )


# -- across sources -------------------------------------------------------------------------
NOW_UTC = datetime(2026, 3, 1, tzinfo=UTC)
# https://developers.google.com/admin-sdk/directory/reference/rest/v1/users
GOOGLE_GRACE = {
    "kind": "admin#directory#user",
    "id": "103456789012345678901",
    "primaryEmail": "ghopper@contoso.example",
    "name": {"fullName": "Grace Hopper"},
    "aliases": ["grace@contoso.example"],
    "nonEditableAliases": ["ghopper@contoso.example.test-google-a.com"],
    "suspended": False,
    "orgUnitPath": "/Marketing",
}
GOOGLE_HENRY = {
    "kind": "admin#directory#user",
    "id": "103456789012345678902",
    "primaryEmail": "henry@contoso.example",
    "name": {"fullName": "Henry Left"},
    "suspended": True,
    "orgUnitPath": "/Sales",
}
# https://developer.okta.com/docs/api/openapi/okta-management/management/tag/User/
OKTA_GRACE = {
    "id": "00u1grace",
    "status": "ACTIVE",
    "profile": {"login": "grace.hopper@contoso.onmicrosoft.com", "email": "grace@contoso.example"},
}
OKTA_HENRY = {
    "id": "00u1henry",
    "status": "DEPROVISIONED",
    "profile": {"login": "henry@contoso.example", "email": "henry@contoso.example"},
}


def _scan(store: Store, source: str, records: list[SourceRecord]) -> None:
    scan_id = store.begin_scan()
    store.begin_source(scan_id, source)
    stats = store.ingest(scan_id, source, iter(records))
    store.end_source(scan_id, source, "ok", stats)
    store.finish_scan(scan_id)


def test_one_person_across_entra_google_and_okta(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db")
    try:
        _scan(store, "entra", [entra_user(GRACE_USER)])
        _scan(
            store,
            "google",
            [
                google_user(GOOGLE_GRACE),
                google_user(GOOGLE_HENRY),
                RawApp("google", "canva-client", "Canva"),
                # Google names Grace by her primary address there.
                Grant(
                    "google",
                    "canva-client",
                    GOOGLE_GRACE["id"],
                    ("openid",),
                    "user",
                    user_email="ghopper@contoso.example",
                ),
                Grant(
                    "google",
                    "canva-client",
                    GOOGLE_HENRY["id"],
                    ("openid",),
                    "user",
                    user_email="henry@contoso.example",
                ),
            ],
        )
        _scan(
            store,
            "okta",
            [
                okta_user(OKTA_GRACE),
                okta_user(OKTA_HENRY),
                RawApp("okta", "0oacanva", "Canva", kind="sso"),
                # Okta's System Log names Grace by her login, in another case.
                SignIn(
                    "okta",
                    "ev1",
                    "0oacanva",
                    NOW_UTC - timedelta(days=1),
                    user_email="GRACE.HOPPER@contoso.onmicrosoft.com",
                    app_name="Canva",
                    kind="sso",
                ),
            ],
        )
        inventory = build(
            store,
            Catalog.load(),
            ScopeTable.load(None),
            OrganisationSettings(marketing_groups=("/Marketing",)),
            NOW_UTC,
        )
    finally:
        store.close()
    canva = next(a for a in inventory if a.key == "cat:canva")
    # Grace is one person (Entra mail and UPN, Google primary and alias, Okta login and email);
    # her key is the smallest primary address among her records.
    assert canva.users == ("ghopper@contoso.example", "henry@contoso.example")
    assert canva.people_disabled == 1  # Henry: suspended in Google, deprovisioned in Okta
    assert canva.marketing_users == 1  # Grace, by her Google org unit


def _user(source: str, uid: str, email: str | None, *aliases: str, **kw: Any) -> DirectoryUser:
    fields: dict[str, Any] = {
        "department": None,
        "groups": (),
        "enabled": True,
        "is_guest": False,
        "gone": False,
    }
    fields.update(kw)
    return DirectoryUser(source, uid, email, aliases, **fields)


def test_a_person_is_disabled_only_when_no_account_of_theirs_is_in_use() -> None:
    people = People(
        [
            _user("entra", "1", "ann@c.example", enabled=False),
            _user("google", "g1", "ann@c.example"),  # still active in Google
            _user("entra", "2", "ben@c.example", enabled=False),
            _user("okta", "o2", "ben@c.example", gone=True),  # deleted from Okta
        ]
    )
    ann, ben = people.key("entra", "1"), people.key("okta", email="BEN@c.example ")
    assert (ann, ben) == ("ann@c.example", "ben@c.example")
    assert people.get("ann@c.example").disabled is False  # type: ignore[union-attr]
    assert people.get("ben@c.example").disabled is True  # type: ignore[union-attr]
    assert len(people) == 2


def test_unknown_addresses_and_ids_stand_for_themselves() -> None:
    people = People([_user("okta", "00u1", None, "login@c.example")])
    assert people.key("okta", "00u1") == "okta:00u1"  # no primary address: source:id
    assert people.key("okta", email="login@c.example") == "okta:00u1"
    assert people.key("entra", "x", "New@Partner.example") == "new@partner.example"
    assert people.key("entra", "x") == "entra:x"
    assert people.key("entra") is None
