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

import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from scanner import migrations
from scanner.errors import StoreError
from scanner.migrations import signin_key
from scanner.models import (
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

log = logging.getLogger(__name__)

BATCH = 5000
"""Records waiting before a page boundary is used as a commit point."""
MAX_KEPT_WARNINGS = 200


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
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fresh = not path.exists()
            if fresh:
                # Owner-only from the first byte: the inventory says who granted what.
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            db = sqlite_utils.Database(path)
            with db.ensure_autocommit_on():
                db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=10000")
            # 64 MiB of page cache keeps the sign-in key index of a large tenant in memory.
            db.execute("PRAGMA cache_size=-65536")
            migrations.migrate(db)
        except sqlite3.DatabaseError as err:
            raise StoreError(
                f"{path}: cannot open the inventory database ({err}); "
                "restore it from a backup or move it aside to start a new inventory"
            ) from None
        except OSError as err:
            raise StoreError(f"{path}: cannot create the inventory: {err.strerror}") from None
        return cls(db, clock)

    def close(self) -> None:
        self.db.close()

    # -- scan runs ------------------------------------------------------------------------
    def begin_scan(self, full: bool = False, note: str | None = None) -> int:
        with self.db.atomic():
            cursor = self.db.execute(
                "INSERT INTO scan_runs (started, status, full, note) VALUES (?, 'running', ?, ?)",
                [iso(self.clock()), int(full), note],
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

    def latest_scan(self) -> int | None:
        row = self.db.execute("SELECT max(id) FROM scan_runs WHERE status='finished'").fetchone()
        return int(row[0]) if row and row[0] is not None else None

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
        they are upserts, so keeping them is safe and loses nothing.
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
        finally:
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
        rows: dict[int, tuple[SignIn, str]] = {}
        for s in signins:
            at = iso(s.at) or ""
            rows.setdefault(signin_key(s.source, s.event_id), (s, at))
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
            "success, interactive, scan_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
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
                )
                for s, at in fresh
            ],
        )
        daily: dict[tuple[str, str, str, str], list[Any]] = {}
        for s, at in fresh:
            key = (s.source, s.client_id, _person_key(s.user_email, s.user_id), at[:10])
            entry = daily.get(key)
            if entry is None:
                daily[key] = [1, at]
            else:
                entry[0] += 1
                if at > entry[1]:
                    entry[1] = at
        conn.executemany(
            "INSERT INTO signin_daily (source, client_id, user_key, day, count, last_at) "
            "VALUES (?,?,?,?,?,?) ON CONFLICT (source, client_id, user_key, day) DO UPDATE SET "
            "count = signin_daily.count + excluded.count, "
            "last_at = max(signin_daily.last_at, excluded.last_at)",
            [(*key, count, last) for key, (count, last) in daily.items()],
        )

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
        """Delete raw sign-in events older than the retention; daily counts stay."""
        cutoff = iso(self.clock() - timedelta(days=older_than_days)) or ""
        with self.db.atomic():
            cursor = self.db.execute("DELETE FROM signins WHERE at < ?", [cutoff])
            self.db.execute("DELETE FROM signin_keys WHERE day < ?", [cutoff[:10]])
        return cursor.rowcount


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
