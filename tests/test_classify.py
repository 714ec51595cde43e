"""Marketing classification: by catalog category or by who uses the app."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.analysis.catalog import Catalog
from scanner.analysis.classify import classify_marketing
from scanner.analysis.resolve import Resolver
from scanner.app.config import CatalogSettings
from scanner.core.models import RawApp


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def test_marketing_category(catalog: Catalog) -> None:
    assert classify_marketing("email_marketing", catalog, 0, 40, 0.5) == (
        True,
        "catalog category email_marketing",
    )


def test_unknown_app_used_only_by_marketing(catalog: Catalog) -> None:
    app = Resolver(catalog).resolve(RawApp("google", "q-1", "Quokka Social Scheduler"))
    assert app.category is None and app.key == "name:quokka-social-scheduler"
    assert classify_marketing(app.category, catalog, 3, 3, 0.5) == (
        True,
        "3 of 3 users are in Marketing",
    )


def test_most_users_in_marketing(catalog: Catalog) -> None:
    assert classify_marketing("developer_tools", catalog, 7, 8, 0.5) == (
        True,
        "7 of 8 users are in Marketing",
    )


def test_share_is_strictly_more_than(catalog: Catalog) -> None:
    marketing, reason = classify_marketing("developer_tools", catalog, 4, 8, 0.5)
    assert not marketing
    assert reason == (
        "category developer_tools is not a marketing category; "
        "only 4 of 8 users are in Marketing (needs more than 50%)"
    )


def test_all_users_in_marketing_even_with_share_one(catalog: Catalog) -> None:
    assert classify_marketing(None, catalog, 5, 5, 1.0)[0]


def test_nothing_known(catalog: Catalog) -> None:
    assert classify_marketing(None, catalog, 0, 0, 0.5) == (
        False,
        "no catalog category and no users recorded",
    )
    assert classify_marketing("hr", catalog, 0, 0, 0.5) == (
        False,
        "category hr is not a marketing category; no users recorded",
    )
    assert classify_marketing(None, catalog, 1, 10, 0.5)[1] == (
        "not in the catalog; only 1 of 10 users are in Marketing (needs more than 50%)"
    )


def test_category_override_changes_the_answer(tmp_path: Path) -> None:
    catalog = Catalog.load(CatalogSettings(categories={"Notion": "content_marketing"}), tmp_path)
    entry = catalog.find("Notion")
    assert entry is not None
    assert classify_marketing(entry.category, catalog, 0, 10, 0.5) == (
        True,
        "catalog category content_marketing",
    )
