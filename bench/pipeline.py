"""The sign-in pipeline in one process, without HTTP: parse -> store -> resolve -> reconcile.

    python -m bench.pipeline --events 1000000 --db /tmp/pipeline.db

Builds Graph-shaped sign-in dicts lazily from the seeded large tenant (bench/tenant.py), parses
each with ``connectors.entra.parse_signin``, streams them into
``scanner.store.database.Store.ingest`` with a Checkpoint every 1,000 (a Graph page), then runs
``scanner.analysis.inventory.build`` (resolve, aggregate, classify) and
``scanner.analysis.reconcile.reconcile``. The tenant's service principals are stored first so
sign-ins resolve to apps. Prints one JSON line with the timings; bench/run.py
runs it as a child process so the peak RSS it reads is this pipeline's own.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from bench.tenant import SIZES, EntraTenant
from connectors.entra import SOURCE, graph_time, parse_app, parse_signin
from scanner.analysis import inventory
from scanner.analysis.catalog import Catalog
from scanner.analysis.reconcile import Context, reconcile
from scanner.analysis.risk import ScopeTable
from scanner.app.config import OrganisationSettings
from scanner.core.models import Checkpoint, SourceRecord
from scanner.store.database import Store

ROOT = Path(__file__).resolve().parents[1]

PAGE = 1000
"""Sign-ins per Checkpoint: the largest sign-in page Graph serves."""


def app_records(tenant: EntraTenant) -> Iterator[SourceRecord]:
    for index in range(tenant.service_principal_count):
        yield parse_app(tenant.service_principal(index))
    yield Checkpoint(SOURCE, "apps")


def signin_records(tenant: EntraTenant, events: int) -> Iterator[SourceRecord]:
    """``events`` sign-ins, oldest first, parsed from Graph-shaped dicts made one at a time."""
    newest = None
    for ordinal in range(events):
        signin = parse_signin(tenant.signin(ordinal))
        newest = signin.at
        yield signin
        if (ordinal + 1) % PAGE == 0:
            yield Checkpoint(SOURCE, "signins")
    yield Checkpoint(SOURCE, "signins", cursor=graph_time(newest) if newest else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--size", default="large", choices=sorted(SIZES))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args(argv)

    tenant = EntraTenant(replace(SIZES[args.size], signins=args.events), seed=args.seed)
    args.db.unlink(missing_ok=True)
    # What making the synthetic dicts costs (not part of the scanner): timed on a sample.
    sample = min(args.events, 50_000)
    began = time.perf_counter()
    for ordinal in range(sample):
        tenant.signin(ordinal)
    generate_s = (time.perf_counter() - began) * args.events / max(sample, 1)
    started = time.perf_counter()
    store = Store.open(args.db)
    try:
        scan = store.begin_scan()
        store.begin_source(scan, SOURCE)
        stats = store.ingest(scan, SOURCE, app_records(tenant))
        apps_done = time.perf_counter()
        stats = store.ingest(scan, SOURCE, signin_records(tenant, args.events), stats)
        stored = time.perf_counter()
        store.end_source(scan, SOURCE, "ok", stats)
        store.finish_scan(scan)
        scopes = ScopeTable.load(None)
        apps = inventory.build(store, Catalog.load(), scopes, OrganisationSettings(), tenant.now)
        built = time.perf_counter()
        findings = reconcile(
            apps, [], Context(now=tenant.now, scopes=scopes, publisher_sources=frozenset({SOURCE}))
        )
        done = time.perf_counter()
    finally:
        store.close()
    print(
        json.dumps(
            {
                "events": args.events,
                "apps_stored": tenant.service_principal_count,
                "seconds": round(done - started, 2),
                "generate_estimate_s": round(generate_s, 2),
                "store_apps_s": round(apps_done - started, 2),
                "parse_and_store_s": round(stored - apps_done, 2),
                "inventory_s": round(built - stored, 2),
                "reconcile_s": round(done - built, 2),
                "inventory_apps": len(apps),
                "findings": len(findings),
                "db_bytes": sum(p.stat().st_size for p in args.db.parent.glob(args.db.name + "*")),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
