"""A scan killed mid-way, then resumed: nothing counted twice, watermarks as if never killed.

The real connectors scan the demo tenant from the local providers; a session that raises
KeyboardInterrupt (what Ctrl-C or a SIGINT from the scheduler does) after N requests kills the
scan at points inside Entra's grants, inside Entra's sign-in pages and inside Okta's System
Log. The resumed store must equal a store scanned once without interruption.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.demo import DEMO_NOW
from scanner.app.pipeline import run_scan
from scanner.core.models import Checkpoint, SignIn
from scanner.store.database import Store
from tests.test_operations_env import Providers, feed_config, feed_of, local_providers


class InterruptingSession(requests.Session):
    """Trusts the local CA; raises KeyboardInterrupt on request number ``after + 1``."""

    def __init__(self, ca_path: str, after: int | None = None) -> None:
        super().__init__()
        self.trust_env = False
        self.verify = ca_path
        self.after = after
        self.requests: list[str] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if self.after is not None and len(self.requests) >= self.after:
            raise KeyboardInterrupt
        self.requests.append(str(url).split("?")[0])
        return super().request(method, url, *args, **kwargs)


def no_wait(_seconds: float) -> None:
    """Retries and pacing never wait in these tests."""


def state_of(path: Path) -> dict[str, Any]:
    """What a scan leaves in the inventory, keyed so duplicates or a wrong watermark show."""
    store = Store.open(path)
    query = store.db.query
    try:
        return {
            "users": sorted((r["source"], r["id"]) for r in query("SELECT * FROM users")),
            "apps": sorted(
                (r["source"], r["client_id"], r["gone_scan"] is None)
                for r in query("SELECT * FROM raw_apps")
            ),
            "grants": sorted(
                (r["source"], r["client_id"], r["user_key"], r["resource"], r["scopes"])
                for r in query("SELECT * FROM grants")
            ),
            # What each stream counted: its watermark, and the keys of the keyed kinds (raw
            # events are not kept by default).
            "marks": sorted(
                tuple(r.values())
                for r in query(
                    "SELECT source, stream, kind, interactive, listing, lo, hi, lo_ids, hi_ids "
                    "FROM signin_marks"
                )
            ),
            "signins": sorted((r["key"], r["day"]) for r in query("SELECT * FROM signin_keys")),
            "signin_daily": sorted(
                (r["source"], r["client_id"], r["user_key"], r["day"], r["count"])
                for r in query("SELECT * FROM signin_daily")
            ),
            "cursors": sorted(
                (r["source"], r["stream"], r["cursor"])
                for r in query("SELECT * FROM checkpoints WHERE cursor IS NOT NULL")
            ),
            "open_findings": sorted(
                r["id"] for r in query("SELECT id FROM findings WHERE status = 'open'")
            ),
        }
    finally:
        store.close()


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Providers, dict[str, Any]]]:
    """The local providers, and the state of a store scanned once without interruption."""
    folder = tmp_path_factory.mktemp("reference")
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        local_providers(folder, monkeypatch) as env,
    ):
        session = InterruptingSession(env.ca_path)
        result = run_scan(env.config(), now=DEMO_NOW, session=session, sleep=no_wait)
        assert result.exit_code == 0
        yield env, state_of(env.config().store_path)


@pytest.mark.parametrize(
    ("after", "killed_in"),
    [(10, "entra"), (35, "entra"), (74, "okta")],
    ids=["entra-grants", "entra-signins", "okta-logs"],
)
def test_interrupted_scan_resumes_without_duplicates(
    tenant: tuple[Providers, dict[str, Any]], tmp_path: Path, after: int, killed_in: str
) -> None:
    env, reference = tenant
    cfg = env.config()
    store_path = tmp_path / "shadowit.db"
    cfg = replace(cfg, store=replace(cfg.store, path=str(store_path)))
    killer = InterruptingSession(env.ca_path, after=after)
    with pytest.raises(KeyboardInterrupt):
        run_scan(cfg, now=DEMO_NOW, session=killer, sleep=no_wait)
    store = Store.open(store_path)
    killed = store.scan(1)
    runs = {s.source: s.status for s in store.source_runs(1)}
    store.close()
    assert killed is not None and killed["status"] == "running" and killed["finished"] is None
    assert runs[killed_in] == "running"

    resumed = run_scan(cfg, now=DEMO_NOW, session=InterruptingSession(env.ca_path), sleep=no_wait)
    assert resumed.exit_code == 0 and resumed.scan_id == 2
    store = Store.open(store_path)
    statuses = [(s["id"], s["status"]) for s in store.scans(status=None)]
    interrupted_sources = {s.source: s.status for s in store.source_runs(1)}
    store.close()
    assert statuses == [(1, "interrupted"), (2, "finished")]
    assert interrupted_sources[killed_in] == "interrupted"
    assert state_of(store_path) == reference


def test_the_comparison_tells_an_unfinished_store_apart(
    tenant: tuple[Providers, dict[str, Any]], tmp_path: Path
) -> None:
    """The comparison above can fail: a store that only saw the killed scan differs."""
    env, reference = tenant
    cfg = env.config()
    path = tmp_path / "only-killed.db"
    cfg = replace(cfg, store=replace(cfg.store, path=str(path)))
    with pytest.raises(KeyboardInterrupt):
        run_scan(cfg, now=DEMO_NOW, session=InterruptingSession(env.ca_path, 35), sleep=no_wait)
    state = state_of(path)
    assert state["signins"] != reference["signins"]
    assert state["cursors"] != reference["cursors"]


def test_generator_raising_mid_stream_keeps_committed_pages_and_resumes_at_the_cursor(
    tmp_path: Path,
) -> None:
    from scanner.app import config as configuration
    from tests.memory_source import FEED, SEEN_SINCE

    loaded = configuration.load(feed_config(tmp_path))
    cfg = replace(loaded, store=replace(loaded.store, raw_signin_days=30))
    first = DEMO_NOW - timedelta(hours=5)

    def signin(n: int) -> SignIn:
        return SignIn("feed", f"e{n}", "app0", first + timedelta(minutes=n), user_id="u1")

    feed_of("Zephyr Notes")
    FEED.extend([signin(1), signin(2), Checkpoint("feed", "signins", cursor="page-1")])
    FEED.extend([signin(3), signin(4), RuntimeError("the process died here")])
    SEEN_SINCE.clear()
    with pytest.raises(RuntimeError, match="the process died here"):
        run_scan(cfg, now=DEMO_NOW)

    feed_of("Zephyr Notes")  # the provider answers again from the stored cursor
    FEED.extend([signin(3), signin(4), signin(5), Checkpoint("feed", "signins", cursor="page-2")])
    result = run_scan(cfg, now=DEMO_NOW)
    assert result.exit_code == 0
    assert SEEN_SINCE == [{}, {"signins": "page-1"}]
    store = Store.open(cfg.store_path)
    events = [r["event_id"] for r in store.db.query("SELECT event_id FROM signins ORDER BY at")]
    daily = store.db.execute("SELECT sum(count) FROM signin_daily").fetchone()[0]
    cursors = store.cursors("feed")
    statuses = [s["status"] for s in store.scans(status=None)]
    store.close()
    assert events == ["e1", "e2", "e3", "e4", "e5"]
    assert daily == 5, "events seen by both scans are counted once"
    assert cursors == {"signins": "page-2"}
    assert statuses == ["interrupted", "finished"]
