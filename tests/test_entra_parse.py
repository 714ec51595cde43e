"""The Entra connector's pure parsers, on our Graph-shaped payload files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from connectors import entra
from connectors.entra.index import _Consents, _SpEntry
from scanner.core.errors import ResponseShapeError

PAYLOADS = Path(__file__).parent / "payloads" / "entra"
UTC = dt.UTC


def load(name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads((PAYLOADS / f"{name}.json").read_text())
    return items


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-03-13T19:15:41.6195833Z", dt.datetime(2020, 3, 13, 19, 15, 41, 619583, UTC)),
        ("2021-03-01T00:00:00-8:00", dt.datetime(2021, 3, 1, 8, 0, tzinfo=UTC)),
        ("2021-03-01T00:00:00+05:30", dt.datetime(2021, 2, 28, 18, 30, tzinfo=UTC)),
        ("2021-03-01T00:00:00", dt.datetime(2021, 3, 1, tzinfo=UTC)),
        ("2021-03-01 10:20", dt.datetime(2021, 3, 1, 10, 20, tzinfo=UTC)),
        ("not a time", None),
        ("2021-02-30T00:00:00Z", None),
        (None, None),
    ],
)
def test_parse_time_is_lenient(text: Any, expected: dt.datetime | None) -> None:
    assert entra.parse_time(text) == expected


def test_parse_user_fields() -> None:
    users = [entra.parse_user(raw) for raw in load("users")]
    guest = next(u for u in users if u.is_guest)
    assert guest.email == "eve@agency.example" and guest.department is None
    assert users[0].department == "Marketing" and users[0].job_title == "Campaign Manager"
    upn_only = entra.parse_user({"id": "x", "userPrincipalName": "a@b.example", "mail": None})
    assert upn_only.email == "a@b.example" and upn_only.enabled


def test_parse_user_requires_an_id() -> None:
    with pytest.raises(ResponseShapeError, match="Entra: a user from Graph lacks 'id'"):
        entra.parse_user({"displayName": "nobody"})


def test_parse_app_publisher_and_sso_kind() -> None:
    apps = {a.name: a for a in (entra.parse_app(raw) for raw in load("servicePrincipals"))}
    assert apps["HubSpot"].publisher_verified and apps["HubSpot"].kind == "saml"
    scraper = apps["Acme Lead Scraper"]
    assert scraper.publisher is None and not scraper.publisher_verified
    assert scraper.reply_urls == ("https://leads.acme-growth.example/auth",)
    assert apps["Microsoft Graph"].publisher_tenant == "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
    bare = entra.parse_app({"id": "sp", "appId": "app"})
    assert bare.name == "app" and bare.homepage is None and bare.tags == ()


def test_parse_grant_splits_scopes_and_maps_consent() -> None:
    client = _SpEntry("app-1", "Canva", "t", "Application")
    graph = _SpEntry("00000003-0000-0000-c000-000000000000", "Microsoft Graph", "m", None)
    raw = {"clientId": "sp", "consentType": "AllPrincipals", "principalId": None, "scope": " a  b "}
    grant = entra.parse_grant(raw, client, graph)
    assert grant.scopes == ("a", "b") and grant.consent_type == "admin"
    assert grant.user_id is None and grant.resource == "Microsoft Graph"
    one = entra.parse_grant(
        {**raw, "consentType": "Principal", "principalId": "u1"}, client, None, "u@x.example"
    )
    assert (one.consent_type, one.user_id, one.user_email) == ("user", "u1", "u@x.example")


def test_parse_signin_status_and_interactivity() -> None:
    signins = [entra.parse_signin(raw) for raw in load("signIns")]
    failed = next(s for s in signins if not s.success)
    assert failed.app_name == "Acme Lead Scraper"
    assert sum(not s.interactive for s in signins) == 2
    with pytest.raises(ResponseShapeError, match="unreadable time"):
        entra.parse_signin({"id": "1", "appId": "a", "createdDateTime": "yesterday"})


def test_parse_sp_activity_uses_latest_known_time() -> None:
    parsed = [entra.parse_sp_activity(raw) for raw in load("servicePrincipalSignInActivities")]
    acme, internal, never = parsed
    assert acme is not None and acme.at == dt.datetime(2026, 2, 27, 14, 0, tzinfo=UTC)
    assert internal is not None and internal.at == dt.datetime(2026, 1, 15, tzinfo=UTC)
    assert never is None
    assert acme.user_id is None and not acme.interactive


def test_parse_consent_keeps_successful_consents_only() -> None:
    parsed = [entra.parse_consent(raw) for raw in load("directoryAudits")]
    assert parsed[0] == (
        "a1000000-0000-4000-8000-000000000001",
        "b2000000-0000-4000-8000-000000000001",
        dt.datetime(2026, 2, 10, 8, 59, tzinfo=UTC),
    )
    assert parsed[3] is None  # result "failure"
    # The documented example capitalises "Type"; accept both spellings.
    doc_style = {
        "activityDateTime": "2026-01-01T00:00:00Z",
        "targetResources": [{"id": "s", "Type": "ServicePrincipal"}],
    }
    assert entra.parse_consent(doc_style) == ("s", None, dt.datetime(2026, 1, 1, tzinfo=UTC))


def test_consents_remember_the_earliest_time() -> None:
    consents = _Consents()
    late, early = dt.datetime(2026, 2, 2, tzinfo=UTC), dt.datetime(2026, 2, 1, tzinfo=UTC)
    consents.add("sp", "u1", late)
    consents.add("sp", "u2", early)
    assert consents.first("sp") == early
    assert consents.first("sp", "u1") == late
    assert consents.first("sp", "u3") == early
    assert consents.first("other") is None


def test_shipped_graph_app_roles_table() -> None:
    roles = entra.load_graph_app_roles()
    assert roles["810c84a8-4a9e-49e6-bf7d-12d183f40d01"] == "Mail.Read"
    assert len(roles) > 500
    assert entra.load_graph_app_roles(PAYLOADS / "missing.csv") == {}


def test_graph_time_is_an_unquoted_utc_literal() -> None:
    stamp = dt.datetime(2026, 3, 1, 13, 0, 5, 999, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert entra.graph_time(stamp) == "2026-03-01T12:00:05Z"
