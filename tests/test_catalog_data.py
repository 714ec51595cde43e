"""The shipped catalog as data: built by its script, sourced, consistent, within its licences."""

from __future__ import annotations

import re
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.analysis.catalog import (
    AI_CATEGORIES,
    CATEGORIES,
    MARKETING_CATEGORIES,
    Catalog,
)
from scanner.analysis.catalog_files import CATALOG_FILE, read_catalog_file
from scanner.analysis.text import normalise_name, slug
from scanner.app.cli import main
from scanner.core.models import CatalogEntry
from tools.build_catalog import DOMAIN_RE, build, render
from tools.catalog_sources import RAW_DIR, snapshot

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = sorted(p.name for p in RAW_DIR.iterdir() if (p / "SOURCE").is_file())


@pytest.fixture(scope="module")
def entries() -> list[CatalogEntry]:
    return read_catalog_file(CATALOG_FILE)


def test_shipped_catalog_is_what_the_build_writes() -> None:
    rows, _ = build()
    assert CATALOG_FILE.read_text(encoding="utf-8") == render(rows), (
        "regenerate: python -m tools.build_catalog"
    )


def test_the_build_is_deterministic() -> None:
    assert render(build()[0]) == render(build()[0])


def test_catalog_is_large_enough(entries: list[CatalogEntry]) -> None:
    categories = Counter(e.category for e in entries)
    assert len(entries) >= 2000
    assert sum(n for c, n in categories.items() if c in MARKETING_CATEGORIES) >= 400
    assert sum(n for c, n in categories.items() if c in AI_CATEGORIES) >= 150


def test_every_row_is_sourced(entries: list[CatalogEntry]) -> None:
    unsourced = [e.name for e in entries if not e.source.strip()]
    assert not unsourced
    for entry in entries:
        if entry.mfa:
            assert entry.mfa_source, entry.name
        if entry.sso != "unknown":
            assert entry.sso_source and entry.sso_note, entry.name


def test_imported_rows_cite_a_pinned_snapshot(entries: list[CatalogEntry]) -> None:
    commits = {snapshot(name).repository: snapshot(name).commit[:7] for name in SNAPSHOTS}
    cite = re.compile(r"^(?P<repo>[\w.-]+/[\w.-]+)@(?P<commit>[0-9a-f]{7}) \S")
    for entry in entries:
        for source in (entry.source, entry.mfa_source, entry.sso_source):
            match = cite.match(source or "")
            if match:
                assert commits.get(match["repo"]) == match["commit"], (entry.name, source)


def test_keys_and_spellings_are_unique(entries: list[CatalogEntry]) -> None:
    keys = Counter(slug(e.name) for e in entries)
    assert not [k for k, n in keys.items() if n > 1]
    owner: dict[str, str] = {}
    for entry in entries:
        for spelling in (entry.name, *entry.aliases):
            key = normalise_name(spelling)
            assert owner.setdefault(key, entry.name) == entry.name, (spelling, owner[key])


def test_every_alias_resolves_to_its_entry(entries: list[CatalogEntry]) -> None:
    catalog = Catalog(entries)
    for entry in entries:
        for alias in entry.aliases:
            found = catalog.find(alias)
            assert found is not None and found.name == entry.name, alias


def test_domains_are_valid_and_shared_only_within_a_vendor(entries: list[CatalogEntry]) -> None:
    vendors: dict[str, set[str]] = defaultdict(set)
    for entry in entries:
        for domain in entry.domains:
            assert DOMAIN_RE.match(domain), (entry.name, domain)
            vendors[domain].add(normalise_name(entry.vendor))
    shared = {d: v for d, v in vendors.items() if len(v) > 1}
    assert not shared, f"domains of several vendors: {shared}"


def test_categories_come_from_the_vocabulary(entries: list[CatalogEntry]) -> None:
    assert {e.category for e in entries} <= CATEGORIES
    assert AI_CATEGORIES <= CATEGORIES


def test_only_reviewed_entries_match_fuzzily(entries: list[CatalogEntry]) -> None:
    curated = {row.name for row in read_catalog_file(RAW_DIR / "curated.csv")}
    assert {e.name for e in entries if e.fuzzy} == curated


def test_no_entry_claims_an_identity_providers_domain(entries: list[CatalogEntry]) -> None:
    imported = [e for e in entries if not e.fuzzy]
    for entry in imported:
        for domain in entry.domains:
            for idp in ("google.com", "microsoft.com", "okta.com"):
                assert domain != idp and not domain.endswith("." + idp), entry.name


@pytest.mark.parametrize("folder", SNAPSHOTS)
def test_each_snapshot_keeps_its_licence_and_it_ships_in_the_wheel(folder: str) -> None:
    source = snapshot(folder)
    assert re.fullmatch(r"[0-9a-f]{40}", source.commit)
    licences = [p for p in (RAW_DIR / folder).iterdir() if p.name.startswith("LICENSE")]
    assert licences and all(p.stat().st_size > 200 for p in licences)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    shipped = {p for pattern in project["license-files"] for p in ROOT.glob(pattern)}
    assert set(licences) <= shipped and RAW_DIR / folder / "SOURCE" in shipped


def test_catalog_stats_counts_categories_and_sources() -> None:
    result = CliRunner().invoke(main, ["catalog", "stats"])
    assert result.exit_code == 0, result.output
    assert '"third_party_apps"' in result.output and '"ai_apps"' in result.output
    stats = Catalog.load().stats()
    assert stats["apps_with_source"] == stats["apps"]
    sources = stats["sources"]
    assert isinstance(sources, dict)
    for repository in ("2factorauth/twofactorauth", "steven2358/awesome-generative-ai"):
        assert sources[repository] > 100


def test_catalog_show_prints_each_fields_source() -> None:
    result = CliRunner().invoke(main, ["catalog", "show", "asana"])
    assert result.exit_code == 0, result.output
    assert '"mfa_source": "2factorauth/twofactorauth@' in result.output
    assert '"sso": "paid"' in result.output and "sso-wall-of-shame@" in result.output
    missing = CliRunner().invoke(main, ["catalog", "show", "Hubspott"])
    assert missing.exit_code == 2
    assert "did you mean 'HubSpot'?" in missing.output


def test_every_identity_provider_has_a_sourced_first_party_list() -> None:
    catalog = Catalog.load()
    assert len(catalog.microsoft_apps) > 4000  # merill/microsoft-info, MIT (microsoft/LICENSE)
    assert catalog.google_first_party and all(g.source for g in catalog.google_first_party)
    providers = {a.provider for a in catalog.provider_apps}
    assert providers >= {"okta"}
    assert all(a.source for a in catalog.provider_apps)
