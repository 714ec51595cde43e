"""The inventory: one SQLite file through sqlite-utils, with history.

Writes happen in ``db.atomic()`` transactions. ``ingest()`` streams a connector's records in
batches and commits at each ``Checkpoint`` (the cursor is saved in the same transaction as the
page before it), so an interrupted scan resumes at the last committed page and, because every
write is an upsert on a natural key and sign-ins are de-duplicated by event id, counts nothing
twice. A scan run is ``running`` until ``finish_scan``; readers use finished runs only.

Current-state tables (``users``, ``raw_apps``, ``grants``, ``apps``) carry ``first_seen``,
``last_seen``, ``first_scan``, ``last_scan`` and ``gone_scan``: an item is gone only when a
*complete* listing of its stream did not contain it, or the source said it was removed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sqlite3
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from scanner.core.errors import StoreError
from scanner.core.models import (
    STREAMS,
    Checkpoint,
    Grant,
    RawApp,
    Removed,
    SignIn,
    Skipped,
    SourceRecord,
    SourceStatus,
    SourceWarning,
    Spend,
    User,
)
from scanner.store import migrations
from scanner.store.migrations import signin_key

log = logging.getLogger(__name__)

BATCH = 5000
"""Records waiting before a page boundary is used as a commit point."""
MAX_KEPT_WARNINGS = 200
BUSY_TIMEOUT_MS = 10_000
"""How long a write waits for another process's write lock before it gives up (a scan
commits a page at a time, so a healthy writer never holds the lock this long)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is UTC:
        return value.isoformat(timespec="seconds")[:19] + "Z"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def loads(value: str | None, default: Any = None) -> Any:
    if value is None:
        return default
    return json.loads(value)


@dataclass
class IngestStats:
    """What one source's records amounted to in one scan."""

    records: int = 0
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    warning_count: int = 0
    complete_streams: set[tuple[str, str]] = field(default_factory=set)
    """(record source, stream) pairs listed in full this scan."""
    record_sources: set[str] = field(default_factory=set)
    """The ``source`` names the records carried (a file import may name its own)."""

    def status(self) -> str:
        return "partial" if self.skipped else "ok"


_STREAM_TABLE = {"users": "users", "apps": "raw_apps", "grants": "grants"}


class Store:
    """The inventory database. ``Store.open(path)`` creates and migrates it."""

    def __init__(self, db: sqlite_utils.Database, clock: Callable[[], datetime] = utcnow):
        self.db = db
        self.clock = clock

    @classmethod
    def open(cls, path: Path | str, clock: Callable[[], datetime] = utcnow) -> Store:
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
            raise StoreError(
                f"{path}: cannot create the inventory: {err.strerror}; "
                f"the user running shadowit needs write access to {path.parent}"
            ) from None
        store = cls(db, clock)
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
                "warning_count=?, error=?, finished=? WHERE scan_id=? AND source=?",
                [
                    status,
                    stats.records,
                    dumps(stats.skipped),
                    dumps(stats.warnings),
                    stats.warning_count,
                    error,
                    iso(self.clock()),
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
            if r["host"] == host and r["pid"] != os.getpid() and not _process_alive(r["pid"])
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

    # -- ingest ---------------------------------------------------------------------------
    def ingest(
        self,
        scan_id: int,
        source: str,
        records: Iterable[SourceRecord],
        stats: IngestStats | None = None,
        on_commit: Callable[[IngestStats], None] | None = None,
    ) -> IngestStats:
        """Stream ``records`` into the store, committing at Checkpoints.

        A Checkpoint that carries a cursor or ends a complete listing is committed together
        with the records before it, at once. A plain page boundary is a commit point that is
        used once ``BATCH`` records are waiting, so a large tenant does not pay a commit per
        page. Exceptions from the generator propagate after what was already committed stays.
        Records buffered since the last commit are written before the exception propagates:
        they are upserts, so keeping them is safe and loses nothing. A write the store refused
        (a ``StoreError``: disk full, read-only, locked) is not tried again.
        """
        stats = stats if stats is not None else IngestStats()
        batch = _Batch()
        try:
            for record in records:
                if isinstance(record, Checkpoint):
                    if record.complete and record.stream in STREAMS:
                        stats.complete_streams.add((record.source, record.stream))
                    if record.cursor is None and not record.complete and batch.size < BATCH:
                        continue
                    self._commit(scan_id, batch, record)
                    if on_commit is not None:
                        on_commit(stats)
                    batch = _Batch()
                    continue
                if isinstance(record, Skipped):
                    text = f"{record.stream}: {record.reason}"
                    if text not in stats.skipped:
                        stats.skipped.append(text)
                    continue
                if isinstance(record, SourceWarning):
                    stats.warning_count += 1
                    if len(stats.warnings) < MAX_KEPT_WARNINGS:
                        stats.warnings.append(f"{record.stream}: {record.message}")
                    continue
                if batch.size and isinstance(record, Removed) != bool(batch.removed):
                    # Removals and upserts are written in the order they came, so "remove all
                    # of app X, then here are X's grants" and "granted, then revoked" both hold.
                    self._commit(scan_id, batch, None)
                    batch = _Batch()
                batch.add(record)
                stats.records += 1
                stats.record_sources.add(record.source)
                if batch.size >= 2 * BATCH:
                    self._commit(scan_id, batch, None)
                    batch = _Batch()
        except StoreError:
            raise  # the store refused a write: writing the rest would fail the same way
        except BaseException:
            if batch.size:
                self._commit(scan_id, batch, None)
            raise
        if batch.size:
            self._commit(scan_id, batch, None)
        return stats

    def _commit(self, scan_id: int, batch: _Batch, checkpoint: Checkpoint | None) -> None:
        now = iso(self.clock())
        with self.db.atomic():
            self._write_users(scan_id, now, batch.users)
            self._write_apps(scan_id, now, batch.apps)
            self._write_grants(scan_id, now, batch.grants)
            self._write_signins(scan_id, batch.signins)
            self._write_spend(scan_id, batch.spend)
            self._write_removed(scan_id, batch.removed)
            if checkpoint is not None and checkpoint.cursor is not None:
                self.db.execute(
                    "INSERT INTO checkpoints (source, stream, cursor, scan_id, updated) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, stream) DO UPDATE SET "
                    "cursor=excluded.cursor, scan_id=excluded.scan_id, updated=excluded.updated",
                    [checkpoint.source, checkpoint.stream, checkpoint.cursor, scan_id, now],
                )

    _SEEN_UPDATE = "last_seen=excluded.last_seen, last_scan=excluded.last_scan, gone_scan=NULL"

    def _write_users(self, scan_id: int, now: str | None, users: list[User]) -> None:
        if not users:
            return
        self.db.conn.executemany(
            "INSERT INTO users (source, id, email, display_name, department, job_title, groups, "
            "enabled, is_guest, is_admin, first_seen, last_seen, first_scan, last_scan) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (source, id) DO UPDATE SET "
            "email=excluded.email, display_name=excluded.display_name, "
            "department=excluded.department, job_title=excluded.job_title, "
            "groups=excluded.groups, enabled=excluded.enabled, is_guest=excluded.is_guest, "
            f"is_admin=excluded.is_admin, {self._SEEN_UPDATE}",
            [
                (
                    u.source,
                    u.id,
                    u.email.lower() if u.email else None,
                    u.display_name,
                    u.department,
                    u.job_title,
                    dumps(list(u.groups)),
                    int(u.enabled),
                    int(u.is_guest),
                    int(u.is_admin),
                    now,
                    now,
                    scan_id,
                    scan_id,
                )
                for u in users
            ],
        )

    def _write_apps(self, scan_id: int, now: str | None, apps: list[RawApp]) -> None:
        if not apps:
            return
        self.db.conn.executemany(
            "INSERT INTO raw_apps (source, client_id, name, kind, publisher, publisher_verified, "
            "publisher_tenant, homepage, reply_urls, domains, enabled, created, object_id, tags, "
            "first_seen, last_seen, first_scan, last_scan) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (source, client_id) DO UPDATE SET name=excluded.name, "
            "kind=excluded.kind, publisher=excluded.publisher, "
            "publisher_verified=excluded.publisher_verified, "
            "publisher_tenant=excluded.publisher_tenant, homepage=excluded.homepage, "
            "reply_urls=excluded.reply_urls, domains=excluded.domains, enabled=excluded.enabled, "
            "created=coalesce(excluded.created, raw_apps.created), "
            "object_id=excluded.object_id, tags=excluded.tags, "
            f"{self._SEEN_UPDATE}",
            [
                (
                    a.source,
                    a.client_id,
                    a.name,
                    a.kind,
                    a.publisher,
                    int(a.publisher_verified),
                    a.publisher_tenant,
                    a.homepage,
                    dumps(list(a.reply_urls)),
                    dumps(list(a.domains)),
                    int(a.enabled),
                    iso(a.created),
                    a.object_id,
                    dumps(list(a.tags)),
                    now,
                    now,
                    scan_id,
                    scan_id,
                )
                for a in apps
            ],
        )

    def _write_grants(self, scan_id: int, now: str | None, grants: list[Grant]) -> None:
        if not grants:
            return
        self.db.conn.executemany(
            "INSERT INTO grants (source, client_id, user_key, consent_type, resource, scopes, "
            "user_id, user_email, granted_at, first_seen, last_seen, first_scan, last_scan) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (source, client_id, user_key, consent_type, resource) DO UPDATE SET "
            "scopes=excluded.scopes, user_email=coalesce(excluded.user_email, grants.user_email), "
            "granted_at=coalesce(grants.granted_at, excluded.granted_at), "
            f"{self._SEEN_UPDATE}",
            [
                (
                    g.source,
                    g.client_id,
                    g.user_id or "*",
                    g.consent_type,
                    g.resource or "",
                    dumps(sorted(set(g.scopes))),
                    g.user_id,
                    g.user_email.lower() if g.user_email else None,
                    iso(g.granted_at),
                    now,
                    now,
                    scan_id,
                    scan_id,
                )
                for g in grants
            ],
        )

    def _write_signins(self, scan_id: int, signins: list[SignIn]) -> None:
        if not signins:
            return
        conn = self.db.conn
        floors: dict[str, str] = dict(conn.execute("SELECT source, day FROM signin_floors"))
        rows: dict[int, tuple[SignIn, str]] = {}
        below_floor = 0
        for s in signins:
            at = iso(s.at) or ""
            floor = floors.get(s.source)
            if floor is not None and at[:10] < floor:
                # Its key may have been pruned: it cannot be told from one already counted.
                below_floor += 1
                continue
            rows.setdefault(signin_key(s.source, s.event_id), (s, at))
        if below_floor:
            log.info(
                "not counted: %d sign-ins dated before the de-duplication floor of their "
                "source (older than [store] signin_retention_days when last pruned)",
                below_floor,
            )
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS incoming_keys (key INTEGER PRIMARY KEY, day TEXT)"
        )
        conn.execute("DELETE FROM incoming_keys")
        conn.executemany(
            "INSERT INTO incoming_keys VALUES (?, ?)", [(k, at[:10]) for k, (_, at) in rows.items()]
        )
        # Only keys never stored before come back from RETURNING (OR IGNORE skips the rest),
        # so a re-read overlap window or a repeated page cannot inflate usage.
        new_keys = conn.execute(
            "INSERT OR IGNORE INTO signin_keys (key, day) SELECT key, day FROM incoming_keys "
            "WHERE true RETURNING key"
        ).fetchall()
        fresh = [rows[k] for (k,) in new_keys]
        conn.executemany(
            "INSERT INTO signins (source, event_id, client_id, at, user_id, user_email, app_name, "
            "success, interactive, scan_id, kind) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    s.source,
                    s.event_id,
                    s.client_id,
                    at,
                    s.user_id,
                    s.user_email.lower() if s.user_email else None,
                    s.app_name,
                    int(s.success),
                    int(s.interactive),
                    scan_id,
                    s.kind,
                )
                for s, at in fresh
            ],
        )
        _write_signin_aggregates(conn, fresh)

    def _write_spend(self, scan_id: int, spend: list[Spend]) -> None:
        if not spend:
            return
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO spend (source, line_id, client_id, amount, currency, on_day, "
            "user_email, scan_id) VALUES (?,?,?,?,?,?,?,?)",
            [
                (
                    s.source,
                    s.line_id,
                    s.client_id,
                    s.amount,
                    s.currency,
                    s.on.isoformat(),
                    s.user_email.lower() if s.user_email else None,
                    scan_id,
                )
                for s in spend
            ],
        )

    def _write_removed(self, scan_id: int, removed: list[Removed]) -> None:
        for r in removed:
            if r.kind == "app":
                self.db.execute(
                    "UPDATE raw_apps SET gone_scan=? WHERE source=? AND client_id=? "
                    "AND gone_scan IS NULL",
                    [scan_id, r.source, r.client_id],
                )
                self.db.execute(
                    "UPDATE grants SET gone_scan=? WHERE source=? AND client_id=? "
                    "AND gone_scan IS NULL",
                    [scan_id, r.source, r.client_id],
                )
            elif r.kind == "grant":
                sql = "UPDATE grants SET gone_scan=? WHERE source=? AND gone_scan IS NULL"
                params: list[Any] = [scan_id, r.source]
                if r.client_id is not None:
                    sql += " AND client_id=?"
                    params.append(r.client_id)
                if r.user_id is not None:
                    sql += " AND user_key=?"
                    params.append(r.user_id)
                self.db.execute(sql, params)
            elif r.kind == "user":
                self.db.execute(
                    "UPDATE users SET gone_scan=? WHERE source=? AND id=? AND gone_scan IS NULL",
                    [scan_id, r.source, r.user_id],
                )

    def _mark_unseen_gone(self, scan_id: int, streams: set[tuple[str, str]]) -> None:
        for source, stream in sorted(streams):
            table = _STREAM_TABLE.get(stream)
            if table is None:
                continue
            self.db.execute(
                f"UPDATE {table} SET gone_scan=? WHERE source=? AND gone_scan IS NULL "
                "AND (last_scan IS NULL OR last_scan < ?)",
                [scan_id, source, scan_id],
            )

    # -- reads for the inventory ----------------------------------------------------------
    def current_raw_apps(self) -> Iterator[RawApp]:
        for r in self.db.query("SELECT * FROM raw_apps WHERE gone_scan IS NULL"):
            yield raw_app_from_row(r)

    def prune_signins(self, older_than_days: int) -> int:
        """Delete raw sign-in events older than the retention; daily counts stay.

        Their de-duplication keys go too, so each source that has counted events before the
        cutoff day gets that day as its floor: an event dated before its source's floor is not
        counted again when a later scan or import reads it once more.
        """
        cutoff = iso(self.clock() - timedelta(days=older_than_days)) or ""
        day = cutoff[:10]
        with self.db.atomic():
            cursor = self.db.execute("DELETE FROM signins WHERE at < ?", [cutoff])
            keys = self.db.execute("DELETE FROM signin_keys WHERE day < ?", [day])
            if keys.rowcount:
                self.db.execute(
                    "INSERT INTO signin_floors (source, day) SELECT source, ? FROM signin_daily "
                    "GROUP BY source HAVING min(day) < ? ON CONFLICT (source) DO UPDATE SET "
                    "day = max(signin_floors.day, excluded.day)",
                    [day, day],
                )
        return cursor.rowcount

    def signin_floors(self) -> dict[str, str]:
        """Source -> the day before which its sign-ins are no longer counted."""
        return dict(self.db.execute("SELECT source, day FROM signin_floors").fetchall())


# -- operational failures -----------------------------------------------------------------
# SQLite's primary result codes (https://www.sqlite.org/rescode.html); an extended code keeps
# its primary code in the low byte (SQLITE_READONLY_DIRECTORY = 1544 = 8 | 6 << 8).
_BUSY, _LOCKED, _READONLY, _IOERR, _FULL, _CANTOPEN = 5, 6, 8, 10, 13, 14
_BY_TEXT = {
    "database or disk is full": _FULL,
    "attempt to write a readonly database": _READONLY,
    "database is locked": _BUSY,
    "database table is locked": _LOCKED,
    "disk i/o error": _IOERR,
    "unable to open database file": _CANTOPEN,
}


def _primary_code(err: sqlite3.Error) -> int | None:
    code = getattr(err, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF
    text = str(err).lower()
    return next((c for t, c in _BY_TEXT.items() if text.startswith(t)), None)


def store_failure(
    path: Path, err: sqlite3.Error, db: InventoryDatabase | None = None
) -> StoreError | None:
    """The one-line StoreError for an operational failure of the store, None for any other
    error (a bug, which keeps its traceback). Whatever failed was rolled back by SQLite: the
    message says so, and never advises replacing a database that is only unwritable."""
    code = _primary_code(err)
    if code == _FULL:
        return StoreError(
            f"{path}: the disk is full (SQLite: {err}); nothing was written after the last "
            f"commit and the inventory is intact; free space on the filesystem holding "
            f"{path.parent} (a scan also grows {path.name}-wal) and run the command again"
        )
    if code == _READONLY:
        return StoreError(
            f"{path}: the inventory cannot be written ({err}): {_why_read_only(path)}"
        )
    if code in (_BUSY, _LOCKED):
        waited = db.busy_timeout_ms() if db is not None else None
        wait = f"{waited / 1000:g} s (the busy timeout)" if waited is not None else "a while"
        holder = db.lock_holder() if db is not None else None
        unknown = (
            "who holds it is not known (a `shadowit serve`, `sanction` or `accept`, a backup "
            "or a sqlite3 shell may)"
        )
        return StoreError(
            f"{path}: the inventory is locked by another process: {holder or unknown}; waited "
            f"{wait} for it; nothing was written; run the command again when it has finished"
        )
    if code == _IOERR:
        return StoreError(
            f"{path}: disk I/O error ({err}); SQLite rolled back the unfinished write; check "
            f"the disk and the system log, then run the command again"
        )
    if code == _CANTOPEN:
        return StoreError(
            f"{path}: SQLite cannot open the inventory or its {path.name}-wal/-shm files "
            f"({err}); check that {path.parent} exists and that the user running shadowit may "
            "read and write there"
        )
    return None


def _why_read_only(path: Path) -> str:
    """What makes the store unwritable, and the fix; the database itself is fine."""
    intact = "the inventory itself is intact and nothing was written"
    folder = path.parent
    try:
        mounted_read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        mounted_read_only = False
    if mounted_read_only:
        return (
            f"the filesystem holding {folder} is mounted read-only; remount it read-write, or "
            f"copy {path.name} to a writable folder and point [store] path at the copy; {intact}"
        )
    if path.exists() and not os.access(path, os.W_OK):
        return (
            f"the file is read-only for this user (mode {path.stat().st_mode & 0o777:o}); give "
            f"the user running shadowit write access to it (chmod u+w, or run as its owner); "
            f"{intact}"
        )
    if not os.access(folder, os.W_OK):
        return (
            f"its folder {folder} is not writable for this user, and SQLite keeps "
            f"{path.name}-wal and {path.name}-shm next to the database; give the user running "
            f"shadowit write access to {folder}; {intact}"
        )
    return (
        f"check that {path.name}, {path.name}-wal and {path.name}-shm in {folder} are writable "
        f"by the user running shadowit; {intact}"
    )


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    except OSError:
        return True  # cannot tell: never end a scan that may still be running
    return True


def _close_quietly(db: sqlite_utils.Database | None) -> None:
    if db is not None:
        with contextlib.suppress(sqlite3.Error):
            db.close()


class InventoryDatabase(sqlite_utils.Database):
    """The inventory's connection: every write through ``execute`` or ``atomic`` (whoever
    calls them) turns a full disk, a read-only file or folder, a lock held too long or an I/O
    error into one ``StoreError`` naming the file and the fix."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(path)

    def execute(
        self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None
    ) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.OperationalError as err:
            mapped = store_failure(self.path, err, self)
            if mapped is None:
                raise
            raise mapped from None

    @contextlib.contextmanager
    def atomic(self) -> Generator[sqlite_utils.Database, None, None]:
        try:
            with super().atomic() as db:
                yield db
        except sqlite3.OperationalError as err:
            mapped = store_failure(self.path, err, self)
            if mapped is None:
                raise
            raise mapped from None

    def busy_timeout_ms(self) -> int | None:
        try:
            return int(self.conn.execute("PRAGMA busy_timeout").fetchone()[0])
        except sqlite3.Error:
            return None

    def lock_holder(self) -> str | None:
        """A running shadowit scan of another live process on this host, when there is one."""
        try:
            rows = self.conn.execute(
                "SELECT id, pid, host FROM scan_runs WHERE status='running' AND pid IS NOT NULL "
                "ORDER BY id DESC"
            ).fetchall()
        except sqlite3.Error:
            return None
        host = socket.gethostname()
        for scan_id, pid, run_host in rows:
            if run_host == host and pid != os.getpid() and _process_alive(pid):
                return f"shadowit scan {scan_id} (pid {pid}) holds it"
        return None


def raw_app_from_row(r: dict[str, Any]) -> RawApp:
    return RawApp(
        source=r["source"],
        client_id=r["client_id"],
        name=r["name"],
        kind=r["kind"] or "oauth",
        publisher=r["publisher"],
        publisher_verified=bool(r["publisher_verified"]),
        publisher_tenant=r["publisher_tenant"],
        homepage=r["homepage"],
        reply_urls=tuple(loads(r["reply_urls"], [])),
        domains=tuple(loads(r["domains"], [])),
        enabled=bool(r["enabled"]),
        created=parse_iso(r["created"]),
        object_id=r["object_id"],
        tags=tuple(loads(r["tags"], [])),
    )


def _write_signin_aggregates(conn: sqlite3.Connection, fresh: list[tuple[SignIn, str]]) -> None:
    """Add newly counted events to the daily counts per (source, app, person, day), successful
    and failed apart, and to the app's evidence per (source, app, kind).

    ``last_at`` of a day is its last *successful* sign-in (NULL when all failed). An
    ``activity`` event (a per-app "last use" report) is evidence of use but no sign-in of
    anyone: it moves only its app's evidence."""
    daily: dict[tuple[str, str, str, str], list[Any]] = {}
    evidence: dict[tuple[str, str, str], list[Any]] = {}
    for s, at in fresh:
        ev = evidence.get((s.source, s.client_id, s.kind))
        if ev is None:
            evidence[(s.source, s.client_id, s.kind)] = [s.app_name, 1, int(not s.success), at, at]
        else:
            ev[0] = ev[0] or s.app_name
            ev[1] += 1
            ev[2] += int(not s.success)
            ev[3] = min(ev[3], at)
            ev[4] = max(ev[4], at)
        if s.kind == "activity":
            continue
        key = (s.source, s.client_id, _person_key(s.user_email, s.user_id), at[:10])
        entry = daily.get(key)
        if entry is None:
            entry = daily[key] = [0, 0, None]
        if s.success:
            entry[0] += 1
            if entry[2] is None or at > entry[2]:
                entry[2] = at
        else:
            entry[1] += 1
    conn.executemany(
        "INSERT INTO signin_daily (source, client_id, user_key, day, count, failures, last_at) "
        "VALUES (?,?,?,?,?,?,?) ON CONFLICT (source, client_id, user_key, day) DO UPDATE SET "
        "count = signin_daily.count + excluded.count, "
        "failures = signin_daily.failures + excluded.failures, "
        "last_at = nullif(max(coalesce(signin_daily.last_at, ''), coalesce(excluded.last_at, '')), "
        "'')",
        [(*key, ok, failed, last) for key, (ok, failed, last) in daily.items()],
    )
    conn.executemany(
        "INSERT INTO app_evidence (source, client_id, kind, name, events, failures, first_at, "
        "last_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (source, client_id, kind) DO UPDATE SET "
        "name = coalesce(excluded.name, app_evidence.name), "
        "events = app_evidence.events + excluded.events, "
        "failures = app_evidence.failures + excluded.failures, "
        "first_at = min(coalesce(app_evidence.first_at, excluded.first_at), excluded.first_at), "
        "last_at = max(coalesce(app_evidence.last_at, excluded.last_at), excluded.last_at)",
        [
            (*key, name, n, failed, first, last)
            for key, (name, n, failed, first, last) in evidence.items()
        ],
    )


def _person_key(email: str | None, user_id: str | None) -> str:
    if email:
        return email.lower()
    if user_id:
        return f"id:{user_id}"
    return "*"


class _Batch:
    """Records buffered between two commits, by table."""

    def __init__(self) -> None:
        self.size = 0
        self.users: list[User] = []
        self.apps: list[RawApp] = []
        self.grants: list[Grant] = []
        self.signins: list[SignIn] = []
        self.spend: list[Spend] = []
        self.removed: list[Removed] = []

    def add(self, record: SourceRecord) -> None:
        self.size += 1
        if isinstance(record, SignIn):
            self.signins.append(record)
        elif isinstance(record, User):
            self.users.append(record)
        elif isinstance(record, RawApp):
            self.apps.append(record)
        elif isinstance(record, Grant):
            self.grants.append(record)
        elif isinstance(record, Spend):
            self.spend.append(record)
        elif isinstance(record, Removed):
            self.removed.append(record)
        else:
            raise TypeError(f"not a source record: {type(record).__name__}")

    def __len__(self) -> int:
        return self.size
