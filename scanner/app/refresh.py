"""Reconcile the stored inventory again, without reading any provider.

``shadowit report`` runs this before it renders the latest scan, so owners' answers
(``confirm``) and sanction changes (``shadowit sanction``) count at once instead of at the next
scan. It is the scan's own analysis (``pipeline.analyse``) against the latest finished scan:

- the inventory is rebuilt from the store as that scan saw it (as of its start), and judged with
  the answers and the policy in force now: the same rules, severities and lifecycle a scan
  applies, so a finding opens, resolves or reopens exactly as the next scan would make it;
- events and the snapshot are written against that scan (a reconciliation adds no scan run:
  it read no source, so the diff, the history and new-app baselines stay about scans), and the
  run is kept in ``reconciliations`` with what it changed;
- a finding that scan did not re-check (its source failed, a stream it needs was not
  collected: the scan kept it as it was) is kept again, never resolved by a reconciliation;
- it holds the scan lock, so it never runs beside a scan or another reconciliation; run twice
  with nothing new, it changes nothing (and records that).
"""

from __future__ import annotations

from datetime import UTC, datetime

from scanner.analysis import findings as lifecycle
from scanner.analysis import sanctions
from scanner.analysis.catalog import Catalog
from scanner.analysis.detections.consent_rules import ConsentRules
from scanner.analysis.reconcile import check_severity_overrides
from scanner.app.config import Config
from scanner.app.pipeline import analyse, scan_lock
from scanner.core.errors import LockedError, ShadowitError, StoreError
from scanner.core.models import SanctionEntry
from scanner.store import findings as stored_findings
from scanner.store import reconciliations
from scanner.store.database import Store, parse_iso
from scanner.store.reconciliations import Reconciliation


def reconcile_latest(config: Config, *, now: datetime | None = None) -> Reconciliation | None:
    """Reconcile the inventory of the latest finished scan with today's answers and policy;
    None when there is no finished scan yet (nothing to reconcile)."""
    clock_now = now or datetime.now(UTC)
    # The same checks a scan makes before it writes anything.
    check_severity_overrides(config.policy.severity)
    ConsentRules.shipped().weighted(config.policy.consent_weights)
    base = config.file.parent if config.file else None
    catalog = Catalog.load(config.catalog, base)
    entries = sanctions.load(config.sanctioned, base, catalog)
    store_path = config.store_path
    if not store_path.exists():
        raise ShadowitError(
            f"{store_path}: no inventory yet; run `shadowit scan --config {config.file}` first"
        )
    try:
        with scan_lock(store_path):
            store = Store.open(
                store_path,
                clock=(lambda: clock_now),
                raw_signin_days=config.store.raw_signin_days,
            )
            try:
                return _reconcile(store, config, clock_now, catalog, entries)
            finally:
                store.close()
    except StoreError as err:
        # A read-only or full inventory can still be reported on as stored.
        raise StoreError(
            f"{err}; `shadowit report --no-refresh` renders the last finished scan as stored, "
            "without writing to the inventory"
        ) from None
    except LockedError:
        raise LockedError(
            f"a shadowit scan is running on {store_path}; its own report follows when it "
            "ends, or run `shadowit report --no-refresh` to render the last finished scan "
            "without re-reading answers and policy"
        ) from None


def _reconcile(
    store: Store,
    config: Config,
    now: datetime,
    catalog: Catalog,
    entries: list[SanctionEntry],
) -> Reconciliation | None:
    scan_id = store.latest_scan()
    scan = store.scan(scan_id) if scan_id is not None else None
    if scan_id is None or scan is None:
        return None
    # What the scan kept without re-checking is still unchecked: only a scan can check it.
    not_rechecked = {
        (row["app_key"], row["kind"])
        for row in stored_findings.finding_rows(store)
        if row["status"] in lifecycle.ACTIVE and row["last_scan"] != scan_id
    }
    result = analyse(
        store,
        config,
        scan_id,
        now,
        store.source_runs(scan_id),
        store.record_sources(scan_id),
        catalog,
        entries,
        seen_at=parse_iso(scan["started"]) or now,
        kept=lambda app_key, kind: (app_key, kind) in not_rechecked,
    )
    return reconciliations.record(store, scan_id, now, (c.event for c in result.changes))
