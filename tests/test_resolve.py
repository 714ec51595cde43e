"""Resolution of raw apps to canonical apps: every rule, cross-source merging, lookalikes."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.analysis.catalog import Catalog
from scanner.analysis.resolve import FUZZY_THRESHOLD, Resolver, merchant_candidates
from scanner.analysis.risk import RiskInput, ScopeTable, assess
from scanner.analysis.text import has_confusables, host_of, normalise_name, slug
from scanner.app.config import CatalogSettings
from scanner.core.models import RawApp

OUR_TENANT = "11111111-2222-3333-4444-555555555555"
TEAMS_APP_ID = "1fec8e78-bce4-4aaf-ab1b-5451cc387264"  # in MicrosoftApps.csv
CHROME_CLIENT = "77185425430.apps.googleusercontent.com"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture()
def resolver(catalog: Catalog) -> Resolver:
    return Resolver(
        catalog,
        own_domains=["acme.example"],
        own_tenant_ids=[OUR_TENANT],
        first_party_by_name=["google"],
    )


def rules(app) -> list[str]:
    return [e.rule for e in app.evidence]


# -- normalise_name ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HubSpot, Inc.", "hubspot"),
        ("HUBSPOT INC", "hubspot"),
        ("Notion Labs Ltd", "notion labs"),
        ("Typeform S.L.", "typeform s l"),
        ("Zoom Video Communications, LLC", "zoom video communications"),
        ("Grammarly App", "grammarly"),
        ("Brevo GmbH", "brevo"),
        ("Café Créme", "cafe creme"),
        ("Can\u200bva", "canva"),
        ("\u202eCanva\u202c", "canva"),
        ("Ｃａｎｖａ", "canva"),
        ("Cаnva", "canva"),  # Cyrillic а
        ("App", "app"),
        ("Inc", "inc"),
        ("AT&T", "at and t"),
        ("  Mail   Chimp!! ", "mail chimp"),
    ],
)
def test_normalise_name_examples(raw: str, expected: str) -> None:
    assert normalise_name(raw) == expected


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_normalise_name_is_idempotent_on_any_unicode(text: str) -> None:
    once = normalise_name(text)
    assert normalise_name(once) == once
    assert once == once.strip()
    assert "  " not in once


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(categories=["Cf", "Mn", "Zs", "Po", "So"])))
def test_normalise_name_drops_invisible_and_punctuation(text: str) -> None:
    result = normalise_name(text)
    assert all(unicodedata.category(ch) != "Cf" for ch in result)
    assert all(ch.isalnum() or ch == " " for ch in result)


@settings(max_examples=200, deadline=None)
@given(st.text(), st.sampled_from(["", " Inc.", ", LLC", " Ltd", " App", " GmbH"]))
def test_legal_suffixes_do_not_change_the_key(name: str, suffix: str) -> None:
    base = normalise_name(name)
    if base and base.split()[-1] not in {"app", "apps"}:
        assert normalise_name(name + suffix) in {base, normalise_name(base + suffix)}


def test_slug_and_hosts() -> None:
    assert slug("Google Ads") == "google-ads"
    assert host_of("https://www.App.HubSpot.com/oauth/callback") == "app.hubspot.com"
    assert host_of("*.canva.com") == "canva.com"
    assert host_of("urn:ietf:wg:oauth:2.0:oob") is None
    assert host_of("http://localhost:8080/cb") is None
    assert host_of("https://127.0.0.1/cb") is None
    assert host_of("http://[::1") is None


# -- rules -------------------------------------------------------------------------------------


def test_microsoft_first_party_by_app_id(resolver: Resolver) -> None:
    app = resolver.resolve(RawApp("entra", TEAMS_APP_ID.upper(), "Teams"))
    assert app.key == f"ms:{TEAMS_APP_ID}"
    assert app.first_party and app.name == "Microsoft Teams"
    assert rules(app) == ["first_party"]


@pytest.mark.parametrize(
    "tenant", ["f8cdef31-a31e-4b4a-93e4-5f571e91255a", "72f988bf-86f1-41af-91ab-2d7cd011db47"]
)
def test_microsoft_first_party_by_owner_tenant(resolver: Resolver, tenant: str) -> None:
    raw = RawApp("entra", "0000aaaa-0000-0000-0000-000000000001", "Some MS Service")
    app = resolver.resolve(
        RawApp(raw.source, raw.client_id, raw.name, publisher_tenant=tenant.upper())
    )
    assert app.first_party and app.key == "ms:0000aaaa-0000-0000-0000-000000000001"
    assert tenant in app.evidence[0].value


def test_google_first_party_by_client_id_from_any_source(resolver: Resolver) -> None:
    app = resolver.resolve(RawApp("okta", CHROME_CLIENT, "chrome browser"))
    assert app.key == "google:google-chrome" and app.first_party


@pytest.mark.parametrize(
    "name", ["Android device", "iOS Account Manager", "macOS", "Google Chrome"]
)
def test_google_first_party_by_name_in_google_tokens(resolver: Resolver, name: str) -> None:
    app = resolver.resolve(RawApp("google", "123-abc.apps.googleusercontent.com", name))
    assert app.first_party and app.key.startswith("google:")


def test_google_first_party_name_is_not_trusted_from_other_sources(resolver: Resolver) -> None:
    app = resolver.resolve(RawApp("entra", "9d1b1c1e-0000-4000-8000-000000000000", "macOS"))
    assert not app.first_party and app.key == "name:macos"


def test_catalog_client_id() -> None:
    from scanner.core.models import CatalogEntry

    entry = CatalogEntry(
        "Example CRM", "Example", "crm", ("example-crm.com",), (), ("ABC-123",), "doc"
    )
    resolver = Resolver(Catalog([entry]))
    app = resolver.resolve(RawApp("okta", "abc-123", "totally different label"))
    assert app.key == "cat:example-crm"
    assert app.evidence[0].rule == "client_id" and app.evidence[0].value == "abc-123"


def test_internal_by_tenant(resolver: Resolver) -> None:
    app = resolver.resolve(
        RawApp("entra", "app-1", "Acme Expense Bot", publisher_tenant=OUR_TENANT)
    )
    assert app.internal and app.key == "internal:acme-expense-bot"
    assert rules(app) == ["internal"]


def test_internal_by_own_domain_even_if_named_like_a_product(resolver: Resolver) -> None:
    app = resolver.resolve(
        RawApp("entra", "app-2", "HubSpot", reply_urls=("https://sso.acme.example/cb",))
    )
    assert app.internal and app.key == "internal:hubspot"


def test_verified_publisher(resolver: Resolver) -> None:
    app = resolver.resolve(
        RawApp("entra", "c1", "Sync Connector", publisher="Canva", publisher_verified=True)
    )
    assert app.key == "cat:canva"
    assert rules(app) == ["publisher"]


def test_unverified_publisher_is_not_evidence(resolver: Resolver) -> None:
    app = resolver.resolve(RawApp("entra", "c1", "Sync Connector", publisher="Canva"))
    assert app.key == "name:sync-connector"


def test_verified_publisher_with_several_products_uses_the_name(resolver: Resolver) -> None:
    app = resolver.resolve(
        RawApp("entra", "g1", "Google Analytics", publisher="Google", publisher_verified=True)
    )
    assert app.key == "cat:google-analytics" and rules(app) == ["publisher"]


def test_homepage_domain(resolver: Resolver) -> None:
    app = resolver.resolve(
        RawApp("entra", "x", "Marketing Sync", homepage="https://app.hubspot.com/login")
    )
    assert app.key == "cat:hubspot"
    assert app.evidence[0].rule == "domain" and app.evidence[0].value == "app.hubspot.com"


def test_reply_url_domain_more_specific_wins(resolver: Resolver) -> None:
    app = resolver.resolve(
        RawApp("entra", "x", "Ads connector", reply_urls=("https://ads.google.com/oauth",))
    )
    assert app.key == "cat:google-ads"


def test_okta_site_url_domain(resolver: Resolver) -> None:
    app = resolver.resolve(RawApp("okta", "0oa7vicdk", "hrportal2", domains=("acme.workday.com",)))
    assert app.key == "cat:workday"


def test_exact_name_and_alias(resolver: Resolver) -> None:
    assert resolver.resolve(RawApp("google", "1", "Sendinblue")).key == "cat:brevo"
    app = resolver.resolve(RawApp("google", "2", "Pardot"))
    assert app.key == "cat:account-engagement" and app.evidence[0].rule == "name"


def test_fuzzy_typo_above_threshold(resolver: Resolver) -> None:
    app = resolver.resolve(RawApp("google", "3", "Hubspt"))
    assert app.key == "cat:hubspot"
    assert app.evidence[0].rule == "fuzzy" and app.evidence[0].score >= FUZZY_THRESHOLD


def test_fuzzy_leading_words(resolver: Resolver) -> None:
    app = resolver.resolve(RawApp("google", "4", "Mailchimp for Gmail"))
    assert app.key == "cat:mailchimp" and app.evidence[0].rule == "fuzzy"


@pytest.mark.parametrize(
    "name", ["Zoomerang", "Drip Irrigation Planner", "Front Desk Pro", "Box Shipping Calculator"]
)
def test_no_false_fuzzy_match(resolver: Resolver, name: str) -> None:
    app = resolver.resolve(RawApp("google", "5", name))
    assert app.key == f"name:{slug(name)}"
    assert rules(app) == ["unmatched"]


def test_unmatched_merges_across_sources_by_name(resolver: Resolver) -> None:
    a = resolver.resolve(RawApp("entra", "e-1", "Quokka Notes, Inc."))
    b = resolver.resolve(RawApp("google", "g-1.apps.googleusercontent.com", "QUOKKA NOTES"))
    assert a.key == b.key == "name:quokka-notes"


def test_unmatched_without_letters_falls_back_to_client_id(resolver: Resolver) -> None:
    app = resolver.resolve(RawApp("okta", "0oaXYZ", "!!!"))
    assert app.key == "name:okta-0oaxyz"


def test_three_spellings_three_client_ids_one_app(resolver: Resolver) -> None:
    seen = [
        RawApp(
            "entra",
            "5f3e1c2a-1111-4a4a-9b9b-000000000001",
            "HubSpot, Inc.",
            publisher="HubSpot, Inc.",
            publisher_verified=True,
            reply_urls=("https://app.hubspot.com/oauth/authorize",),
        ),
        RawApp("google", "5566778899-hubspot.apps.googleusercontent.com", "Hubspot CRM"),
        RawApp("okta", "0oa1hubspot0000000", "hubspot", kind="saml"),
    ]
    apps = [resolver.resolve(raw) for raw in seen]
    assert {a.key for a in apps} == {"cat:hubspot"}
    assert {a.name for a in apps} == {"HubSpot"}
    assert len({raw.client_id for raw in seen}) == 3
    assert all(a.lookalike_of is None and not a.first_party for a in apps)


def test_lookalike_is_kept_apart_and_flagged(resolver: Resolver) -> None:
    real = resolver.resolve(RawApp("entra", "real", "Canva", homepage="https://www.canva.com"))
    fake = resolver.resolve(
        RawApp(
            "entra",
            "bad-client",
            "Canva Pro Free Download",
            publisher="Design Tools Ltd",
            reply_urls=("https://canva-pro-free.top/callback",),
        )
    )
    assert real.key == "cat:canva"
    assert fake.key == "lookalike:entra:bad-client"
    assert fake.lookalike_of == "Canva"
    assert fake.name == "Canva Pro Free Download"
    assert fake.domain == "canva-pro-free.top"
    why = " ".join(e.value for e in fake.evidence if e.rule == "lookalike")
    assert "canva-pro-free.top" in why and "unverified" in why


def test_exact_name_with_foreign_domain_is_a_lookalike(resolver: Resolver) -> None:
    app = resolver.resolve(
        RawApp("entra", "m1", "Mailchimp", homepage="https://mailchimp-login.support")
    )
    assert app.key == "lookalike:entra:m1" and app.lookalike_of == "Mailchimp"


def test_verified_publisher_named_like_a_product_is_not_a_lookalike(resolver: Resolver) -> None:
    app = resolver.resolve(
        RawApp(
            "entra",
            "m2",
            "Mailchimp",
            publisher="Partner Co",
            publisher_verified=True,
            homepage="https://partner.example.org",
        )
    )
    assert app.key == "cat:mailchimp"


def test_identity_provider_urls_are_neutral(resolver: Resolver) -> None:
    app = resolver.resolve(
        RawApp("okta", "0oa2", "Mailchimp", domains=("https://acme.okta.com/home/mailchimp",))
    )
    assert app.key == "cat:mailchimp"


def test_admin_configured_sso_apps_are_not_lookalikes(resolver: Resolver) -> None:
    app = resolver.resolve(
        RawApp("okta", "0oa5", "Mailchimp", kind="saml", domains=("mc.partner.example",))
    )
    assert app.key == "cat:mailchimp"


def test_lure_words_without_domain(resolver: Resolver) -> None:
    app = resolver.resolve(
        RawApp("google", "9-x.apps.googleusercontent.com", "Canva Free Download")
    )
    assert app.key.startswith("lookalike:google:") and app.lookalike_of == "Canva"


def test_homoglyph_name_is_a_lookalike(resolver: Resolver) -> None:
    assert has_confusables("Cаnva") and not has_confusables("Canva")
    app = resolver.resolve(RawApp("google", "h1", "Cаnva"))
    assert app.key == "lookalike:google:h1" and app.lookalike_of == "Canva"


def test_first_party_apps_are_never_flagged(resolver: Resolver) -> None:
    table = ScopeTable.load()
    from datetime import UTC, datetime

    now = datetime(2025, 1, 1, tzinfo=UTC)
    for raw in (
        RawApp("entra", TEAMS_APP_ID, "Microsoft Teams"),
        RawApp("google", CHROME_CLIENT, "Google Chrome"),
        RawApp("google", "1-x.apps.googleusercontent.com", "Android device"),
    ):
        app = resolver.resolve(raw)
        assert app.first_party and app.lookalike_of is None and not app.internal
        risk = assess(
            RiskInput(
                ("Mail.ReadWrite", "Files.ReadWrite.All"),
                admin_consent=True,
                app_only=True,
                users=500,
                publisher_verified=False,
                first_party=True,
                internal=False,
                first_seen=now,
                last_sign_in=None,
                now=now,
            ),
            table,
        )
        assert risk.level == "low" and risk.score <= 10


# -- expense and usage lines -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("merchant", "key"),
    [
        ("HUBSPOT INC 888-482-7768", "cat:hubspot"),
        ("SQ *CANVA", "cat:canva"),
        ("PAYPAL *MAILCHIMP", "cat:mailchimp"),
        ("GOOGLE *YouTube", "cat:youtube"),
        ("FACEBK *ADS 650-543-4800", "cat:meta-ads-manager"),
        ("ZOOM.US 888-799-9666", "cat:zoom"),
        ("Adobe *Creative Cloud", "cat:adobe-creative-cloud"),
        ("SEMRUSH INC MONTHLY", "cat:semrush"),
        ("MSFT *E0400ABCD", "cat:microsoft-365"),
        ("TYPEFORM, S.L.", "cat:typeform"),
    ],
)
def test_merchant_strings(resolver: Resolver, merchant: str, key: str) -> None:
    app = resolver.resolve(RawApp("files", merchant, merchant, kind="expense"))
    assert app.key == key
    assert app.lookalike_of is None


def test_merchant_domain_wins(resolver: Resolver) -> None:
    app = resolver.resolve(
        RawApp(
            "files", "ACME PAYMENTS 123", "ACME PAYMENTS 123", kind="usage", domains=("miro.com",)
        )
    )
    assert app.key == "cat:miro"


@pytest.mark.parametrize(
    ("line", "key"), [("app.clickup.com", "cat:clickup"), ("VIMEO.COM", "cat:vimeo")]
)
def test_domain_shaped_usage_line(resolver: Resolver, line: str, key: str) -> None:
    app = resolver.resolve(RawApp("files", line, line, kind="usage"))
    assert app.key == key and app.evidence[0].rule == "domain"


def test_unknown_merchant_merges_with_same_named_app(resolver: Resolver) -> None:
    spend = resolver.resolve(RawApp("files", "x", "QUOKKA NOTES 415-555-0100", kind="expense"))
    oauth = resolver.resolve(RawApp("google", "y", "Quokka Notes"))
    assert spend.key == oauth.key == "name:quokka-notes"


def test_merchant_candidates() -> None:
    assert merchant_candidates("SQ *CANVA") == ["canva"]
    assert merchant_candidates("GOOGLE *ADS1234567")[:2] == ["google ads", "ads"]
    assert merchant_candidates("") == []


# -- config ------------------------------------------------------------------------------------


def test_config_alias_evidence(tmp_path) -> None:
    catalog = Catalog.load(CatalogSettings(aliases={"Growth Mail Tool": "Klaviyo"}), tmp_path)
    app = Resolver(catalog).resolve(RawApp("okta", "0oa3", "growth mail tool"))
    assert app.key == "cat:klaviyo"
    assert app.evidence[0].rule == "config"


def test_config_own_app_is_internal(tmp_path) -> None:
    (tmp_path / "apps.csv").write_text(
        "name,vendor,category,domains,aliases,client_ids,source\n"
        "Acme Portal,Acme,internal,portal.acme.example,Portal,0oaACME1,our IT\n",
        encoding="utf-8",
    )
    catalog = Catalog.load(CatalogSettings(file="apps.csv"), tmp_path)
    resolver = Resolver(catalog)
    by_id = resolver.resolve(RawApp("okta", "0oaACME1", "whatever"))
    by_name = resolver.resolve(RawApp("google", "z", "Acme Portal"))
    assert by_id.key == by_name.key == "internal:acme-portal"
    assert by_id.internal and by_name.internal
