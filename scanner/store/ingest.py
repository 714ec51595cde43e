"""The record-ingest path of ``Store``: batches, upserts, sign-in de-duplication and daily
aggregates, checkpoints, removals and complete listings.

``ingest()`` streams a connector's records in batches and commits at each ``Checkpoint`` (the
cursor is saved in the same transaction as the page before it), so an interrupted scan resumes
at the last committed page and, because every write is an upsert on a natural key and sign-ins
are de-duplicated against their stream's watermark (``scanner.store.marks``; file rows and
per-app activity by event key), counts nothing twice. A sign-in belongs to the stream of the
Checkpoint that ends its page; sign-ins of an unfinished page are not written.

An item of a current-state table is gone only when a *complete* listing of its stream did not
contain it (``_mark_unseen_gone``, when its source ends), or the source said it was removed.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
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
    SignInDay,
    Skipped,
    SourceRecord,
    SourceWarning,
    Spend,
    User,
)
from scanner.store.daytotals import write_day_totals
from scanner.store.marks import WATERMARK_KINDS, Lane, Marks, Range
from scanner.store.migrations import signin_key
from scanner.store.values import dumps, iso

# The Store's logger: these lines are the store's, whichever of its modules writes them.
log = logging.getLogger("scanner.store.database")

BATCH = 5000
"""Records waiting before a page boundary is used as a commit point."""
MAX_KEPT_WARNINGS = 200


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


class RecordIngest:
    """The record-ingest half of ``Store``, its subclass, which provides ``db`` and ``clock``."""

    db: sqlite_utils.Database
    clock: Callable[[], datetime]
    raw_signin_days: int
    """Raw sign-in events are written only when > 0 (``[store] raw_signin_days``)."""

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
        marks = Marks(self.db.conn)
        try:
            for record in records:
                if isinstance(record, Checkpoint):
                    batch.tag(record.stream, record.late_minutes > 0)
                    if record.complete and record.stream in STREAMS:
                        stats.complete_streams.add((record.source, record.stream))
                    if record.cursor is None and not record.complete and batch.size < BATCH:
                        continue
                    self._commit(scan_id, batch, marks, record, stats.record_sources)
                    if on_commit is not None:
                        on_commit(stats)
                    batch = batch.carry()
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
                    self._commit(scan_id, batch, marks)
                    batch = batch.carry()
                batch.add(record)
                stats.records += 1
                stats.record_sources.add(record.source)
                if batch.size >= 2 * BATCH:
                    self._commit(scan_id, batch, marks)
                    batch = batch.carry()
        except StoreError:
            raise  # the store refused a write: writing the rest would fail the same way
        except BaseException:
            # An unfinished page's sign-ins are left for the resumed scan to read again.
            batch.drop_untagged()
            if batch.size:
                self._commit(scan_id, batch, marks)
            raise
        batch.tag("")  # records fed without Checkpoints (a list, a test): one unnamed stream
        if batch.size:
            self._commit(scan_id, batch, marks)
        return stats

    def _commit(
        self,
        scan_id: int,
        batch: _Batch,
        marks: Marks,
        checkpoint: Checkpoint | None = None,
        record_sources: set[str] | None = None,
    ) -> None:
        now = iso(self.clock())
        with self.db.atomic():
            self._write_users(scan_id, now, batch.users)
            self._write_apps(scan_id, now, batch.apps)
            self._write_grants(scan_id, now, batch.grants)
            self._write_signins(scan_id, batch.pages, marks, batch.late)
            write_day_totals(self.db.conn, batch.days)
            self._write_spend(scan_id, batch.spend)
            self._write_removed(scan_id, batch.removed)
            if checkpoint is not None and checkpoint.cursor is not None:
                # The stream's listing ended: what it counted becomes its watermark.
                marks.fold({checkpoint.source, *(record_sources or ())}, checkpoint.stream)
            marks.write()
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
            "enabled, is_guest, is_admin, aliases, first_seen, last_seen, first_scan, "
            "last_scan) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (source, id) DO UPDATE SET "
            "email=excluded.email, display_name=excluded.display_name, "
            "department=excluded.department, job_title=excluded.job_title, "
            "groups=excluded.groups, enabled=excluded.enabled, is_guest=excluded.is_guest, "
            f"is_admin=excluded.is_admin, aliases=excluded.aliases, {self._SEEN_UPDATE}",
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
                    dumps(_aliases(u)) if u.aliases else None,
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

    def _write_signins(
        self,
        scan_id: int,
        pages: list[tuple[str, list[SignIn]]],
        marks: Marks,
        late: list[SignIn],
    ) -> None:
        if not pages and not late:
            return
        fresh: list[tuple[SignIn, str]] = []
        keyed: list[SignIn] = list(late)
        for stream, signins in pages:
            _count_page(marks, stream, signins, fresh, keyed)
        if keyed:
            fresh.extend(self._fresh_by_key(keyed))
        if self.raw_signin_days > 0:
            self._write_raw_signins(scan_id, fresh)
        _write_signin_aggregates(self.db.conn, fresh)

    def _fresh_by_key(self, signins: list[SignIn]) -> list[tuple[SignIn, str]]:
        """File rows and per-app activity not counted before, by their 64-bit event key."""
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
        return [rows[k] for (k,) in new_keys]

    def _write_raw_signins(self, scan_id: int, fresh: list[tuple[SignIn, str]]) -> None:
        """Raw events for investigation; no figure is computed from them."""
        self.db.conn.executemany(
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


def _count_page(
    marks: Marks,
    stream: str,
    signins: list[SignIn],
    fresh: list[tuple[SignIn, str]],
    keyed: list[SignIn],
) -> None:
    """Sort one page of ``stream``: events no counted range of their lane covers go to
    ``fresh`` (and grow this listing's range), events of the keyed kinds to ``keyed``.

    Each event is checked against the ranges as they stood before the page, so the order of
    events inside a page does not matter; an id twice in the page counts once."""
    before: dict[Lane, tuple[list[Range], Range | None]] = {}
    counted: dict[Lane, list[tuple[str, str]]] = {}
    seen: set[tuple[Lane, str]] = set()
    for s in signins:
        if s.kind not in WATERMARK_KINDS:
            keyed.append(s)
            continue
        at = iso(s.at) or ""
        second = at[:19]
        lane: Lane = (s.source, stream, s.kind, s.interactive)
        known = before.get(lane)
        if known is None:
            known = before[lane] = (
                [Range(r.lo, r.hi, set(r.lo_ids), set(r.hi_ids)) for r in marks.own_ranges(lane)],
                marks.seed(lane),
            )
        ranges, seed = known
        event_id = s.event_id
        if (lane, event_id) in seen or any(r.covers(second, event_id) for r in ranges):
            continue
        if seed is not None and seed.lo <= second <= seed.hi:
            # Inside what an older store counted by key: its keys still tell what it counted
            # (a listing it never finished left a gap the seeded range cannot show).
            seen.add((lane, event_id))
            keyed.append(s)
            continue
        seen.add((lane, event_id))
        fresh.append((s, at))
        counted.setdefault(lane, []).append((second, event_id))
    for lane, events in counted.items():
        own = marks.own(lane, *events[0])
        for second, event_id in events:
            own.add(second, event_id)


def _write_signin_aggregates(conn: sqlite3.Connection, fresh: list[tuple[SignIn, str]]) -> None:
    """Add newly counted events to the daily counts per (source, app, person, day), successful
    and failed apart, and to the app's evidence per (source, app, kind).

    ``last_at`` of a day is its last *successful* sign-in (NULL when all failed). An
    ``activity`` event (a per-app "last use" report) is evidence of use but no sign-in of
    anyone: it moves only its app's evidence."""
    daily: dict[tuple[str, str, str, str], list[Any]] = {}
    evidence: dict[tuple[str, str, str], list[Any]] = {}
    for s, at in fresh:
        source, client_id, kind = s.source, s.client_id, s.kind
        ev = evidence.get((source, client_id, kind))
        if ev is None:
            evidence[(source, client_id, kind)] = [s.app_name, 1, int(not s.success), at, at]
        else:
            if ev[0] is None:
                ev[0] = s.app_name
            ev[1] += 1
            if not s.success:
                ev[2] += 1
            if at < ev[3]:
                ev[3] = at
            elif at > ev[4]:
                ev[4] = at
        if kind == "activity":
            continue
        email = s.user_email
        person = email.lower() if email else f"id:{s.user_id}" if s.user_id else "*"
        key = (source, client_id, person, at[:10])
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


def _aliases(user: User) -> list[str]:
    """The user's other addresses, lower-case, without their primary one, each once."""
    primary = (user.email or "").lower()
    return sorted({a.lower() for a in user.aliases if a and a.lower() != primary})


class _Batch:
    """Records buffered between two commits, by table."""

    def __init__(self) -> None:
        self.size = 0
        self.users: list[User] = []
        self.apps: list[RawApp] = []
        self.grants: list[Grant] = []
        self.pending: list[SignIn] = []
        """Sign-ins whose page has not ended yet: no stream known."""
        self.pages: list[tuple[str, list[SignIn]]] = []
        """Ended pages of sign-ins, each with the stream its Checkpoint named."""
        self.late: list[SignIn] = []
        """Ended pages' sign-ins of streams whose events arrive late: counted by id."""
        self.days: list[SignInDay] = []
        self.spend: list[Spend] = []
        self.removed: list[Removed] = []

    def add(self, record: SourceRecord) -> None:
        self.size += 1
        if isinstance(record, SignIn):
            self.pending.append(record)
        elif isinstance(record, SignInDay):
            self.days.append(record)
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

    def tag(self, stream: str, late: bool = False) -> None:
        """The page just ended belongs to ``stream`` (``late``: one whose events arrive late,
        ``Checkpoint.late_minutes``)."""
        if self.pending:
            if late:
                self.late.extend(self.pending)
            else:
                self.pages.append((stream, self.pending))
            self.pending = []

    def carry(self) -> _Batch:
        """The next batch, holding this one's unfinished page (written with its page's end)."""
        following = _Batch()
        following.pending = self.pending
        following.size = len(self.pending)
        self.pending = []
        return following

    def drop_untagged(self) -> None:
        """Forget the unfinished page's sign-ins (read again when the scan resumes)."""
        self.size -= len(self.pending)
        self.pending = []

    def __len__(self) -> int:
        return self.size
