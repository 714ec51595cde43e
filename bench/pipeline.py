"""The sign-in pipeline in one process, without HTTP: decode -> parse -> store -> resolve ->
reconcile, then the floor script on the same pages.

    python -m bench.pipeline --events 1000000 --db /tmp/pipeline.db [--no-floor]

Makes the seeded large tenant's sign-ins (bench/tenant.py, full documented shape) lazily as
Graph answers, 1,000 a page, as bytes (bench/pages.py); decodes each page as the connector does
(``scanner.net.jsonbody.decode_json``), parses each item with ``connectors.entra.parse_signin``,
streams them into ``scanner.store.database.Store.ingest`` with a Checkpoint every page and the
cursor at the end, then runs ``scanner.analysis.inventory.build`` (resolve, aggregate, classify)
and ``scanner.analysis.reconcile.reconcile``. The tenant's service principals are stored first
so sign-ins resolve to apps. Making the pages is timed and left out of the scanner's figure.
Then bench/floor.py runs on the same pages (same seed; the CRC of the bytes is compared) and
the pipeline is given as a ratio to it. Prints one JSON line; bench/run.py runs it as a child
process so the peak RSS it reads is this pipeline's own.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from bench import floor
from bench.pages import CLOCKS, SignInPages
from bench.tenant import SIZES, EntraTenant
from connectors.entra import SOURCE, graph_time, parse_app, parse_signin
from scanner.analysis import inventory
from scanner.analysis.catalog import Catalog
from scanner.analysis.reconcile import Context, reconcile
from scanner.analysis.risk import ScopeTable
from scanner.app.config import OrganisationSettings
from scanner.core.models import Checkpoint, SourceRecord
from scanner.store.database import Store

try:
    from scanner.net.jsonbody import decode_json as decode
except ImportError:  # a tree from before orjson decoding: requests' ``.json()`` used json.loads
    decode = json.loads

ROOT = Path(__file__).resolve().parents[1]


def app_records(tenant: EntraTenant) -> Iterator[SourceRecord]:
    for index in range(tenant.service_principal_count):
        yield parse_app(tenant.service_principal(index))
    yield Checkpoint(SOURCE, "apps")


def signin_records(pages: SignInPages) -> Iterator[SourceRecord]:
    """The pages' sign-ins, newest first, decoded and parsed as the Entra connector does."""
    newest = None
    for body in pages:
        for raw in decode(body)["value"]:
            signin = parse_signin(raw)
            if newest is None or signin.at > newest:
                newest = signin.at
            yield signin
        yield Checkpoint(SOURCE, "signins")
    yield Checkpoint(SOURCE, "signins", cursor=graph_time(newest) if newest else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--size", default="large", choices=sorted(SIZES))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--no-floor", action="store_true", help="skip the floor script")
    parser.add_argument(
        "--clock", default="wall", choices=sorted(CLOCKS), help="seconds of the figures"
    )
    args = parser.parse_args(argv)

    tenant = EntraTenant(replace(SIZES[args.size], signins=args.events), seed=args.seed)
    for stale in args.db.parent.glob(args.db.name + "*"):
        stale.unlink()
    clock = CLOCKS[args.clock]
    pages = SignInPages(tenant, args.events, clock=clock)
    started = clock()
    store = Store.open(args.db)
    try:
        scan = store.begin_scan()
        store.begin_source(scan, SOURCE)
        stats = store.ingest(scan, SOURCE, app_records(tenant))
        apps_done = clock()
        stats = store.ingest(scan, SOURCE, signin_records(pages), stats)
        stored = clock()
        store.end_source(scan, SOURCE, "ok", stats)
        store.finish_scan(scan)
        scopes = ScopeTable.load(None)
        apps = inventory.build(store, Catalog.load(), scopes, OrganisationSettings(), tenant.now)
        built = clock()
        findings = reconcile(
            apps, [], Context(now=tenant.now, scopes=scopes, publisher_sources=frozenset({SOURCE}))
        )
        done = clock()
    finally:
        store.close()
    generate_s = pages.generate_s
    scanner_s = done - started - generate_s
    figures = {
        "clock": args.clock,
        "events": args.events,
        "bytes_per_event": pages.bytes_per_event,
        "apps_stored": tenant.service_principal_count,
        "seconds": round(done - started, 2),
        "scanner_s": round(scanner_s, 2),
        "generate_estimate_s": round(generate_s, 2),
        "store_apps_s": round(apps_done - started, 2),
        "decode_parse_and_store_s": round(stored - apps_done - generate_s, 2),
        "inventory_s": round(built - stored, 2),
        "reconcile_s": round(done - built, 2),
        "inventory_apps": len(apps),
        "findings": len(findings),
        "db_bytes": sum(p.stat().st_size for p in args.db.parent.glob(args.db.name + "*")),
    }
    if not args.no_floor:
        crc = pages.crc
        found = floor.measure(pages, args.db.with_name("floor.db"))
        if found["pages_crc"] != crc:
            raise SystemExit("bench.pipeline: the floor read other pages than the pipeline")
        figures["floor"] = found
        figures["ratio_to_floor_json"] = round(scanner_s / found["floor_json_s"], 2)
        figures["ratio_to_floor_orjson"] = round(scanner_s / found["floor_orjson_s"], 2)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
