"""Okta's own apps (Admin Console, Dashboard, Workflows...) are first-party, never shadow IT.

The payloads in tests/payloads/okta/first_party are ``GET /api/v1/apps`` items in the documented
shape (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/Application/),
with the app ``name`` values Okta gives its built-in apps in every org.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import connectors
from connectors.okta import parse_app
from connectors.testing.okta import FakeOkta
from connectors.testing.server import LoopbackServer
from scanner.analysis.catalog import OKTA_FIRST_PARTY_FILE, Catalog
from scanner.analysis.resolve import Resolver
from scanner.app.cli import main
from scanner.core.models import RawApp

PAYLOADS = Path(__file__).parent / "payloads" / "okta" / "first_party"
OKTA_OWN = {
    "saasure": "Okta Admin Console",
    "okta_enduser": "Okta Dashboard",
    "okta_browser_plugin": "Okta Browser Plugin",
    "okta_flow_sso": "Okta Workflows",
    "flow": "Okta Workflows OAuth",
}


def apps_payload() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads((PAYLOADS / "apps.json").read_text("utf-8"))
    return items


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture()
def resolver(catalog: Catalog) -> Resolver:
    okta = connectors.get("okta").capabilities
    return Resolver(
        catalog,
        first_party_by_name=["okta"] if "first_party_by_name" in okta else [],
        first_party_ids=["okta"] if "first_party_ids" in okta else [],
    )


def by_label(label: str, name: str | None = None) -> dict[str, Any]:
    return next(
        a for a in apps_payload() if a["label"] == label and (name is None or a["name"] == name)
    )


# -- the shipped list ----------------------------------------------------------------------


def test_okta_first_party_list_has_a_source_for_every_row() -> None:
    with OKTA_FIRST_PARTY_FILE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["app_name"] for r in rows} >= set(OKTA_OWN)
    for row in rows:
        assert row["label"].startswith("Okta "), row
        assert "https://" in row["source"] or "github.com/okta/" in row["source"], row
    assert len({r["app_name"] for r in rows}) == len(rows)


def test_catalog_loads_okta_first_party_apps(catalog: Catalog) -> None:
    found = catalog.first_party_app("okta", "saasure")
    assert found is not None and found.name == "Okta Admin Console"
    assert found.key == "okta:saasure" and found.category == "okta_first_party"
    assert catalog.first_party_app("google", "saasure") is None
    assert catalog.stats()["okta_first_party_apps"] >= len(OKTA_OWN)


def test_okta_connector_declares_first_party_ids() -> None:
    assert "first_party_ids" in connectors.get("okta").capabilities


# -- parser + resolver ------------------------------------------------------------------------


@pytest.mark.parametrize(("app_name", "label"), sorted(OKTA_OWN.items()))
def test_okta_own_app_from_the_apps_listing_is_first_party(
    resolver: Resolver, app_name: str, label: str
) -> None:
    raw = parse_app(by_label(label, app_name))
    app = resolver.resolve(raw)
    assert app.first_party and not app.internal and app.lookalike_of is None
    assert app.key == f"okta:{app_name.replace('_', '-')}"
    assert app.category == "okta_first_party" and app.vendor == "Okta"
    assert app.name == label
    assert [e.rule for e in app.evidence] == ["first_party"]
    assert app_name in app.evidence[0].value


def test_okta_own_apps_are_not_merged_into_the_okta_catalog_app(resolver: Resolver) -> None:
    keys = {
        resolver.resolve(parse_app(by_label(label, name))).key for name, label in OKTA_OWN.items()
    }
    assert len(keys) == len(OKTA_OWN)
    assert "cat:okta" not in keys


def test_renamed_okta_own_app_is_still_first_party(resolver: Resolver) -> None:
    item = dict(by_label("Okta Admin Console"), label="Acme Admin")
    app = resolver.resolve(parse_app(item))
    assert app.first_party and app.key == "okta:saasure" and app.name == "Okta Admin Console"


def test_third_party_app_named_like_okta_is_not_first_party(resolver: Resolver) -> None:
    app = resolver.resolve(parse_app(by_label("Okta Verify Helper")))
    assert not app.first_party
    assert not app.key.startswith("okta:")


def test_custom_app_labelled_like_okta_dashboard_is_not_first_party(resolver: Resolver) -> None:
    # Its app name is "bookmark", not okta_enduser: the id decides, not the label.
    app = resolver.resolve(parse_app(by_label("Okta Dashboard", "bookmark")))
    assert not app.first_party and not app.key.startswith("okta:")


def test_okta_app_known_only_from_the_system_log_is_first_party_by_label(
    resolver: Resolver,
) -> None:
    # An SSO event names the app by its label only (no listing, e.g. okta.apps.read missing).
    app = resolver.resolve(RawApp("okta", "0oa1admn5aSrQ2kLp5d7", "Okta Admin Console", "sso"))
    assert app.first_party and app.key == "okta:saasure"
    helper = resolver.resolve(RawApp("okta", "0oa1ovhx6fXwV7qRu5d7", "Okta Verify Helper", "sso"))
    assert not helper.first_party


def test_okta_app_names_are_not_trusted_from_other_sources(resolver: Resolver) -> None:
    for raw in (
        RawApp("entra", "9e0c1b5a-0000-4000-8000-000000000001", "Okta Admin Console"),
        RawApp("google", "123-okta.apps.googleusercontent.com", "Okta Dashboard"),
        RawApp("entra", "9e0c1b5a-0000-4000-8000-000000000002", "Okta", tags=("entra:saasure",)),
    ):
        assert not resolver.resolve(raw).first_party, raw


def test_okta_tag_without_the_capability_is_not_trusted(catalog: Catalog) -> None:
    plain = Resolver(catalog)
    app = plain.resolve(parse_app(by_label("Okta Admin Console")))
    assert not app.first_party


# -- through the Okta fake: a scan never flags Okta's own apps ---------------------------------


@pytest.fixture
def okta_server() -> Iterator[LoopbackServer]:
    fake = FakeOkta.from_dir(PAYLOADS, api_tokens={"scan-token": None})
    # Move the fixture events into the last days so a 30-day lookback sees them.
    shift = datetime.now(UTC) - datetime(2026, 11, 20, tzinfo=UTC)
    for event in fake.logs:
        when = datetime.fromisoformat(event["published"].replace("Z", "+00:00")) + shift
        event["published"] = when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    with LoopbackServer(fake) as server:
        yield server


def scan_report(folder: Path, org_url: str) -> dict[str, Any]:
    config = folder / "config.toml"
    config.write_text(
        f"""
[store]
path = "inventory.db"

[report]
out = "reports"
formats = ["json"]

[sources.okta]
org_url = "{org_url}"
token_env = "SHADOWIT_TEST_OKTA_TOKEN"
""",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["scan", "--config", str(config)])
    assert result.exit_code in (0, 4), result.output
    [report] = (folder / "reports").glob("*.json")
    data: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    shutil.rmtree(folder / "reports")
    return data


def test_scan_of_okta_own_apps_raises_no_unsanctioned_finding(
    okta_server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHADOWIT_TEST_OKTA_TOKEN", "scan-token")
    report = scan_report(tmp_path, okta_server.url)
    apps = {a["key"]: a for a in report["apps"]}
    own = {k: a for k, a in apps.items() if k.startswith("okta:")}
    assert {a["name"] for a in own.values()} == set(OKTA_OWN.values())
    for app in own.values():
        assert app["first_party"] and app["sanction_status"] == "first_party"
        assert app["category"] == "okta_first_party"
    flagged = {f["app_key"] for f in report["findings"] if f["kind"] == "unsanctioned"}
    assert not flagged & set(own)
    # The look-alike resolves like any third-party app (here by name to the Okta catalog entry)
    # and is flagged.
    helper = next(a for a in apps.values() if "Okta Verify Helper" in a["raw_names"])
    assert not helper["first_party"] and helper["key"] in flagged
