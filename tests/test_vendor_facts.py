"""Vendor facts from the catalog: what they say, with their source, and what they add to risk."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scanner.analysis.catalog import Catalog
from scanner.analysis.risk import WEIGHTS, RiskInput, ScopeTable, assess, weights_with
from scanner.analysis.vendor_facts import data_scopes, vendor_facts
from scanner.app.config import from_dict
from scanner.core.errors import ConfigError
from scanner.core.models import CatalogEntry

NOW = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def _risk(facts: tuple[tuple[str, str, str], ...], scopes: tuple[str, ...] = ()) -> RiskInput:
    return RiskInput(
        scopes=scopes,
        admin_consent=False,
        app_only=False,
        users=1,
        publisher_verified=True,
        first_party=False,
        internal=False,
        first_seen=None,
        last_sign_in=None,
        now=NOW,
        vendor_facts=facts,
        data_scopes=tuple(data_scopes(scopes)),
    )


def test_shipped_entries_carry_sourced_facts(catalog: Catalog) -> None:
    asana = catalog.find("Asana")
    assert asana is not None
    facts = {fact: (what, source) for fact, what, source in vendor_facts(asana)}
    assert facts["mfa"][0].startswith("offers authenticator app (TOTP)")
    assert "asana.com/guide" in facts["mfa"][0]
    assert facts["sso_paid"][0].startswith("SSO only on a pricier plan: $60 per u/m vs $25")
    assert facts["sso_paid"][1].startswith("robchahin/sso-wall-of-shame@")
    jasper = catalog.find("Jasper")
    assert jasper is not None
    assert ("ai", "generative-AI tool (ai_writing)", jasper.source) in vendor_facts(jasper)


def test_unknown_facts_say_nothing() -> None:
    assert vendor_facts(None) == ()
    assert vendor_facts(CatalogEntry("Acme", "Acme", "crm")) == ()


def test_no_mfa_and_sso_tax_add_their_weights_with_the_source(table: ScopeTable) -> None:
    entry = CatalogEntry(
        "Acme",
        "Acme",
        "crm",
        mfa=("none",),
        mfa_source="2factorauth/twofactorauth@abc1234 entries/a/acme.json (MIT)",
        sso="paid",
        sso_note="SSO only on a pricier plan: $30 vs $10",
        sso_source="robchahin/sso-wall-of-shame@def5678 _vendors/acme.yaml (Apache-2.0)",
    )
    plain = assess(_risk(()), table)
    scored = assess(_risk(vendor_facts(entry)), table)
    assert scored.score - plain.score == WEIGHTS["no_mfa"] + WEIGHTS["sso_paid"]
    assert (
        "no MFA: the vendor offers no second factor "
        "(source: 2factorauth/twofactorauth@abc1234 entries/a/acme.json (MIT))"
    ) in scored.reasons
    assert any(r.startswith("SSO tax: SSO only on a pricier plan") for r in scored.reasons)


def test_an_ai_tool_weighs_more_only_with_mail_or_file_scopes(table: ScopeTable) -> None:
    facts = vendor_facts(CatalogEntry("Writer Bot", "Writer Bot", "ai_writing", source="list"))
    calm = assess(_risk(facts, ("User.Read", "openid", "email", "Calendars.Read")), table)
    reading = assess(_risk(facts, ("User.Read", "Files.Read.All")), table)
    assert not any(r.startswith("AI tool") for r in calm.reasons)
    assert "AI tool holding mail or file scopes: Files.Read.All (source: list)" in reading.reasons


def test_data_scopes_cover_graph_and_google() -> None:
    scopes = [
        "Mail.Send",
        "Files.ReadWrite.All",
        "Sites.Read.All",
        "https://www.googleapis.com/auth/gmail.readonly",
        "https://www.googleapis.com/auth/drive.file",
        "https://mail.google.com/",
        "User.Read",
        "Calendars.Read",
        "email",
        "https://www.googleapis.com/auth/userinfo.email",
    ]
    assert data_scopes(scopes) == sorted(scopes[:6])


@pytest.fixture(scope="module")
def table() -> ScopeTable:
    return ScopeTable.load()


def test_config_weights_change_the_vendor_parts(table: ScopeTable) -> None:
    config = from_dict({"policy": {"risk_weights": {"no_mfa": 20, "sso_paid": 0}}})
    weights = weights_with(config.policy.risk_weights)
    facts = (("no_mfa", "the vendor offers no second factor", ""), ("sso_paid", "SSO extra", ""))
    plain = assess(_risk(()), table, weights).score
    assert assess(_risk(facts), table, weights).score - plain == 20
    assert weights["unverified"] == WEIGHTS["unverified"]


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"no_mfaa": 3}, "policy.risk_weights.no_mfaa: unknown weight (known: critical"),
        ({"no_mfa": 500}, "policy.risk_weights.no_mfa: 500 must be a whole number 0-100"),
    ],
)
def test_bad_config_weights_name_the_setting(weights: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        from_dict({"policy": {"risk_weights": weights}})
    assert message in str(err.value)
