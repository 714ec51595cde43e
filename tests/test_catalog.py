"""The shipped catalog's content and the company's overrides."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from scanner.analysis.catalog import (
    CATALOG_FILE,
    CATEGORIES,
    COLUMNS,
    MARKETING_CATEGORIES,
    Catalog,
    read_catalog_file,
)
from scanner.analysis.text import normalise_name
from scanner.app.config import CatalogSettings
from scanner.core.errors import ConfigError, InputError

DATA = Path(CATALOG_FILE).parent
ISSUE_MARKETING_AREAS = (
    "email_marketing marketing_automation social_media advertising seo web_analytics crm "
    "design video webinar surveys_forms landing_pages ai_writing link_management "
    "influencer reviews"
)
"""The marketing areas issue 6 names."""


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def test_shipped_catalog_is_big_and_deep_in_marketing(catalog: Catalog) -> None:
    stats = catalog.stats()
    assert stats["apps"] == len(catalog.entries) >= 300
    categories = stats["categories"]
    assert isinstance(categories, dict)
    required = set(ISSUE_MARKETING_AREAS.split())
    assert required <= MARKETING_CATEGORIES
    for category in required:
        assert categories.get(category, 0) >= 4, category
    for category in ("collaboration", "developer_tools", "accounting", "hr"):
        assert categories.get(category, 0) >= 1, category
    assert stats["marketing_apps"] > 150
    assert stats["microsoft_first_party_ids"] > 4000


@pytest.mark.parametrize(
    "name",
    [
        "Mailchimp",
        "Klaviyo",
        "Brevo",
        "Constant Contact",
        "Campaign Monitor",
        "HubSpot",
        "Marketo",
        "Account Engagement",
        "ActiveCampaign",
        "Hootsuite",
        "Buffer",
        "Sprout Social",
        "Later",
        "Sprinklr",
        "Google Ads",
        "Meta Ads Manager",
        "LinkedIn Campaign Manager",
        "Semrush",
        "Ahrefs",
        "Moz",
        "Google Analytics",
        "Mixpanel",
        "Amplitude",
        "Hotjar",
        "Salesforce",
        "Pipedrive",
        "Canva",
        "Figma",
        "Adobe Express",
        "Vimeo",
        "Loom",
        "Wistia",
        "Zoom Webinars",
        "ON24",
        "Livestorm",
        "Typeform",
        "SurveyMonkey",
        "Jotform",
        "Unbounce",
        "Leadpages",
        "Instapage",
        "Jasper",
        "Copy.ai",
        "Writesonic",
        "Grammarly",
        "Bitly",
        "Rebrandly",
        "Grin",
        "Upfluence",
        "Trustpilot",
        "G2",
    ],
)
def test_named_marketing_products_are_marketing(catalog: Catalog, name: str) -> None:
    entry = catalog.find(name)
    assert entry is not None and entry.name == name
    assert catalog.is_marketing_category(entry.category)


def test_rows_are_well_formed() -> None:
    with CATALOG_FILE.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        rows = list(reader)
    for row in rows:
        assert row["category"] in CATEGORIES, row["name"]
        assert row["source"], row["name"]
        if row["client_ids"]:
            # Only client IDs a page publishes: the source must cite it.
            assert "http" in row["source"], row["name"]


def test_no_spelling_or_domain_belongs_to_two_products(catalog: Catalog) -> None:
    owners: dict[str, str] = {}
    for entry in catalog.entries:
        for spelling in (entry.name, *entry.aliases):
            key = normalise_name(spelling)
            assert owners.setdefault(key, entry.name) == entry.name, (key, entry.name)
    domains = Counter(d for e in catalog.entries for d in e.domains)
    assert [d for d, n in domains.items() if n > 1] == []


def test_find_is_normalised(catalog: Catalog) -> None:
    entry = catalog.find("  hubspot, INC. ")
    assert entry is not None and entry.name == "HubSpot"
    alias = catalog.find("Sendinblue")
    assert alias is not None and alias.name == "Brevo"
    assert catalog.find("no such product anywhere") is None


def test_suggest(catalog: Catalog) -> None:
    assert catalog.suggest("Hubspott") == "HubSpot"
    assert catalog.suggest("Mailchimpp") == "Mailchimp"
    assert catalog.suggest("qqqqqq zzzzz") is None
    assert catalog.suggest("") is None


def test_is_marketing_category(catalog: Catalog) -> None:
    assert catalog.is_marketing_category("email_marketing")
    assert not catalog.is_marketing_category("developer_tools")
    assert not catalog.is_marketing_category(None)


def test_domain_lookup_prefers_the_longest_domain(catalog: Catalog) -> None:
    assert [e.name for e in catalog.by_domain("ads.google.com")] == ["Google Ads"]
    assert [e.name for e in catalog.by_domain("docs.google.com")] == ["Google Workspace"]
    assert catalog.by_domain("example.org") == []


# -- overrides ---------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_config_file_adds_and_replaces_entries(tmp_path: Path) -> None:
    write(
        tmp_path / "extra.csv",
        "name,vendor,category,domains,aliases,client_ids,source\n"
        "Quokka Notes,Quokka,note_taking,quokka.example,Quokka,,our review\n"
        "hubspot,HubSpot,crm,hubspot.com,,,our review\n",
    )
    catalog = Catalog.load(CatalogSettings(file="extra.csv"), tmp_path)
    added = catalog.find("Quokka")
    assert added is not None and added.category == "note_taking"
    replaced = catalog.find("HubSpot")
    assert replaced is not None and replaced.category == "crm" and replaced.name == "hubspot"
    assert len(catalog.entries) == len(Catalog.load().entries) + 1


def test_config_toml_file(tmp_path: Path) -> None:
    write(
        tmp_path / "apps.toml",
        '[[app]]\nname = "Acme Portal"\ncategory = "internal"\n'
        'domains = ["portal.acme.example"]\naliases = ["Portal"]\n',
    )
    catalog = Catalog.load(CatalogSettings(file=str(tmp_path / "apps.toml")))
    entry = catalog.find("portal")
    assert entry is not None and entry.vendor == "Acme Portal"
    assert catalog.is_internal(entry)


def test_config_aliases_and_categories(tmp_path: Path) -> None:
    settings = CatalogSettings(
        aliases={"Hubspot CRM Sync": "HubSpot"}, categories={"Notion": "marketing_automation"}
    )
    catalog = Catalog.load(settings, tmp_path)
    entry = catalog.find("Hubspot CRM Sync")
    assert entry is not None and entry.name == "HubSpot"
    notion = catalog.find("Notion")
    assert notion is not None and catalog.is_marketing_category(notion.category)


def test_alias_to_unknown_app_suggests(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        Catalog.load(CatalogSettings(aliases={"CRM Sync": "Hubspott"}), tmp_path)
    assert str(err.value) == (
        "catalog.aliases.'CRM Sync': no catalog app named 'Hubspott'; did you mean 'HubSpot'?"
    )


def test_category_for_unknown_app(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"catalog\.categories\.'Nothing Here': no catalog app"):
        Catalog.load(CatalogSettings(categories={"Nothing Here": "crm"}), tmp_path)


def test_bad_category_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'Email Marketing' must be lower_snake_case"):
        Catalog.load(CatalogSettings(categories={"Notion": "Email Marketing"}), tmp_path)


def test_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        Catalog.load(CatalogSettings(file="nope.csv"), tmp_path)
    assert str(err.value) == f"{tmp_path / 'nope.csv'}: catalog file not found (catalog.file)"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (",Acme,crm,,,,\n", "extra.csv:2: name is empty"),
        ("Acme,Acme,Marketing Stuff,,,,\n", "extra.csv:2: category 'Marketing Stuff' for 'Acme'"),
        ("Acme,Acme,crm,https://acme.example/x,,,\n", "extra.csv:2: 'https://acme.example/x'"),
        (
            "Acme,Acme,crm" + "," * (len(COLUMNS) - 3) + ",extra\n",
            "extra.csv:2: more fields than the header has",
        ),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, body: str, message: str) -> None:
    write(tmp_path / "extra.csv", ",".join(COLUMNS) + "\n" + body)
    with pytest.raises(InputError) as err:
        read_catalog_file(tmp_path / "extra.csv")
    assert message in str(err.value)


def test_bad_header(tmp_path: Path) -> None:
    write(tmp_path / "extra.csv", "product,kind\nAcme,crm\n")
    with pytest.raises(InputError, match=r"extra.csv:1: missing column 'name'"):
        read_catalog_file(tmp_path / "extra.csv")


def test_bad_toml(tmp_path: Path) -> None:
    write(tmp_path / "a.toml", "[[app]]\nname = 'A'\ncategory = 'crm'\n\n[[app]]\nnmae = 'B'\n")
    with pytest.raises(InputError, match=r"a.toml:5: unknown key 'nmae'"):
        read_catalog_file(tmp_path / "a.toml")
    write(tmp_path / "b.toml", "[[app]\n")
    with pytest.raises(InputError, match=r"b.toml: not valid TOML"):
        read_catalog_file(tmp_path / "b.toml")


def test_microsoft_data_keeps_its_licence() -> None:
    licence = (DATA / "microsoft" / "LICENSE").read_text(encoding="utf-8")
    assert "MIT" in licence and "Merill Fernando" in licence
    assert "merill/microsoft-info" in (DATA / "microsoft" / "README.md").read_text("utf-8")
