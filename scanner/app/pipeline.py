"""Run a scan: every enabled connector into the store, then resolve, reconcile and snapshot.

Each source ends ``ok``, ``partial`` (it yielded Skipped: a stream it could not read, for a
missing permission or licence) or ``failed`` (its error is kept in the scan's source status); a
failed source never makes its apps look gone and never resolves their findings, and a stream
not collected never resolves a finding that needs it (``scanner.analysis.completeness``). The
scan run is ``finished`` only after every source ended and the inventory was rebuilt; reports
read finished runs only. A scan stopped by an expected error (the store full, read-only or
locked) ends ``failed`` with that error. A lock keeps two scans off one store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import filelock
import requests

import connectors
from connectors.base import ConnectorContext
from scanner.analysis import completeness, inventory, sanctions
from scanner.analysis import findings as lifecycle
from scanner.analysis.catalog import Catalog
from scanner.analysis.detections.consent_rules import ConsentRules
from scanner.analysis.people import People
from scanner.analysis.reconcile import Context, check_severity_overrides, reconcile
from scanner.analysis.risk import ScopeTable
from scanner.app import preflight
from scanner.app.config import Config, enabled_sources
from scanner.core.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    LockedError,
    ShadowitError,
    StoreError,
)
from scanner.core.models import Finding, InventoryApp, SanctionEntry, SourceStatus
from scanner.core.names import checked_addresses, one_line
from scanner.core.paths import os_reason
from scanner.store import inventory as stored_inventory
from scanner.store.database import IngestStats, Store, parse_iso

log = logging.getLogger(__name__)

Progress = Callable[[str, str], None]
"""Called with (source, message) as a scan goes."""


@dataclass
class ScanResult:
    scan_id: int
    sources: list[SourceStatus]
    apps: list[InventoryApp]
    findings: list[Finding]
    changes: list[lifecycle.LifecycleChange]
    new_apps: list[str]
    credential_failure: bool = False
    store_path: Path | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 ok, 2 a credential or configuration problem stopped a source, 3 failed/partial."""
        if self.credential_failure:
            return 2
        if any(s.status != "ok" for s in self.sources):
            return 3
        return 0


@contextmanager
def scan_lock(store_path: Path, wait: bool = False) -> Iterator[None]:
    """Hold ``<store>.lock`` for the duration of a scan."""
    lock = filelock.FileLock(str(store_path) + ".lock")
    try:
        lock.acquire(timeout=-1 if wait else 0)
    except filelock.Timeout:
        raise LockedError(
            f"another shadowit scan is running on {store_path} (lock file {lock.lock_file}); "
            "wait for it to finish, or run with --wait"
        ) from None
    except OSError as err:
        # A read-only folder (or file system) refuses the lock file before SQLite is asked.
        raise StoreError(
            f"{lock.lock_file}: cannot create or open the scan lock file "
            f"({os_reason(err, Path(lock.lock_file))}); "
            f"the user running shadowit needs write access to {store_path.parent}, where the "
            "inventory keeps its lock, -wal and -shm files; the inventory itself is intact"
        ) from None
    try:
        yield
    finally:
        lock.release()


def run_scan(
    config: Config,
    *,
    full: bool = False,
    now: datetime | None = None,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] | None = None,
    wait: bool = False,
    progress: Progress | None = None,
    only: Sequence[str] | None = None,
    allow_empty: bool = False,
) -> ScanResult:
    """Scan every enabled source into the store named by the config, then analyse.

    A config with no enabled source is refused unless ``allow_empty`` (then the stored
    inventory is analysed again without reading any source)."""
    clock_now = now or datetime.now(UTC)
    sources = enabled_sources(config, only)
    # Validate everything that can be validated before touching any provider.
    check_severity_overrides(config.policy.severity)
    ConsentRules.shipped().weighted(config.policy.consent_weights)
    catalog = Catalog.load(config.catalog, config.file.parent if config.file else None)
    entries = sanctions.load(
        config.sanctioned, config.file.parent if config.file else None, catalog
    )
    preflight.before_scan(config, sources, allow_empty=allow_empty)
    context = ConnectorContext(
        config_path=config.file, now=clock_now, full=full, session=session, sleep=sleep
    )
    connectors_built = {name: _build(name, settings, context) for name, settings in sources.items()}
    store_path = config.store_path
    with scan_lock(store_path, wait=wait):
        store = Store.open(
            store_path,
            clock=(lambda: now) if now else _utcnow,
            raw_signin_days=config.store.raw_signin_days,
        )
        scan_id: int | None = None
        try:
            store.abandon_stale_scans()
            # Labelled full when no source resumes from a stored cursor: --full, or the
            # first scan of a new inventory (or of only sources new to it).
            swept = full or not any(store.cursors(name) for name in connectors_built)
            scan_id = store.begin_scan(full=swept)
            statuses: list[SourceStatus] = []
            record_sources: dict[str, set[str]] = {}
            credential_failure = False
            say = progress or (lambda _s, _m: None)
            for name, built in connectors_built.items():
                say(name, "scanning")
                status, seen, auth_failed = _scan_source(store, scan_id, name, built, full, say)
                credential_failure = credential_failure or auth_failed
                statuses.append(status)
                record_sources[name] = seen
                say(name, status.status)
            say("inventory", "resolving, reconciling")
            result = analyse(
                store,
                config,
                scan_id,
                clock_now,
                statuses,
                record_sources,
                catalog,
                entries,
                full=full,
            )
            result.credential_failure = credential_failure
            result.store_path = store_path
            store.prune_signins(config.store.signin_retention_days)
            store.finish_scan(scan_id)
            return result
        except ShadowitError as err:
            if scan_id is not None:
                _record_failure(store, scan_id, err)
            raise
        finally:
            store.close()


def _record_failure(store: Store, scan_id: int, err: ShadowitError) -> None:
    """End the scan ``failed`` with its error; the error itself goes on to the user.

    When the store cannot take even this write (still locked, or full), the run stays
    ``running`` with this process's pid, and the next open of the store ends it."""
    try:
        store.fail_scan(scan_id, one_line(err))
    except StoreError as again:
        log.info("scan %d could not be marked failed: %s", scan_id, one_line(again))


def _build(name: str, settings: Any, context: ConnectorContext) -> Any:
    """Build a connector before the scan starts, so a missing secret stops it up front.

    A configuration error (an unset variable, an unreadable key file) is raised at once;
    a credential rejected by the provider is kept and reported as that source's failure.
    """
    try:
        return connectors.get(name).factory(settings, context)
    except ConfigError:
        raise
    except ConnectorError as err:
        return err


def _scan_source(
    store: Store, scan_id: int, name: str, built: Any, full: bool, say: Progress
) -> tuple[SourceStatus, set[str], bool]:
    store.begin_source(scan_id, name)
    stats = IngestStats()
    try:
        if isinstance(built, ConnectorError):
            raise built
        connector = built
        since = {} if full else store.cursors(name)
        stats = store.ingest(
            scan_id,
            name,
            # Every address a source yields is checked once, here: a malformed one (a newline
            # would end up in a mail header) is dropped with a warning naming the record.
            checked_addresses(connector.collect(since)),
            stats,
            on_commit=lambda s: say(name, f"{s.records} records"),
        )
    except (AuthError, ConfigError) as err:
        log.info("%s", one_line(err))
        return (
            store.end_source(scan_id, name, "failed", stats, str(err)),
            stats.record_sources,
            True,
        )
    except ConnectorError as err:
        log.info("%s", one_line(err))
        return (
            store.end_source(scan_id, name, "failed", stats, str(err)),
            stats.record_sources,
            False,
        )
    return store.end_source(scan_id, name, stats.status(), stats), stats.record_sources, False


def analyse(
    store: Store,
    config: Config,
    scan_id: int,
    now: datetime,
    statuses: Sequence[SourceStatus],
    record_sources: dict[str, set[str]],
    catalog: Catalog,
    entries: Sequence[SanctionEntry],
    *,
    seen_at: datetime | None = None,
    kept: Callable[[str, str], bool] | None = None,
    full: bool = False,
) -> ScanResult:
    """Rebuild the inventory, reconcile it and write this scan's snapshot and findings.

    ``seen_at``: the time the inventory is built as of (default ``now``; a reconciliation
    without a scan builds it as its scan saw it and judges it as of ``now``); ``kept(app_key,
    kind)``: findings to keep as they are besides those the scan could not evaluate; ``full``:
    resolve every app again, not reusing the store's resolution cache."""
    scopes_file = config.catalog.scopes_file
    scopes = ScopeTable.load(config.path(scopes_file) if scopes_file else None)
    apps = inventory.build(
        store,
        catalog,
        scopes,
        config.organisation,
        seen_at or now,
        first_party_by_name=connectors.with_capability("first_party_by_name", config.sources),
        first_party_ids=connectors.with_capability("first_party_ids", config.sources),
        events_days=config.store.signin_retention_days,
        risk_weights=config.policy.risk_weights,
        full=full,
    )
    policy = sanctions.merge(entries, sanctions.recorded(store, catalog))
    new_keys = _new_app_keys(store, scan_id, apps, now, timedelta(days=config.policy.new_app_days))
    ledger = completeness.Ledger.of(statuses, record_sources)
    ctx = Context(
        now=now,
        scopes=scopes,
        dormant_days=config.policy.dormant_days,
        new_app_keys=new_keys,
        confirmed_owners=store.confirmed_owners(now, config.policy.review_period_days),
        severity=config.policy.severity,
        publisher_sources=connectors.with_capability("publisher_verification", config.sources),
        sign_ins_missing=ledger.sign_in_gaps(),
        leavers=People(stored_inventory.directory_users(store)).leavers(),
        person_names=frozenset(stored_inventory.person_names(store)),
        consent=ConsentRules.shipped().weighted(config.policy.consent_weights),
        renewal_window_days=config.policy.renewal_window_days,
        overlap_min_tools=config.policy.overlap_min_tools,
    )
    found = reconcile(apps, policy, ctx)
    # A finding this scan could not evaluate (its source failed, or a stream its kind needs
    # was not collected) is kept as it was, never resolved by absence.
    sources_of = {a.key: a.sources for a in apps}

    def unchecked(app_key: str, kind: str) -> bool:
        if kept is not None and kept(app_key, kind):
            return True
        sources = sources_of.get(app_key)
        return sources is not None and ledger.not_rechecked(kind, sources) is not None

    changes = lifecycle.apply(store, scan_id, found, now, unchecked=unchecked)
    _snapshot(store, scan_id, apps, policy)
    return ScanResult(scan_id, list(statuses), apps, found, changes, sorted(new_keys))


def _new_app_keys(
    store: Store, scan_id: int, apps: Sequence[InventoryApp], now: datetime, window: timedelta
) -> frozenset[str]:
    """Apps first seen after the baseline scan, in a scan that started no more than ``window``
    before this one.

    The first finished scan is the baseline: everything in it is simply "there". Both ends are
    scans as the store recorded them (ids, and starts to the second on the store's clock), so
    the same store gives the same answer whenever, and however fast, the analysis runs;
    ``now`` stands in only for a scan with no recorded start.
    """
    finished = store.finished_scan_starts()
    earlier = [sid for sid in finished if sid < scan_id]
    if not earlier:
        return frozenset()
    baseline = min(earlier)
    this_scan = store.scan(scan_id)
    cutoff = (parse_iso(this_scan["started"]) if this_scan else None) or now
    cutoff -= window
    first_scan = {
        key: first
        for key, first in stored_inventory.first_snapshot_scans(store, scan_id).items()
        if first in finished
    }
    new = set()
    for app in apps:
        first = first_scan.get(app.key)
        if first is None:
            new.add(app.key)
        elif first != baseline:
            started = parse_iso(finished[first])
            if started is not None and started >= cutoff:
                new.add(app.key)
    return frozenset(new)


def _snapshot(
    store: Store, scan_id: int, apps: Sequence[InventoryApp], policy: Sequence[SanctionEntry]
) -> None:
    stored_inventory.replace_app_snapshots(
        store, scan_id, ((a, sanction_status(a, policy)) for a in apps)
    )


def sanction_status(app: InventoryApp, policy: Sequence[SanctionEntry]) -> str:
    if app.app.first_party:
        return "first_party"
    if app.app.internal:
        return "internal"
    entry = sanctions.match(app, policy)
    return entry.status if entry else "unsanctioned"


def _utcnow() -> datetime:
    return datetime.now(UTC)


__all__ = ["ScanResult", "run_scan", "analyse", "scan_lock", "ShadowitError"]
