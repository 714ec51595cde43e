"""The floor of the sign-in pipeline: only decode + dict aggregate + SQLite upsert.

    python -m bench.floor --events 200000 --db /tmp/floor.db

On the same generated pages as bench/pipeline.py (bench/pages.py: Graph sign-in answers in the
full documented shape, as bytes), each page is decoded with the standard library's
``json.loads`` and, apart, with ``orjson.loads``; the events are counted in a dict keyed
(app, person, day) -> [successes, failures, last successful time]; and each page's rows are
upserted into one SQLite table shaped like ``signin_daily`` (WAL, ``synchronous=NORMAL``, a
commit every 5 pages as the store commits every 5,000 records). Nothing else: no records, no
de-duplication, no evidence, no resolve. The pipeline figure is printed as a ratio to it.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from bench.pages import CLOCKS, SignInPages
from bench.tenant import SIZES, EntraTenant

COMMIT_PAGES = 5
"""Pages a transaction: the store commits at 5,000 records (scanner/store/ingest.py BATCH)."""

UPSERT = (
    "INSERT INTO daily (client_id, user_key, day, count, failures, last_at) VALUES (?,?,?,?,?,?) "
    "ON CONFLICT (client_id, user_key, day) DO UPDATE SET count = daily.count + excluded.count, "
    "failures = daily.failures + excluded.failures, "
    "last_at = max(coalesce(daily.last_at, ''), coalesce(excluded.last_at, ''))"
)


def aggregate(items: Iterable[dict[str, Any]]) -> dict[tuple[str, str, str], list[Any]]:
    """One page's events to (app, person, day) -> [successes, failures, last success]."""
    daily: dict[tuple[str, str, str], list[Any]] = {}
    for item in items:
        at = item["createdDateTime"]
        person = (item.get("userPrincipalName") or "").lower()
        key = (item["appId"], person, at[:10])
        entry = daily.get(key)
        if entry is None:
            entry = daily[key] = [0, 0, None]
        if item["status"]["errorCode"] == 0:
            entry[0] += 1
            if entry[2] is None or at > entry[2]:
                entry[2] = at
        else:
            entry[1] += 1
    return daily


def measure(pages: SignInPages, db_path: Path) -> dict[str, Any]:
    """One pass over ``pages``: the seconds of each step, summed over pages."""
    for stale in db_path.parent.glob(db_path.name + "*"):
        stale.unlink()
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE daily (client_id TEXT, user_key TEXT, day TEXT, count INTEGER, "
        "failures INTEGER, last_at TEXT, PRIMARY KEY (client_id, user_key, day))"
    )
    spent = {"json_loads": 0.0, "orjson_loads": 0.0, "aggregate": 0.0, "upsert": 0.0}
    rows = 0
    clock = pages.clock
    for n, body in enumerate(pages):
        t0 = clock()
        json.loads(body)
        t1 = clock()
        decoded = orjson.loads(body)
        t2 = clock()
        daily = aggregate(decoded["value"])
        t3 = clock()
        del decoded  # freed here, as json.loads' result is freed inside its own timing
        spent["orjson_loads"] += clock() - t3
        t3 = clock()
        if n % COMMIT_PAGES == 0:
            conn.execute("BEGIN")
        conn.executemany(UPSERT, [(*k, *v) for k, v in daily.items()])
        if n % COMMIT_PAGES == COMMIT_PAGES - 1:
            conn.execute("COMMIT")
        t4 = clock()
        rows += len(daily)
        spent["json_loads"] += t1 - t0
        spent["orjson_loads"] += t2 - t1
        spent["aggregate"] += t3 - t2
        spent["upsert"] += t4 - t3
    t0 = clock()
    if conn.in_transaction:
        conn.execute("COMMIT")
    spent["upsert"] += clock() - t0
    conn.close()
    events = pages.events
    floor_json = spent["json_loads"] + spent["aggregate"] + spent["upsert"]
    floor_orjson = spent["orjson_loads"] + spent["aggregate"] + spent["upsert"]
    return {
        "events": events,
        "bytes_per_event": pages.bytes_per_event,
        "pages_crc": pages.crc,
        "upserted_rows": rows,
        **{f"{step}_s": round(s, 3) for step, s in spent.items()},
        **{
            f"{step}_events_per_s": round(events / max(s, 1e-9))
            for step, s in spent.items()
            if step != "upsert"
        },
        "upsert_rows_per_s": round(rows / max(spent["upsert"], 1e-9)),
        "floor_json_s": round(floor_json, 3),
        "floor_orjson_s": round(floor_orjson, 3),
        "floor_json_events_per_s": round(events / max(floor_json, 1e-9)),
        "floor_orjson_events_per_s": round(events / max(floor_orjson, 1e-9)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--size", default="large", choices=sorted(SIZES))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--clock", default="wall", choices=sorted(CLOCKS))
    args = parser.parse_args(argv)
    tenant = EntraTenant(replace(SIZES[args.size], signins=args.events), seed=args.seed)
    pages = SignInPages(tenant, args.events, clock=CLOCKS[args.clock])
    print(json.dumps({"clock": args.clock, **measure(pages, args.db)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
