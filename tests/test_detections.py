"""The finding rules of scanner.analysis.detections, each with cases that fire and cases that
must not, run through ``reconcile`` as the pipeline runs them."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scanner.analysis import sanctions
from scanner.analysis.catalog import Catalog
from scanner.analysis.completeness import NEEDS
from scanner.analysis.detections.base import SEVERITY
from scanner.analysis.detections.consent import CHECKS
from scanner.analysis.detections.consent_rules import RULES_FILE, ConsentRules
from scanner.analysis.reconcile import Context, reconcile
from scanner.analysis.risk import ScopeTable
from scanner.core.errors import ConfigError, InputError
from scanner.core.models import (
    FINDING_KINDS,
    App,
    Finding,
    InventoryApp,
    SanctionEntry,
    finding_label,
)

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
SCOPES = ScopeTable.load()


def app(name: str = "Acme Sync", **changes: Any) -> InventoryApp:
    """A third-party OAuth app one person consented to two months ago."""
    key = changes.pop("key", f"cat:{name.lower().replace(' ', '-')}")
    category = changes.pop("category", None)
    internal = changes.pop("internal", False)
    base = InventoryApp(
        app=App(key, name, "Vendor", category, None, internal=internal),
        sources=("entra",),
        client_ids=("c1",),
        raw_names=(name,),
        users=("ana@example.com",),
        departments=(("Marketing", 1),),
        marketing_users=1,
        scopes=("openid",),
        admin_consent=False,
        app_only=False,
        publisher="Vendor",
        publisher_verified=True,
        first_seen=NOW - timedelta(days=60),
        last_seen=NOW,
        last_sign_in=NOW - timedelta(days=2),
        sign_ins_30d=4,
        spend=0.0,
        spend_currency=None,
        is_marketing=False,
        marketing_reason="",
        risk_score=10,
        risk_level="low",
        risk_reasons=(),
        kinds=("oauth",),
        evidence=(("entra", "grant", 1),),
        access="oauth",
    )
    return replace(base, **changes)


def ctx(**changes: Any) -> Context:
    return Context(now=NOW, scopes=SCOPES, **changes)


def run(
    apps: list[InventoryApp], entries: list[SanctionEntry] | None = None, **context: Any
) -> list[Finding]:
    return reconcile(apps, entries or [], ctx(**context))


def kinds(found: list[Finding], kind: str) -> list[Finding]:
    return [f for f in found if f.kind == kind]


def one(found: list[Finding], kind: str) -> Finding:
    (only,) = kinds(found, kind)
    return only


# -- the tables agree ----------------------------------------------------------------------
def test_every_kind_has_severity_needs_and_a_label() -> None:
    rows = {row for row in SEVERITY}
    for kind in FINDING_KINDS:
        assert kind in NEEDS, kind
        assert any(row == kind or row.startswith(kind + "_") for row in rows), kind
        assert finding_label(kind)


def test_every_shipped_consent_rule_has_a_check_and_a_source() -> None:
    table = ConsentRules.shipped()
    assert {r.id for r in table.rules} == set(CHECKS)
    assert all(r.source and r.reason and r.weight > 0 for r in table.rules)
    text = tomllib.loads(RULES_FILE.read_text(encoding="utf-8"))
    assert "MIT" in RULES_FILE.read_text(encoding="utf-8")
    assert text["threshold"] <= text["strong"]


def test_consent_weights_unknown_rule_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="policy.consent_weights.nope: unknown rule"):
        ConsentRules.shipped().weighted({"nope": 1})


# -- consent_phishing ------------------------------------------------------------------------
def test_localhost_reply_url_on_a_third_party_app_fires() -> None:
    found = run([app(reply_urls=("http://localhost:8080/access",))])
    finding = one(found, "consent_phishing")
    assert finding.severity == "high"  # the campaign pattern and localhost: 6 + 4
    assert any("rule reply_localhost_access" in r and "cazadora" in r for r in finding.reasons)
    assert [r["id"] for r in finding.evidence["rules"]] == [
        "reply_localhost_access",
        "reply_localhost",
    ]


def test_own_development_app_with_localhost_reply_url_does_not_fire() -> None:
    dev = app("Acme Dev Portal", internal=True, reply_urls=("http://localhost:3000/callback",))
    assert kinds(run([dev]), "consent_phishing") == []


def test_sanctioned_app_is_not_judged_by_the_heuristics() -> None:
    tool = app("Acme Sync", reply_urls=("http://localhost:3000/cb",))
    entry = SanctionEntry("Acme Sync", "sanctioned")
    assert kinds(run([tool], [entry]), "consent_phishing") == []
    assert kinds(run([tool]), "consent_phishing")  # the same app unsanctioned does fire


def test_https_reply_urls_and_plain_names_do_not_fire() -> None:
    normal = app("Acme Sync", reply_urls=("https://app.acme-sync.com/oauth/callback",))
    assert kinds(run([normal]), "consent_phishing") == []


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"reply_urls": ("http://collect.example.net/cb",), "name": "Test"}, "reply_plain_http"),
        ({"name": "∗∗∗", "reply_urls": ("https://x.example.top/cb",)}, "name_symbols"),
        # Cyrillic о; alone (weight 3) it stays below the threshold, with plain http it does not
        (
            {"name": "Micrоsoft Mail", "reply_urls": ("http://ms-mail.example.com/cb",)},
            "name_encoded",
        ),
        ({"name": "Ana Lopez"}, "name_is_user"),
        ({"name": "eM Client"}, "known_abused"),
    ],
)
def test_each_rule_fires_on_its_sign(changes: dict[str, Any], rule: str) -> None:
    name = changes.pop("name", "Acme Sync")
    subject = app(name, **changes)
    found = run([subject], person_names=frozenset({"ana lopez"}))
    fired = [r["id"] for f in kinds(found, "consent_phishing") for r in f.evidence["rules"]]
    assert rule in fired


def test_name_test_alone_stays_below_the_threshold() -> None:
    assert kinds(run([app("Test App")]), "consent_phishing") == []


def test_toolkit_scope_signature_needs_six_of_the_nine() -> None:
    toolkit = (
        "Contacts.Read",
        "User.Read",
        "Mail.Read",
        "Notes.Read.All",
        "MailboxSettings.ReadWrite",
        "Files.ReadWrite.All",
    )
    found = run([app(scopes=toolkit)])
    assert [r["id"] for r in one(found, "consent_phishing").evidence["rules"]] == ["toolkit_scopes"]
    assert kinds(run([app(scopes=toolkit[:5])]), "consent_phishing") == []


def test_new_unverified_app_with_mail_scope_and_one_consent_with_plain_http() -> None:
    fresh = app(
        publisher_verified=False,
        created=NOW - timedelta(days=3),
        scopes=("Mail.Read", "offline_access"),
        reply_urls=("http://mail-helper.example.com/cb",),
    )
    fired = {r["id"] for r in one(run([fresh]), "consent_phishing").evidence["rules"]}
    assert fired == {"new_low_consent", "reply_plain_http"}
    # Older than 30 days: only the plain http URL is left, below the threshold alone.
    old = replace(fresh, created=NOW - timedelta(days=90), first_seen=NOW - timedelta(days=90))
    assert kinds(run([old]), "consent_phishing") == []


def test_a_weight_of_zero_turns_a_rule_off() -> None:
    rules = ConsentRules.shipped().weighted({"known_abused": 0})
    assert kinds(run([app("eM Client")], consent=rules), "consent_phishing") == []


# -- leaver_access and orphaned_app ---------------------------------------------------------
def test_leaver_still_holding_a_grant() -> None:
    shared = app(
        users=("ana@example.com", "bo@example.com"),
        disabled_users=("bo@example.com",),
        disabled_holders=("bo@example.com",),
        people_disabled=1,
        scopes=("Mail.ReadWrite",),
    )
    finding = one(run([shared]), "leaver_access")
    assert finding.severity == "high"  # the leaver's access includes a high scope
    assert "bo@example.com" in finding.reasons[0]
    assert kinds(run([shared]), "orphaned_app") == []  # Ana is still there


def test_leaver_who_only_signed_in_holds_nothing() -> None:
    used = app(disabled_users=("ana@example.com",), people_disabled=1)
    assert kinds(run([used]), "leaver_access") == []


def test_every_user_left_or_the_owner_left() -> None:
    gone = app(disabled_users=("ana@example.com",), people_disabled=1)
    assert one(run([gone]), "orphaned_app").reasons[0] == "its only user, ana@example.com, has left"
    both = app(
        users=("ana@example.com", "bo@example.com"),
        disabled_users=("ana@example.com", "bo@example.com"),
    )
    assert one(run([both]), "orphaned_app").reasons[0].startswith("all 2 of its users have left")
    owned = app()
    entry = SanctionEntry("Acme Sync", "sanctioned", owner="dana@example.com")
    found = run([owned], [entry], leavers=frozenset({"dana@example.com"}))
    assert one(found, "orphaned_app").evidence["owner_left"] == "dana@example.com"
    assert kinds(run([owned], [entry]), "orphaned_app") == []
    # An owner who confirmed it on the confirmation page counts too.
    confirmed = {owned.key: "dana@example.com"}
    found = run([owned], confirmed_owners=confirmed, leavers=frozenset({"dana@example.com"}))
    assert one(found, "orphaned_app").reasons[0] == "its owner, dana@example.com, has left"


# -- no_sso --------------------------------------------------------------------------------
def test_sanctioned_app_without_sso_is_no_sso() -> None:
    entry = SanctionEntry("Acme Sync", "sanctioned")
    finding = one(run([app()], [entry]), "no_sso")
    assert "no SAML or OIDC app" in finding.reasons[0]


def test_sanctioned_app_with_sso_in_okta_is_not_no_sso() -> None:
    entry = SanctionEntry("Acme Sync", "sanctioned")
    behind_okta = app(sources=("entra", "okta"), sso=("okta:saml",))
    assert kinds(run([behind_okta], [entry]), "no_sso") == []


def test_unsanctioned_app_is_left_to_its_unsanctioned_finding() -> None:
    assert kinds(run([app()]), "no_sso") == []


# -- spend, renewals, overlap, the approved alternative --------------------------------------
def test_paid_for_but_unused() -> None:
    paid = app(
        spend=1200.0,
        spend_currency="EUR",
        spend_by_currency=(("EUR", 1000.0), ("USD", 200.0)),
        last_sign_in=NOW - timedelta(days=200),
    )
    finding = one(run([paid]), "unused_spend")
    assert finding.reasons[0] == "1,000.00 EUR + 200.00 USD paid in expense lines"
    used = replace(paid, last_sign_in=NOW - timedelta(days=3))
    assert kinds(run([used]), "unused_spend") == []
    # Sign-ins not collected: unused cannot be told from unread.
    assert kinds(run([paid], sign_ins_missing=frozenset({"entra"})), "unused_spend") == []


def test_renewal_due_before_its_notice_deadline() -> None:
    entry = SanctionEntry(
        "Acme Sync",
        "sanctioned",
        owner="ops@example.com",
        renewal_date=date(2027, 1, 31),
        notice_days=30,
        annual_cost=12000.0,
        cost_currency="EUR",
    )
    finding = one(run([app()], [entry]), "renewal_due")
    assert finding.reasons == (
        "Acme Sync renews on 2027-01-31 at 12,000.00 EUR a year",
        "notice of 30 days is due by 2027-01-01",
    )
    assert finding.severity == "low"
    far = replace(entry, renewal_date=date(2027, 6, 30))
    assert kinds(run([app()], [far]), "renewal_due") == []
    late = replace(entry, renewal_date=date(2026, 12, 20))
    assert one(run([app()], [late]), "renewal_due").severity == "medium"  # notice passed


def test_overlap_needs_two_tools_in_use_in_one_category() -> None:
    buffer = app("Buffer", category="social_media")
    hootsuite = app("Hootsuite", category="social_media")
    canva = app("Canva", category="design")
    found = run([buffer, hootsuite, canva], overlap_min_tools=2)
    assert {f.app_name for f in kinds(found, "overlap")} == {"Buffer", "Hootsuite"}
    assert kinds(run([buffer, hootsuite, canva]), "overlap") == []  # the default needs 3
    assert {f.severity for f in kinds(found, "overlap")} == {"info"}
    unused = replace(hootsuite, users=())
    assert kinds(run([buffer, unused], overlap_min_tools=2), "overlap") == []


def test_approved_alternative_points_to_the_sanctioned_app() -> None:
    hootsuite = SanctionEntry(
        "Hootsuite",
        "sanctioned",
        owner="social@example.com",
        purpose="social scheduling",
        alternative_of=("social_media",),
    )
    found = run([app("Buffer", category="social_media")], [hootsuite])
    finding = one(found, "has_alternative")
    assert finding.reasons[0].startswith(
        "the policy names Hootsuite (social scheduling) as the approved tool in place of Buffer"
    )
    assert finding.remediation.startswith("Ask its users to use Hootsuite")
    # The sanctioned app itself, and an app of another category, are not pointed anywhere.
    assert (
        kinds(run([app("Hootsuite", category="social_media")], [hootsuite]), "has_alternative")
        == []
    )
    assert kinds(run([app("Canva", category="design")], [hootsuite]), "has_alternative") == []
    banned = SanctionEntry("Buffer", "banned")
    found = run([app("Buffer", category="social_media")], [hootsuite, banned])
    assert "Hootsuite, the approved alternative" in one(found, "banned").remediation


# -- sanctioned-list fields ------------------------------------------------------------------
def test_new_sanctioned_fields_parse_and_errors_name_file_and_line(tmp_path: Path) -> None:
    catalog = Catalog.load()
    good = tmp_path / "ok.toml"
    good.write_text(
        '[[apps]]\napp = "Hootsuite"\nstatus = "sanctioned"\nrenewal_date = 2027-01-31\n'
        'notice_days = 30\nannual_cost = 1200.5\ncost_currency = "eur"\n'
        'alternative_of = ["social_media", "Buffer"]\n'
    )
    (entry,) = sanctions.load_file(good, catalog)
    assert entry.renewal_date == date(2027, 1, 31) and entry.notice_days == 30
    assert entry.annual_cost == 1200.5 and entry.cost_currency == "EUR"
    assert entry.alternative_of == ("social_media", "Buffer")
    csv_file = tmp_path / "list.csv"
    csv_file.write_text(
        "app,status,notice_days,alternative_of\nHootsuite,sanctioned,30,social_media;Buffer\n"
        "Canva,tolerated,soon,\n"
    )
    with pytest.raises(InputError, match=r"list\.csv:3: notice_days 'soon' is not a whole"):
        sanctions.load_file(csv_file, catalog)
    bad = tmp_path / "bad.toml"
    bad.write_text('[[apps]]\napp = "Canva"\nstatus = "tolerated"\nalternative_of = ["design"]\n')
    with pytest.raises(InputError, match=r"bad\.toml:1: alternative_of is set for Canva"):
        sanctions.load_file(bad, catalog)
