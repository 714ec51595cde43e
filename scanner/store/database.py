"""The inventory: one SQLite file through sqlite-utils, with history.

Writes happen in ``db.atomic()`` transactions. ``Store`` opens the file, keeps the scan-run
bookkeeping and the cursors, and reads; the record-ingest path (``ingest()``: batches, upserts,
sign-in de-duplication, checkpoints) is its base class in ``ingest``, the mapping of SQLite's
operational errors to ``StoreError`` is in ``failures``, and column values in ``values``. A scan
run is ``running`` until ``finish_scan``; readers use finished runs only.

Current-state tables (``users``, ``raw_apps``, ``grants``, ``apps``) carry ``first_seen``,
``last_seen``, ``first_scan``, ``last_scan`` and ``gone_scan``: an item is gone only when a
*complete* listing of its stream did not contain it, or the source said it was removed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from scanner.core.errors import StoreError
from scanner.core.models import RawApp, SourceStatus
from scanner.store import migrations
from scanner.store.failures import InventoryDatabase, process_alive
from scanner.store.failures import store_failure as store_failure
from scanner.store.ingest import IngestStats as IngestStats
from scanner.store.ingest import RecordIngest
from scanner.store.values import dumps as dumps
from scanner.store.values import iso as iso
from scanner.store.values import loads as loads
from scanner.store.values import parse_iso as parse_iso
from scanner.store.values import raw_app_from_row as raw_app_from_row
from scanner.store.values import utcnow as utcnow

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
"""How long a write waits for another process's write lock before it gives up (a scan
commits a page at a time, so a healthy writer never holds the lock this long)."""


class Store(RecordIngest):
    """The inventory database. ``Store.open(path)`` creates and migrates it."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        clock: Callable[[], datetime] = utcnow,
        raw_signin_days: int = 0,
    ):
        self.db = db
        self.clock = clock
        self.raw_signin_days = raw_signin_days

    @classmethod
    def open(
        cls, path: Path | str, clock: Callable[[], datetime] = utcnow, raw_signin_days: int = 0
    ) -> Store:
        """Open (creating and migrating) the inventory at ``path``; ``raw_signin_days`` > 0
        keeps raw sign-in events that long (``[store] raw_signin_days``)."""
        path = Path(path)
        db: InventoryDatabase | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fresh = not path.exists()
            if fresh:
                # Owner-only from the first byte: the inventory says who granted what.
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            db = InventoryDatabase(path)
            with db.ensure_autocommit_on():
                db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            # 64 MiB of page cache keeps the sign-in key index of a large tenant in memory.
            db.execute("PRAGMA cache_size=-65536")
            migrations.migrate(db)
        except StoreError:
            _close_quietly(db)
            raise
        except sqlite3.DatabaseError as err:
            _close_quietly(db)
            mapped = store_failure(path, err, db)
            if mapped is not None:
                raise mapped from None
            raise StoreError(
                f"{path}: cannot open the inventory database ({err}); "
                "restore it from a backup or move it aside to start a new inventory"
            ) from None
        except OSError as err:
            _close_quietly(db)
            blocker = next((p for p in path.parents if p.exists()), None)
            if blocker is not None and not blocker.is_dir():
                raise StoreError(
                    f"{path}: cannot create the inventory: {blocker} is a file, not a folder; "
                    "set [store] path to a file in a folder (or move that file aside)"
                ) from None
            raise StoreError(
                f"{path}: cannot create the inventory: {err.strerror}; "
                f"the user running shadowit needs write access to {path.parent}"
            ) from None
        store = cls(db, clock, raw_signin_days)
        store.end_dead_scans()
        return store

    def close(self) -> None:
        self.db.close()

    def set_busy_timeout(self, ms: int) -> None:
        """Wait at most ``ms`` for another process's write lock from now on (a store opened
        for one short write may prefer to give up sooner than ``BUSY_TIMEOUT_MS``)."""
        self.db.execute(f"PRAGMA busy_timeout={int(ms)}")

    # -- scan runs ------------------------------------------------------------------------
    def begin_scan(self, full: bool = False, note: str | None = None) -> int:
        with self.db.atomic():
            cursor = self.db.execute(
                "INSERT INTO scan_runs (started, status, full, note, pid, host) "
                "VALUES (?, 'running', ?, ?, ?, ?)",
                [iso(self.clock()), int(full), note, os.getpid(), socket.gethostname()],
            )
        return int(cursor.lastrowid or 0)

    def begin_source(self, scan_id: int, source: str) -> None:
        with self.db.atomic():
            self.db.execute(
                "INSERT OR REPLACE INTO source_runs (scan_id, source, status, records, "
                "warning_count, started) VALUES (?, ?, 'running', 0, 0, ?)",
                [scan_id, source, iso(self.clock())],
            )

    def end_source(
        self,
        scan_id: int,
        source: str,
        status: str,
        stats: IngestStats,
        error: str | None = None,
    ) -> SourceStatus:
        """Record how a source ended; apply its complete listings unless it failed."""
        with self.db.atomic():
            if status != "failed":
                self._mark_unseen_gone(scan_id, stats.complete_streams)
            self.db.execute(
                "UPDATE source_runs SET status=?, records=?, skipped=?, warnings=?, "
                "warning_count=?, error=?, finished=?, record_sources=? "
                "WHERE scan_id=? AND source=?",
                [
                    status,
                    stats.records,
                    dumps(stats.skipped),
                    dumps(stats.warnings),
                    stats.warning_count,
                    error,
                    iso(self.clock()),
                    dumps(sorted(stats.record_sources)),
                    scan_id,
                    source,
                ],
            )
        return SourceStatus(
            source,
            status,  # type: ignore[arg-type]
            stats.records,
            tuple(stats.skipped),
            tuple(stats.warnings),
            error,
            stats.warning_count,
        )

    def finish_scan(self, scan_id: int, status: str = "finished") -> None:
        with self.db.atomic():
            self.db.execute(
                "UPDATE scan_runs SET status=?, finished=? WHERE id=?",
                [status, iso(self.clock()), scan_id],
            )

    def fail_scan(self, scan_id: int, error: str, wait_ms: int = 1000) -> None:
        """End a scan that stopped on an error as ``failed``, with its sources still running.

        Waits at most ``wait_ms`` for a lock: the error being recorded may be that lock."""
        now = iso(self.clock())
        busy = self.db.execute("PRAGMA busy_timeout").fetchone()[0]
        self.db.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
        try:
            self._fail_scan(scan_id, error, now)
        finally:
            self.db.execute(f"PRAGMA busy_timeout={int(busy)}")

    def _fail_scan(self, scan_id: int, error: str, now: str | None) -> None:
        with self.db.atomic():
            self.db.execute(
                "UPDATE scan_runs SET status='failed', finished=?, error=? WHERE id=?",
                [now, error, scan_id],
            )
            self.db.execute(
                "UPDATE source_runs SET status='failed', finished=?, error=coalesce(error, ?) "
                "WHERE scan_id=? AND status='running'",
                [now, error, scan_id],
            )

    def end_dead_scans(self) -> list[int]:
        """Mark ``interrupted`` the scans left ``running`` by a process of this host that has
        ended (it could not even record its failure, or it was killed), so no listing shows
        them running forever. A scan of another host, or of a live process, is left alone;
        the next scan, which holds the scan lock, ends those (``abandon_stale_scans``)."""
        host = socket.gethostname()
        dead = [
            r["id"]
            for r in self.db.query(
                "SELECT id, pid, host FROM scan_runs WHERE status='running' AND pid IS NOT NULL"
            )
            if r["host"] == host and r["pid"] != os.getpid() and not process_alive(r["pid"])
        ]
        if not dead:
            return []
        marks = ",".join("?" * len(dead))
        try:
            with self.db.atomic():
                self.db.execute(
                    f"UPDATE scan_runs SET status='interrupted', error=coalesce(error, "
                    f"'its process ended before the scan finished') WHERE id IN ({marks})",
                    dead,
                )
                self.db.execute(
                    f"UPDATE source_runs SET status='interrupted' WHERE status='running' "
                    f"AND scan_id IN ({marks})",
                    dead,
                )
        except StoreError as err:
            # A read-only or full store can still be read: the command that opened it goes on,
            # and its own writes, if it has any, report the problem.
            log.info("could not mark dead scans %s interrupted: %s", dead, err)
            return []
        return dead

    def abandon_stale_scans(self) -> int:
        """Mark scans left ``running`` by a crashed process as ``interrupted``."""
        with self.db.atomic():
            cursor = self.db.execute(
                "UPDATE scan_runs SET status='interrupted' WHERE status='running'"
            )
            self.db.execute("UPDATE source_runs SET status='interrupted' WHERE status='running'")
        return cursor.rowcount

    def scan(self, scan_id: int) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM scan_runs WHERE id = ?", [scan_id]))
        return rows[0] if rows else None

    def scans(self, status: str | None = "finished") -> list[dict[str, Any]]:
        if status is None:
            return list(self.db.query("SELECT * FROM scan_runs ORDER BY id"))
        return list(self.db.query("SELECT * FROM scan_runs WHERE status=? ORDER BY id", [status]))

    def finished_scan_starts(self) -> dict[int, str | None]:
        """Scan id -> when it started (ISO), for every finished scan."""
        return {
            r["id"]: r["started"]
            for r in self.db.query("SELECT id, started FROM scan_runs WHERE status='finished'")
        }

    def latest_scan(self) -> int | None:
        row = self.db.execute("SELECT max(id) FROM scan_runs WHERE status='finished'").fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def confirmed_owners(self, now: datetime, review_days: int) -> dict[str, str]:
        """App key -> owner email for confirmations newer than the review period."""
        if "attestations" not in self.db.table_names():
            return {}
        cutoff = (now - timedelta(days=review_days)).isoformat()
        owners: dict[str, str] = {}
        for r in self.db.query(
            "SELECT app_key, owner, answered FROM attestations WHERE answer = 'mine' "
            "AND answered >= ? ORDER BY answered",
            [cutoff],
        ):
            owners[r["app_key"]] = r["owner"]
        return owners

    def previous_scan(self, scan_id: int) -> int | None:
        row = self.db.execute(
            "SELECT max(id) FROM scan_runs WHERE status='finished' AND id < ?", [scan_id]
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def record_sources(self, scan_id: int) -> dict[str, set[str]]:
        """Source -> the record sources its run in ``scan_id`` wrote (runs recorded before
        migration 15 are left out)."""
        return {
            r["source"]: set(loads(r["record_sources"], []))
            for r in self.db.query(
                "SELECT source, record_sources FROM source_runs "
                "WHERE scan_id=? AND record_sources IS NOT NULL",
                [scan_id],
            )
        }

    def source_runs(self, scan_id: int) -> list[SourceStatus]:
        return [
            SourceStatus(
                r["source"],
                r["status"],
                r["records"] or 0,
                tuple(loads(r["skipped"], [])),
                tuple(loads(r["warnings"], [])),
                r["error"],
                r["warning_count"] or 0,
            )
            for r in self.db.query(
                "SELECT * FROM source_runs WHERE scan_id=? ORDER BY source", [scan_id]
            )
        ]

    # -- cursors --------------------------------------------------------------------------
    def cursors(self, source: str) -> dict[str, str]:
        return {
            r["stream"]: r["cursor"]
            for r in self.db.query(
                "SELECT stream, cursor FROM checkpoints WHERE source=? AND cursor IS NOT NULL",
                [source],
            )
        }

    def rewrite_cursors(self, source: str, rewrite: Callable[[str], str]) -> int:
        """Replace each stored cursor of ``source`` with ``rewrite(cursor)``, in one
        transaction; returns how many changed."""
        changed = 0
        with self.db.atomic():
            for row in list(
                self.db.query("SELECT stream, cursor FROM checkpoints WHERE source=?", [source])
            ):
                cursor = row["cursor"] or ""
                rewritten = rewrite(cursor)
                if rewritten != cursor:
                    self.db.execute(
                        "UPDATE checkpoints SET cursor = ? WHERE source = ? AND stream = ?",
                        [rewritten, source, row["stream"]],
                    )
                    changed += 1
        return changed

    # -- reads for the inventory ----------------------------------------------------------
    def current_raw_apps(self) -> Iterator[RawApp]:
        for r in self.db.query("SELECT * FROM raw_apps WHERE gone_scan IS NULL"):
            yield raw_app_from_row(r)

    def prune_signins(self, older_than_days: int) -> int:
        """Delete raw sign-in events older than ``raw_signin_days`` and de-duplication keys
        older than ``older_than_days``; daily counts stay. Returns the raw events deleted.

        Each source that has counted events before the keys' cutoff day gets that day as its
        floor: an event dated before its source's floor is not counted again when a later scan
        or import reads it once more.
        """
        now = self.clock()
        cutoff = iso(now - timedelta(days=older_than_days)) or ""
        raw_cutoff = iso(now - timedelta(days=self.raw_signin_days)) or ""
        day = cutoff[:10]
        with self.db.atomic():
            cursor = self.db.execute("DELETE FROM signins WHERE at < ?", [raw_cutoff])
            keys = self.db.execute("DELETE FROM signin_keys WHERE day < ?", [day])
            if keys.rowcount:
                self.db.execute(
                    # Every counted event is in app_evidence (an activity report too, which
                    # has no daily row): a source with one before the cutoff gets the floor.
                    "INSERT INTO signin_floors (source, day) SELECT source, ? FROM app_evidence "
                    "GROUP BY source HAVING min(first_at) < ? ON CONFLICT (source) DO UPDATE SET "
                    "day = max(signin_floors.day, excluded.day)",
                    [day, day],
                )
        return cursor.rowcount

    def signin_floors(self) -> dict[str, str]:
        """Source -> the day before which its sign-ins are no longer counted."""
        return dict(self.db.execute("SELECT source, day FROM signin_floors").fetchall())


def _close_quietly(db: sqlite_utils.Database | None) -> None:
    if db is not None:
        with contextlib.suppress(sqlite3.Error):
            db.close()
