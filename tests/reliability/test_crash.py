"""Crash safety: SIGKILL a scan at seeded random moments, then check the store.

Each run starts ``tests.reliability.crash_child`` (the demo tenant scanned through the real
connectors and fake providers), kills it after a seeded random delay, and checks that the
store opens, passes ``PRAGMA integrity_check``, shows no half-written scan as finished, and
that the next scan completes and leaves exactly the rows an uninterrupted scan leaves (no
duplicate users, apps, grants or sign-ins, no double-counted usage).

``make test`` runs 4 kills; ``make test-long`` (``SHADOWIT_LONG=1``) runs 20.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from scanner.store.database import Store
from tests.reliability.conftest import Observe
from tests.reliability.crash_child import scan_demo

ROOT = Path(__file__).resolve().parents[2]
RUNS = 20 if os.environ.get("SHADOWIT_LONG") == "1" else 4
SEED = 20261120
SCAN_SECONDS = 2.6
"""About how long the child scans after printing ``ready`` (two demo nights)."""
SOURCES = {"entra", "google", "okta", "files"}


def fingerprint(path: Path) -> dict[str, Any]:
    """What a finished inventory holds, in a form two stores can be compared by."""
    db = sqlite3.connect(path)
    try:

        def one(sql: str) -> Any:
            return db.execute(sql).fetchone()[0]

        latest = one("SELECT max(id) FROM scan_runs WHERE status = 'finished'")
        return {
            "users": one("SELECT count(*) FROM users WHERE gone_scan IS NULL"),
            "raw_apps": one("SELECT count(*) FROM raw_apps WHERE gone_scan IS NULL"),
            "grants": one("SELECT count(*) FROM grants WHERE gone_scan IS NULL"),
            "signins": one("SELECT count(*) FROM signins"),
            "signin_count": one("SELECT sum(count) FROM signin_daily"),
            "spend": one("SELECT count(*) FROM spend"),
            "checkpoints": sorted(db.execute("SELECT source, stream FROM checkpoints")),
            "snapshot": sorted(
                db.execute(
                    "SELECT app_key, user_count, risk_score FROM app_snapshots WHERE scan_id = ?",
                    [latest],
                )
            ),
        }
    finally:
        db.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("reference")
    scan_demo(out)
    return fingerprint(out / "shadowit.db")


def kill_during_scan(out: Path, delay: float) -> bool:
    """Start the child, SIGKILL it ``delay`` s after it is ready; True if it was still running."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.crash_child", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(delay)
        alive = child.poll() is None
        if alive:
            os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        return alive
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def state_after_kill(db_path: Path) -> str:
    """Check the killed store raw (before any migration or repair) and describe it."""
    db = sqlite3.connect(db_path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        if "scan_runs" not in {r[0] for r in db.execute("SELECT name FROM sqlite_master")}:
            return "store created, schema not yet written"
        runs = db.execute("SELECT id, status FROM scan_runs ORDER BY id").fetchall()
        for scan_id, status in runs:
            if status != "finished":
                continue
            ended = db.execute(
                "SELECT source, status, finished FROM source_runs WHERE scan_id = ?", [scan_id]
            ).fetchall()
            assert {s for s, _st, _f in ended} == SOURCES, f"scan {scan_id} finished half-way"
            assert all(st in ("ok", "partial", "failed") and f for _s, st, f in ended)
            snapshots = db.execute(
                "SELECT count(*) FROM app_snapshots WHERE scan_id = ?", [scan_id]
            ).fetchone()[0]
            assert snapshots > 0, f"scan {scan_id} is finished without its snapshot"
        running = [(i, s) for i, s in runs if s != "finished"]
        if not running:
            return f"{len(runs)} scan(s), all finished"
        scan_id = running[-1][0]
        done = sorted(
            r[0]
            for r in db.execute(
                "SELECT source FROM source_runs WHERE scan_id = ? AND status != 'running'",
                [scan_id],
            )
        )
        return f"scan {scan_id} left running; sources ended: {', '.join(done) or 'none'}"
    finally:
        db.close()


@pytest.mark.parametrize("run", range(RUNS))
def test_sigkill_mid_scan_leaves_a_sound_store(
    run: int, tmp_path: Path, reference: dict[str, Any], observe: Observe
) -> None:
    delay = random.Random(SEED + run).uniform(0.0, SCAN_SECONDS)
    killed = kill_during_scan(tmp_path, delay)
    db_path = tmp_path / "shadowit.db"
    state = state_after_kill(db_path) if db_path.exists() else "no store yet"
    if db_path.exists():
        Store.open(db_path).close()  # opens and migrates after the crash

    scan_demo(tmp_path)  # the next scan(s) complete

    after = fingerprint(db_path)
    assert after == reference, "the recovered inventory differs from an uninterrupted scan"
    store = Store.open(db_path)
    try:
        statuses = [r["status"] for r in store.scans(None)]
        assert statuses.count("running") == 0
        assert statuses.count("finished") >= 2
        latest = store.latest_scan()
        assert latest is not None
        assert {s.source for s in store.source_runs(latest)} == SOURCES
    finally:
        store.close()
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    how = f"SIGKILL {delay:.2f} s into the scan" if killed else "scan ended before the kill"
    observe(
        "crash",
        f"run {run} (seed {SEED + run}): {how}",
        f"after the kill: {state}; integrity_check ok; next scan finished, inventory equal to "
        f"an uninterrupted scan (scans: {', '.join(statuses)})",
    )
