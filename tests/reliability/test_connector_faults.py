"""Connector-level faults through the fake providers, across two real scans.

Scan 1 reads the demo tenant's Okta org cleanly. Scan 2 runs with a fault injected
(``FakeProvider.fail``): the source ends failed or partial with a clear message, what was read
is saved, and the inventory of scan 1 stays: no app looks gone because a listing broke.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.demo import DEMO_NOW
from connectors.testing.okta import FakeOkta
from connectors.testing.server import LoopbackServer
from scanner.app import config as configuration
from scanner.app.demo import as_of, load_tenant
from scanner.app.pipeline import run_scan
from scanner.store.database import Store
from tests.reliability.conftest import Observe

TOKEN = "okta-test-token-3c9e"


def okta_fake() -> FakeOkta:
    data = as_of(load_tenant(), DEMO_NOW)["okta"]
    grouped: dict[str, list[dict[str, Any]]] = {}
    for item in data["app_users"]:
        grouped.setdefault(item["appId"], []).append(item)
    fake = FakeOkta(
        apps=data["apps"],
        app_users=grouped,
        users=data["users"],
        logs=data["logs"],
        api_tokens={TOKEN: None},
        now=lambda: DEMO_NOW,
    )
    fake.max_page = 10
    return fake


@pytest.fixture()
def okta(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeOkta, Any]]:
    monkeypatch.setenv("RELIABILITY_OKTA_TOKEN", TOKEN)
    fake = okta_fake()
    with LoopbackServer(fake) as server:
        path = tmp_path / "config.toml"
        path.write_text(
            f'[sources.okta]\norg_url = "{server.url}"\ntoken_env = "RELIABILITY_OKTA_TOKEN"\n',
            encoding="utf-8",
        )
        yield fake, configuration.load(path)


def live_apps(cfg: Any) -> int:
    store = Store.open(cfg.store_path)
    try:
        row = store.db.execute("SELECT count(*) FROM raw_apps WHERE gone_scan IS NULL")
        return int(row.fetchone()[0])
    finally:
        store.close()


FAULTS = [
    ("/api/v1/apps", 500, {}, None, "HTTP 500 on every apps page"),
    ("/api/v1/apps", 429, {"X-Rate-Limit-Reset": "0"}, None, "429 on every apps page"),
    ("/api/v1/users", 503, {}, None, "HTTP 503 on every users page"),
    ("/api/v1/logs", 502, {}, None, "HTTP 502 on every System Log page"),
    ("/api/v1/apps", 200, {}, b'[{"id": "0oa1", "label": "Trunc', "truncated JSON apps page"),
    ("/api/v1/users", 200, {}, b'{"not": "a list"}', "users page that is not a JSON array"),
]


@pytest.mark.parametrize(("prefix", "status", "headers", "raw", "label"), FAULTS)
def test_okta_fault_keeps_the_earlier_inventory(
    okta: tuple[FakeOkta, Any],
    prefix: str,
    status: int,
    headers: dict[str, str],
    raw: bytes | None,
    label: str,
    observe: Observe,
) -> None:
    fake, cfg = okta
    sleeps: list[float] = []
    first = run_scan(cfg, now=DEMO_NOW, sleep=sleeps.append)
    assert first.exit_code == 0, first.sources
    apps_before = live_apps(cfg)
    assert apps_before > 0

    fake.fail(prefix, status, times=10_000, headers=headers, raw=raw)
    second = run_scan(cfg, now=DEMO_NOW + timedelta(hours=1), sleep=sleeps.append)
    source = second.sources[0]
    assert second.exit_code == 3
    assert source.status in ("failed", "partial")
    message = source.error or "; ".join(source.skipped)
    assert message.startswith("Okta: ") and prefix in message, message
    assert TOKEN not in message
    assert len(fake.requests_to(prefix)) <= 60, "retries are bounded"
    assert all(wait <= 60.0 for wait in sleeps)
    assert live_apps(cfg) == apps_before, "no app looks gone after a broken listing"
    store = Store.open(cfg.store_path)
    try:
        assert store.latest_scan() == second.scan_id, "the scan itself finished"
    finally:
        store.close()
    observe(
        "connector",
        f"Okta: {label} (scan 2 of 2)",
        f"source {source.status}: {message[:200]}; {apps_before} apps of scan 1 still current; "
        f"{len(fake.requests_to(prefix))} requests to {prefix}",
    )
