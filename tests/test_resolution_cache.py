"""Incremental analysis: a scan resolves only the raw apps that changed, and its inventory and
findings are the ones a full rebuild of the same store gives.

Each test scans with the registered in-memory ``feed`` connector through ``run_scan``, counts
the raw apps ``Resolver.resolve`` really resolved, and compares the scan's result with a full
analysis (``analyse(full=True)``: no cache read) of the same store and scan.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import tests.memory_source as feed
from scanner.analysis import sanctions
from scanner.analysis.catalog import Catalog
from scanner.analysis.resolution_cache import CachedResolver, context_digest, raw_digest
from scanner.analysis.resolve import Resolver
from scanner.app import config as configuration
from scanner.app import pipeline
from scanner.app.pipeline import run_scan
from scanner.core.models import App, Checkpoint, Grant, RawApp, SignIn, SourceRecord, User
from scanner.store import resolutions
from scanner.store.database import Store

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
CONFIG = '[organisation]\nname = "Test Co"\nown_domains = ["example.com"]\n[sources.feed]\n'

BASE = [
    RawApp("feed", "hs", "HubSpot", publisher="HubSpot, Inc.", publisher_verified=True),
    RawApp("feed", "zn", "Zephyr Notes Tool"),
    RawApp("feed", "mc", "Mail Chimp"),
    RawApp("feed", "fz", "Hubspt"),
    RawApp("feed", "lk", "Mailchimp", homepage="https://mailchimp-login.example.net/app"),
    RawApp("feed", "in", "Wiki", homepage="https://wiki.example.com"),
]
CHANGED = {
    "zn": replace(BASE[1], name="Zephyr Notes"),
    "lk": replace(BASE[4], publisher="Intuit", publisher_verified=True),
}
NEW = RawApp("feed", "qf", "Quill Forms")


@pytest.fixture
def cfg(tmp_path: Path) -> configuration.Config:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return configuration.load(path)


@pytest.fixture
def resolved(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The client ids ``Resolver.resolve`` resolved (not served from the cache), in order."""
    calls: list[str] = []
    real = Resolver.resolve

    def counting(self: Resolver, raw: RawApp) -> App:
        calls.append(raw.client_id)
        return real(self, raw)

    monkeypatch.setattr(Resolver, "resolve", counting)
    yield calls
    feed.FEED.clear()


def night(apps: list[RawApp], day: int) -> list[SourceRecord]:
    at = NOW - timedelta(hours=3) + timedelta(days=day)
    return [
        User("feed", "u1", "ana@example.com", "Ana", "Marketing"),
        User("feed", "u2", "bo@example.com", "Bo", "Engineering"),
        Checkpoint("feed", "users", complete=True),
        *apps,
        Checkpoint("feed", "apps", complete=True),
        *(Grant("feed", a.client_id, "u1", ("openid", "Mail.Read")) for a in apps),
        Grant("feed", "hs", "u2", ("openid", "Mail.Send")),
        Checkpoint("feed", "grants", complete=True),
        SignIn("feed", f"e{day}", "hs", at, user_id="u2"),
        # An app no listing names, known from its sign-ins only.
        SignIn("feed", f"g{day}", "gh", at, user_id="u1", app_name="Ghostwriter Pro"),
        Checkpoint("feed", "signins", cursor=at.isoformat()),
    ]


def scan(cfg: configuration.Config, apps: list[RawApp], day: int, full: bool = False) -> Any:
    feed.FEED[:] = night(apps, day)
    return run_scan(cfg, now=NOW + timedelta(days=day), full=full)


def full_analysis(cfg: configuration.Config, result: pipeline.ScanResult, day: int) -> Any:
    """The same store and scan analysed again from nothing (no cached resolution read)."""
    catalog = Catalog.load(cfg.catalog, cfg.file.parent if cfg.file else None)
    entries = sanctions.load(cfg.sanctioned, cfg.file.parent if cfg.file else None, catalog)
    store = Store.open(cfg.store_path)
    try:
        return pipeline.analyse(
            store,
            cfg,
            result.scan_id,
            NOW + timedelta(days=day),
            result.sources,
            {"feed": {"feed"}},
            catalog,
            entries,
            full=True,
        )
    finally:
        store.close()


def comparable(result: pipeline.ScanResult) -> tuple[Any, ...]:
    return (
        [asdict(a) for a in result.apps],
        [asdict(f) for f in result.findings],
        result.new_apps,
    )


def keys(result: pipeline.ScanResult) -> dict[str, str]:
    return {client_id: a.key for a in result.apps for client_id in a.client_ids}


def test_second_scan_resolves_only_changed_apps_and_equals_a_full_build(
    cfg: configuration.Config, resolved: list[str]
) -> None:
    scan(cfg, BASE, 0)
    assert sorted(resolved) == sorted([a.client_id for a in BASE] + ["gh"])

    resolved.clear()
    second = [CHANGED.get(a.client_id, a) for a in BASE if a.client_id != "mc"] + [NEW]
    incremental = scan(cfg, second, 1)
    # Renamed, newly verified and new apps only; the unchanged ones came from the cache.
    assert sorted(resolved) == ["lk", "qf", "zn"]
    assert keys(incremental)["lk"] == "cat:mailchimp"  # verified now: no longer a lookalike
    assert keys(incremental)["fz"] == "cat:hubspot"  # fuzzy, from the cache
    assert keys(incremental)["in"].startswith("internal:")
    assert keys(incremental)["gh"] == "name:ghostwriter-pro"

    resolved.clear()
    full = full_analysis(cfg, incremental, 1)
    assert len(resolved) == len(second) + 1
    assert comparable(incremental) == comparable(full)
    assert incremental.findings  # something to compare: the new and unsanctioned apps


def test_a_changed_catalog_alias_resolves_everything_again(
    cfg: configuration.Config, resolved: list[str]
) -> None:
    scan(cfg, BASE, 0)
    assert cfg.file is not None
    cfg.file.write_text(
        CONFIG + '[catalog.aliases]\n"Zephyr Notes Tool" = "Notion"\n', encoding="utf-8"
    )
    aliased = configuration.load(cfg.file)

    resolved.clear()
    incremental = scan(aliased, BASE, 1)
    assert sorted(resolved) == sorted([a.client_id for a in BASE] + ["gh"])
    assert keys(incremental)["zn"] == "cat:notion"
    assert comparable(incremental) == comparable(full_analysis(aliased, incremental, 1))


def test_full_scan_resolves_everything_and_the_next_one_nothing(
    cfg: configuration.Config, resolved: list[str]
) -> None:
    scan(cfg, BASE, 0)
    resolved.clear()
    full = scan(cfg, BASE, 1, full=True)
    assert sorted(resolved) == sorted([a.client_id for a in BASE] + ["gh"])

    resolved.clear()
    again = scan(cfg, BASE, 1)
    assert resolved == []
    assert [asdict(a) for a in again.apps] == [asdict(a) for a in full.apps]


def test_cache_rows_follow_the_raw_apps_seen(cfg: configuration.Config) -> None:
    """Rows of raw apps no build sees any more are dropped; the rest round-trip exactly."""
    scan(cfg, BASE, 0)
    scan(cfg, BASE[:2], 1)
    store = Store.open(cfg.store_path)
    try:
        catalog = Catalog.load(cfg.catalog, cfg.file.parent if cfg.file else None)
        context = context_digest(Resolver(catalog, cfg.organisation.own_domains))
        rows = resolutions.cached(store, context)
        # The apps no listing, grant or event names any more are dropped.
        assert {k for _s, k in rows} == {"hs", "zn", "gh"}
        resolver = Resolver(catalog, cfg.organisation.own_domains)
        for raw in BASE[:2]:
            row = rows[(raw.source, raw.client_id)]
            assert row.raw_digest == raw_digest(raw)
            assert resolutions.app_from_json(row.app) == resolver.resolve(raw)
    finally:
        store.close()


def test_a_changed_field_or_setting_misses_the_cache(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "inventory.db")
    try:
        catalog = Catalog.load()
        resolver = Resolver(catalog)
        first = CachedResolver.open(store, resolver)
        for raw in BASE:
            first.resolve(raw)
        first.save(store)
        assert (first.hits, first.misses) == (0, len(BASE))

        again = CachedResolver.open(store, Resolver(catalog))
        changed = replace(BASE[0], reply_urls=("https://app.hubspot.com/oauth",))
        assert [again.resolve(r) for r in BASE[1:]] == [resolver.resolve(r) for r in BASE[1:]]
        again.resolve(changed)
        assert (again.hits, again.misses) == (len(BASE) - 1, 1)

        wiki = BASE[5]
        assert not resolver.resolve(wiki).internal
        own_domain = CachedResolver.open(store, Resolver(catalog, own_domains=("example.com",)))
        assert own_domain.resolve(wiki).internal
        assert (own_domain.hits, own_domain.misses) == (0, 1)
    finally:
        store.close()


def test_every_kind_of_resolution_round_trips(tmp_path: Path) -> None:
    """First-party, catalog, fuzzy, internal, lookalike and unmatched apps, as stored."""
    resolver = Resolver(Catalog.load(), own_domains=("example.com",))
    raws = [*BASE, RawApp("feed", "00000003-0000-0000-c000-000000000000", "Graph")]
    apps = [resolver.resolve(r) for r in raws]
    assert {a.key.split(":")[0] for a in apps} >= {"cat", "internal", "lookalike", "name", "ms"}
    assert any(len(a.evidence) > 1 for a in apps)  # the lookalike's reasons
    assert [resolutions.app_from_json(resolutions.app_to_json(a)) for a in apps] == apps
