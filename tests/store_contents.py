"""What one source's records leave in a new store: for tests that read the same tenant two ways
(Graph's listing or a Log Analytics workspace, the Reports API or the BigQuery export) and
expect the same usage, evidence, apps and grants."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from scanner.core.models import SourceRecord
from scanner.store.database import Store

QUERIES = {
    "daily": "SELECT client_id, user_key, day, count, failures, last_at FROM signin_daily "
    "ORDER BY 1, 2, 3",
    "evidence": "SELECT client_id, kind, name, events, failures, first_at, last_at "
    "FROM app_evidence ORDER BY 1, 2",
    "apps": "SELECT client_id, kind FROM raw_apps WHERE gone_scan IS NULL ORDER BY 1",
    "grants": "SELECT client_id, user_key FROM grants ORDER BY 1, 2",
}


def scanned(path: Path, source: str, records: Iterable[SourceRecord]) -> dict[str, Any]:
    """One finished scan of ``records`` from ``source`` into the store at ``path``; its rows by
    table, and the source's status."""
    store = Store.open(path)
    try:
        run = store.begin_scan()
        store.begin_source(run, source)
        stats = store.ingest(run, source, records)
        store.end_source(run, source, stats.status(), stats)
        store.finish_scan(run)
        found: dict[str, Any] = {
            name: store.db.execute(sql).fetchall() for name, sql in QUERIES.items()
        }
        found["status"] = stats.status()
        return found
    finally:
        store.close()
