"""``shadowit scan --config`` with a Google block pointed at FakeGoogle on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connectors.testing.google import FakeGoogle
from connectors.testing.server import LoopbackServer
from scanner.app.cli import main
from scanner.store.database import Store

PAYLOADS = Path(__file__).parent / "payloads" / "google"
ADMIN = "ada.admin@example.com"
MIA = "104000000000000000002"


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.fixture
def fake() -> FakeGoogle:
    return FakeGoogle(load("users.json"), load("tokens.json"), {})


@pytest.fixture
def config(fake: FakeGoogle, tmp_path: Path) -> Iterator[Path]:
    with LoopbackServer(fake) as server:
        key = fake.add_service_account()
        (tmp_path / "google-key.json").write_text(json.dumps(key), encoding="utf-8")
        path = tmp_path / "config.toml"
        path.write_text(
            f"""
[store]
path = "inventory.db"

[report]
out = "reports"
formats = ["json"]

[sources.google]
admin_email = "{ADMIN}"
key_file = "google-key.json"
api_root = "{server.url}/"
token_uri = "{server.url}/token"
""",
            encoding="utf-8",
        )
        yield path


def scan(config: Path) -> Any:
    result = CliRunner().invoke(main, ["scan", "--config", str(config)])
    assert result.exit_code == 0, result.output
    return result


def grants(config: Path) -> dict[tuple[str, str], Any]:
    store = Store.open(config.parent / "inventory.db")
    try:
        return {
            (r["user_key"], r["client_id"]): r["gone_scan"]
            for r in store.db.query("SELECT user_key, client_id, gone_scan FROM grants")
        }
    finally:
        store.close()


def test_scan_fills_the_store_and_report_then_follows_token_events(
    fake: FakeGoogle, config: Path
) -> None:
    scan(config)
    first = grants(config)
    assert (MIA, "880011223344-notetaker.apps.googleusercontent.com") in first
    assert len(first) == 3
    assert list((config.parent / "reports").rglob("*.json"))
    assert len(fake.requests_to("/batch")) == 1

    # Between scans Mia authorizes a new app and revokes the notetaker.
    now = datetime.now(UTC)
    authorize, revoke, _activity = load("activities-token.json")
    authorize["id"]["time"] = stamp(now - timedelta(minutes=3))
    revoke["id"]["time"] = stamp(now - timedelta(minutes=2))
    fake.activities["token"] = [authorize, revoke]
    fake.log.clear()
    scan(config)

    assert not fake.requests_to("/batch")
    assert not [r for r in fake.log if r.path.endswith("/tokens")]
    listings = fake.requests_to("/admin/reports/v1/activity/users/all/applications/token")
    assert [r.args["eventName"] for r in listings] == ["authorize", "revoke"]
    second = grants(config)
    assert second[(MIA, "551122-socialscheduler.apps.googleusercontent.com")] is None
    assert second[(MIA, "880011223344-notetaker.apps.googleusercontent.com")] is not None
    assert second[("104000000000000000001", "anonymous")] is None
