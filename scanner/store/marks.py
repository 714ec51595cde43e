"""Sign-in de-duplication by watermark: what each event stream has already counted.

An IdP's sign-in log is read as a listing ordered by time (Graph newest first, the Okta System
Log oldest first, the Admin SDK activities newest first per application), from the stream's
cursor to now. So what a stream has counted is a time range, not a set of ids: every event of
a *lane* (record source, stream, kind, interactive) strictly inside a counted range was counted,
and at the range's two boundary seconds the ids counted there are kept (a listing that resumes
at a second, or a second cut between two pages, holds events counted and not counted yet).

Each ``ingest()`` call is one *listing* and grows its own range page by page in the same
transaction as the page, so a scan killed mid-listing leaves the range it did count, and the
resumed scan skips it. When the stream's cursor is committed (its listing ended), the ranges
of its lanes fold into the lane's watermark (listing 0). Table ``signin_marks`` (migration 12).

Events of the other kinds (``usage`` rows of an imported file, which come in no order and are
re-imported whole when the file changes; ``activity``, one row per app in no order) keep their
64-bit keys in ``signin_keys``, and so do the events of a stream whose pages say they can
arrive late (``Checkpoint.late_minutes``: Google's audit log shows an event some minutes after
it happened, and the connector re-reads that stretch): a late event inside a counted range
would be lost to a watermark, never to its key.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field

WATERMARK_KINDS = frozenset({"sign_in", "sso", "saml"})
"""Kinds read from time-ordered logs: de-duplicated by watermark."""

SEED_STREAM = "*"
"""The stream of a watermark seeded from an older store's counts: it holds for every stream."""

Lane = tuple[str, str, str, bool]
"""(record source, stream, kind, interactive)."""


@dataclass
class Range:
    """A counted time range of one lane, by second (ISO ``YYYY-MM-DDTHH:MM:SS``)."""

    lo: str
    hi: str
    lo_ids: set[str] = field(default_factory=set)
    hi_ids: set[str] = field(default_factory=set)

    def covers(self, second: str, event_id: str) -> bool:
        if self.lo < second < self.hi:
            return True
        if second == self.lo and event_id in self.lo_ids:
            return True
        return second == self.hi and event_id in self.hi_ids

    def add(self, second: str, event_id: str) -> None:
        """Grow the range to an event counted next to it in an ordered listing."""
        if second < self.lo:
            self.lo, self.lo_ids = second, {event_id}
        elif second == self.lo:
            self.lo_ids.add(event_id)
        if second > self.hi:
            self.hi, self.hi_ids = second, {event_id}
        elif second == self.hi:
            self.hi_ids.add(event_id)

    def merge(self, other: Range) -> None:
        if other.lo < self.lo:
            self.lo, self.lo_ids = other.lo, set(other.lo_ids)
        elif other.lo == self.lo:
            self.lo_ids |= other.lo_ids
        if other.hi > self.hi:
            self.hi, self.hi_ids = other.hi, set(other.hi_ids)
        elif other.hi == self.hi:
            self.hi_ids |= other.hi_ids


class Marks:
    """The counted ranges of every lane, loaded once per ``ingest()`` call; ``listing`` is the
    call's own number, under which its ranges are written."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.ranges: dict[Lane, dict[int, Range]] = {}
        self.seeds: dict[tuple[str, str], Range] = {}
        for source, stream, kind, interactive, listing, lo, hi, lo_ids, hi_ids in conn.execute(
            "SELECT source, stream, kind, interactive, listing, lo, hi, lo_ids, hi_ids "
            "FROM signin_marks"
        ):
            found = Range(lo, hi, set(json.loads(lo_ids)), set(json.loads(hi_ids)))
            if stream == SEED_STREAM:
                self.seeds[(source, kind)] = found
            else:
                self.ranges.setdefault((source, stream, kind, bool(interactive)), {})[listing] = (
                    found
                )
        row = conn.execute("SELECT coalesce(max(listing), 0) + 1 FROM signin_marks").fetchone()
        self.listing = int(row[0])
        self.dirty: set[tuple[Lane, int]] = set()
        self.gone: set[tuple[Lane, int]] = set()

    def own_ranges(self, lane: Lane) -> list[Range]:
        """The ranges this store counted by watermark (every event inside was counted)."""
        return list(self.ranges.get(lane, {}).values())

    def seed(self, lane: Lane) -> Range | None:
        """The range an older store counted by event key (migration 13): an event inside it
        was counted only if its key is stored, as a listing that never finished (Graph's,
        newest first) left pages inside the range unread."""
        return self.seeds.get((lane[0], lane[2]))

    def own(self, lane: Lane, second: str, event_id: str) -> Range:
        """This listing's range of ``lane``, created at its first event."""
        listings = self.ranges.setdefault(lane, {})
        mine = listings.get(self.listing)
        if mine is None:
            mine = listings[self.listing] = Range(second, second, {event_id}, {event_id})
        self.dirty.add((lane, self.listing))
        return mine

    def fold(self, sources: Iterable[str], stream: str) -> None:
        """The stream's listing ended: its lanes' ranges become each lane's one watermark."""
        wanted = set(sources)
        for lane, listings in self.ranges.items():
            if lane[0] not in wanted or lane[1] != stream or set(listings) <= {0}:
                continue
            merged: Range | None = listings.get(0)
            for listing in sorted(listings):
                if listing == 0:
                    continue
                found = listings[listing]
                if merged is None:
                    merged = Range(found.lo, found.hi, set(found.lo_ids), set(found.hi_ids))
                else:
                    merged.merge(found)
                self.gone.add((lane, listing))
                self.dirty.discard((lane, listing))
            assert merged is not None
            self.ranges[lane] = {0: merged}
            self.dirty.add((lane, 0))

    def write(self) -> None:
        """Save the ranges changed since the last write (inside the caller's transaction)."""
        if self.gone:
            self.conn.executemany(
                "DELETE FROM signin_marks WHERE source=? AND stream=? AND kind=? AND "
                "interactive=? AND listing=?",
                [(*lane[:3], int(lane[3]), listing) for lane, listing in self.gone],
            )
        if self.dirty:
            self.conn.executemany(
                "INSERT INTO signin_marks (source, stream, kind, interactive, listing, lo, hi, "
                "lo_ids, hi_ids) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (source, stream, kind, "
                "interactive, listing) DO UPDATE SET lo=excluded.lo, hi=excluded.hi, "
                "lo_ids=excluded.lo_ids, hi_ids=excluded.hi_ids",
                [
                    (
                        *lane[:3],
                        int(lane[3]),
                        listing,
                        r.lo,
                        r.hi,
                        json.dumps(sorted(r.lo_ids)),
                        json.dumps(sorted(r.hi_ids)),
                    )
                    for lane, listing in self.dirty
                    for r in (self.ranges[lane][listing],)
                ],
            )
        self.gone.clear()
        self.dirty.clear()
