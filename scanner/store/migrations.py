"""Schema migrations for the inventory: one function per schema change, applied in order.

The database's ``PRAGMA user_version`` is the number of steps applied. A step never edits
an earlier one; a schema change is a new step appended to ``STEPS``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import sqlite_utils

Step = Callable[[sqlite_utils.Database], None]


def _initial(db: sqlite_utils.Database) -> None:
    db.table("scan_runs").create(
        {"id": int, "started": str, "finished": str, "status": str, "full": int, "note": str},
        pk="id",
    )
    db.table("source_runs").create(
        {
            "scan_id": int,
            "source": str,
            "status": str,
            "records": int,
            "skipped": str,
            "warnings": str,
            "warning_count": int,
            "error": str,
            "started": str,
            "finished": str,
        },
        pk=("scan_id", "source"),
        foreign_keys=[("scan_id", "scan_runs", "id")],
    )
    db.table("checkpoints").create(
        {"source": str, "stream": str, "cursor": str, "scan_id": int, "updated": str},
        pk=("source", "stream"),
    )
    seen = {
        "first_seen": str,
        "last_seen": str,
        "first_scan": int,
        "last_scan": int,
        "gone_scan": int,
    }
    db.table("users").create(
        {
            "source": str,
            "id": str,
            "email": str,
            "display_name": str,
            "department": str,
            "job_title": str,
            "groups": str,
            "enabled": int,
            "is_guest": int,
            "is_admin": int,
            **seen,
        },
        pk=("source", "id"),
    )
    db.table("users").create_index(["email"])
    db.table("raw_apps").create(
        {
            "source": str,
            "client_id": str,
            "name": str,
            "kind": str,
            "publisher": str,
            "publisher_verified": int,
            "publisher_tenant": str,
            "homepage": str,
            "reply_urls": str,
            "domains": str,
            "enabled": int,
            "created": str,
            "object_id": str,
            "tags": str,
            "app_key": str,
            **seen,
        },
        pk=("source", "client_id"),
    )
    db.table("raw_apps").create_index(["app_key"])
    db.table("grants").create(
        {
            "source": str,
            "client_id": str,
            "user_key": str,
            "consent_type": str,
            "resource": str,
            "scopes": str,
            "user_id": str,
            "user_email": str,
            "granted_at": str,
            **seen,
        },
        pk=("source", "client_id", "user_key", "consent_type", "resource"),
    )
    db.table("signins").create(
        {
            "source": str,
            "event_id": str,
            "client_id": str,
            "at": str,
            "user_id": str,
            "user_email": str,
            "app_name": str,
            "success": int,
            "interactive": int,
            "scan_id": int,
        },
        pk=("source", "event_id"),
    )
    db.table("signins").create_index(["source", "client_id"])
    db.table("signin_daily").create(
        {
            "source": str,
            "client_id": str,
            "user_key": str,
            "day": str,
            "count": int,
            "last_at": str,
        },
        pk=("source", "client_id", "user_key", "day"),
    )
    db.table("spend").create(
        {
            "source": str,
            "line_id": str,
            "client_id": str,
            "amount": float,
            "currency": str,
            "on_day": str,
            "user_email": str,
            "scan_id": int,
        },
        pk=("source", "line_id"),
    )
    db.table("apps").create(
        {
            "key": str,
            "name": str,
            "vendor": str,
            "category": str,
            "domain": str,
            "first_party": int,
            "internal": int,
            "lookalike_of": str,
            "evidence": str,
            "is_marketing": int,
            "marketing_reason": str,
            "risk_score": int,
            "risk_level": str,
            "risk_reasons": str,
            **seen,
        },
        pk="key",
    )
    db.table("app_snapshots").create(
        {
            "scan_id": int,
            "app_key": str,
            "name": str,
            "users": str,
            "user_count": int,
            "scopes": str,
            "sources": str,
            "risk_score": int,
            "risk_level": str,
            "is_marketing": int,
            "sanction_status": str,
            "data": str,
        },
        pk=("scan_id", "app_key"),
    )
    db.table("findings").create(
        {
            "id": str,
            "app_key": str,
            "app_name": str,
            "kind": str,
            "severity": str,
            "status": str,
            "reasons": str,
            "remediation": str,
            "evidence": str,
            "opened": str,
            "opened_scan": int,
            "last_scan": int,
            "resolved": str,
            "resolved_scan": int,
            "decided_by": str,
            "decision_reason": str,
            "decided_until": str,
            "updated": str,
        },
        pk="id",
    )
    db.table("finding_events").create(
        {
            "id": int,
            "finding_id": str,
            "scan_id": int,
            "at": str,
            "event": str,
            "actor": str,
            "note": str,
        },
        pk="id",
    )
    db.table("finding_events").create_index(["finding_id"])
    db.table("sanctions").create(
        {
            "app": str,
            "status": str,
            "owner": str,
            "team": str,
            "purpose": str,
            "approved_scopes": str,
            "data_classification": str,
            "approved_on": str,
            "review_by": str,
            "notes": str,
            "updated": str,
        },
        pk="app",
    )


def _confirmations(db: sqlite_utils.Database) -> None:
    """Ownership confirmation: requests sent to likely owners and their answers."""
    db.table("confirm_requests").create(
        {
            "id": str,
            "app_key": str,
            "app_name": str,
            "owner": str,
            "reason": str,
            "status": str,
            "created": str,
            "first_sent": str,
            "last_sent": str,
            "reminders": int,
            "answered": str,
            "routed_from": str,
        },
        pk="id",
    )
    db.table("confirm_requests").create_index(["app_key"])
    db.table("confirm_requests").create_index(["status"])
    db.table("attestations").create(
        {
            "id": int,
            "request_id": str,
            "app_key": str,
            "app_name": str,
            "owner": str,
            "answer": str,
            "answered": str,
            "note": str,
            "purpose": str,
            "data_held": str,
            "renewal": str,
            "suggested_owner": str,
        },
        pk="id",
    )
    db.table("attestations").create_index(["app_key", "answered"])


def _notifications(db: sqlite_utils.Database) -> None:
    """What each scan's notification covered, so the next one sends only what is new."""
    db.table("notifications").create(
        {
            "id": int,
            "scan_id": int,
            "mode": str,
            "status": str,
            "day": str,
            "at": str,
            "findings": str,
            "sources": str,
            "targets": int,
            "error": str,
        },
        pk="id",
    )
    db.table("notifications").create_index(["status", "scan_id"])


def _signin_keys(db: sqlite_utils.Database) -> None:
    """Sign-ins de-duplicated by a 64-bit key instead of a text index on every raw event.

    A random GUID per event made every insert a random walk through a growing text index;
    an integer key table stays small enough to sit in the page cache. The raw events become
    an append-only log (``signins``) that retention prunes.
    """
    db.execute("CREATE TABLE signin_keys (key INTEGER PRIMARY KEY, day TEXT NOT NULL)")
    db.execute(
        "CREATE TABLE signins_log (source TEXT, event_id TEXT, client_id TEXT, at TEXT, "
        "user_id TEXT, user_email TEXT, app_name TEXT, success INTEGER, interactive INTEGER, "
        "scan_id INTEGER)"
    )
    db.execute(
        "INSERT INTO signins_log SELECT source, event_id, client_id, at, user_id, user_email, "
        "app_name, success, interactive, scan_id FROM signins"
    )
    keys = [
        (signin_key(r[0], r[1]), (r[2] or "")[:10])
        for r in db.execute("SELECT source, event_id, at FROM signins").fetchall()
    ]
    db.conn.executemany("INSERT OR IGNORE INTO signin_keys (key, day) VALUES (?, ?)", keys)
    db.execute("DROP TABLE signins")
    db.execute("ALTER TABLE signins_log RENAME TO signins")
    db.execute("CREATE INDEX idx_signins_at ON signins (at)")


def _signin_floors(db: sqlite_utils.Database) -> None:
    """A de-duplication floor per source, so pruning old sign-in keys counts nothing twice.

    Retention deletes the keys of events older than its cutoff; an event that old read again
    (a ``--full`` re-read, a re-imported file) would find no key and be counted again. Once a
    source's keys below a day are gone, its events before that day are not counted any more.
    The seed for an existing inventory is the oldest key still stored (earlier keys were
    pruned), or, when every key is gone, the day after the source's last counted day.
    """
    db.execute("CREATE TABLE signin_floors (source TEXT PRIMARY KEY, day TEXT NOT NULL)")
    oldest_key = db.execute("SELECT min(day) FROM signin_keys").fetchone()[0]
    if oldest_key is None:
        db.execute(
            "INSERT INTO signin_floors (source, day) SELECT source, date(max(day), '+1 day') "
            "FROM signin_daily GROUP BY source"
        )
    else:
        db.execute(
            "INSERT INTO signin_floors (source, day) SELECT source, ? FROM signin_daily "
            "GROUP BY source HAVING min(day) < ?",
            [oldest_key, oldest_key],
        )


def _scan_run_owner(db: sqlite_utils.Database) -> None:
    """Which process runs a scan, and why a scan failed.

    A scan whose process died (a full disk, a kill) is left ``running``; with its pid and host
    the next open of the store can tell it apart from a scan still going and end it.
    """
    db.execute("ALTER TABLE scan_runs ADD COLUMN pid INTEGER")
    db.execute("ALTER TABLE scan_runs ADD COLUMN host TEXT")
    db.execute("ALTER TABLE scan_runs ADD COLUMN error TEXT")


def _evidence(db: sqlite_utils.Database) -> None:
    """Successful and failed sign-ins apart, and every app named by an event kept as evidence.

    ``signin_daily.count`` becomes successful sign-ins only (``failures`` beside it) and its
    ``last_at`` the last successful one. ``app_evidence`` keeps, per source, app and kind of
    event, the app's name as the event gave it, so an app seen only in sign-in or SSO logs
    (deleted from the IdP since, a SAML app it does not list) can still be resolved and shown.
    Per-app "last use" reports (``SignIn.kind == "activity"``) were counted as one sign-in of a
    user ``*``; they move to ``app_evidence`` and add no sign-in.
    """
    db.execute("ALTER TABLE signin_daily ADD COLUMN failures INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE signins ADD COLUMN kind TEXT")
    db.execute(
        "CREATE TABLE app_evidence (source TEXT NOT NULL, client_id TEXT NOT NULL, "
        "kind TEXT NOT NULL, name TEXT, events INTEGER NOT NULL DEFAULT 0, "
        "failures INTEGER NOT NULL DEFAULT 0, first_at TEXT, last_at TEXT, "
        "PRIMARY KEY (source, client_id, kind))"
    )
    # The per-app activity report's events were stored with ids 'spsa:<appId>:<time>'.
    db.execute("UPDATE signins SET kind = 'activity' WHERE event_id LIKE 'spsa:%'")
    db.execute("UPDATE signins SET kind = 'sign_in' WHERE kind IS NULL")
    db.execute(
        "INSERT INTO app_evidence (source, client_id, kind, events, first_at, last_at) "
        "SELECT source, client_id, 'activity', 0, min(at), max(at) FROM signins "
        "WHERE kind = 'activity' GROUP BY source, client_id"
    )
    # Their daily rows (user '*') go: a pruned event cannot be told apart, so every '*' row of
    # the Entra source, whose sign-ins always name a user, is one of them.
    db.execute(
        "DELETE FROM signin_daily WHERE user_key = '*' AND (source = 'entra' OR EXISTS ("
        "SELECT 1 FROM signins s WHERE s.kind = 'activity' AND s.source = signin_daily.source "
        "AND s.client_id = signin_daily.client_id))"
    )
    # Failures still in the raw log leave the counts; older ones were pruned and cannot be.
    db.execute(
        "CREATE TEMP TABLE failed_days AS SELECT source, client_id, "
        "coalesce(nullif(user_email, ''), 'id:' || nullif(user_id, ''), '*') AS user_key, "
        "substr(at, 1, 10) AS day, sum(success = 0) AS n, "
        "max(CASE WHEN success = 1 THEN at END) AS last_ok FROM signins "
        "WHERE kind != 'activity' GROUP BY 1, 2, 3, 4 HAVING sum(success = 0) > 0"
    )
    db.execute(
        "UPDATE signin_daily SET failures = f.n, count = max(signin_daily.count - f.n, 0), "
        "last_at = CASE WHEN signin_daily.count - f.n <= 0 THEN NULL "
        "ELSE coalesce(f.last_ok, signin_daily.last_at) END "
        "FROM failed_days f WHERE f.source = signin_daily.source AND f.client_id = "
        "signin_daily.client_id AND f.user_key = signin_daily.user_key AND f.day = signin_daily.day"
    )
    db.execute("DROP TABLE failed_days")
    db.execute(
        "INSERT INTO app_evidence (source, client_id, kind, name, events, failures, first_at, "
        "last_at) SELECT d.source, d.client_id, 'sign_in', (SELECT max(s.app_name) FROM signins s "
        "WHERE s.source = d.source AND s.client_id = d.client_id), sum(d.count + d.failures), "
        "sum(d.failures), min(d.day), max(d.last_at) FROM signin_daily d "
        "GROUP BY d.source, d.client_id"
    )


def _user_aliases(db: sqlite_utils.Database) -> None:
    """Every other address a directory gives a person (UPN, other mails, proxy addresses,
    aliases, an Okta login, a guest's home address), so one person is counted once across
    sources and spellings. Users stored before it have none until their next listing."""
    db.execute("ALTER TABLE users ADD COLUMN aliases TEXT")


def _sanction_changes(db: sqlite_utils.Database) -> None:
    """``shadowit sanction`` records changes to single fields, not whole entries: the fields
    it set that are in force (``sanction_overrides``, one row per app and field, the value as
    JSON) and every change and revert (``sanction_changes``: who, when, old -> new). An entry
    recorded whole before this step becomes overrides of the fields it had a value for."""
    db.table("sanction_overrides").create(
        {"app": str, "field": str, "value": str, "changed_by": str, "changed_at": str},
        pk=("app", "field"),
    )
    db.table("sanction_changes").create(
        {
            "id": int,
            "app": str,
            "field": str,
            "event": str,
            "old": str,
            "new": str,
            "actor": str,
            "at": str,
        },
        pk="id",
    )
    db.table("sanction_changes").create_index(["app"])
    fields = (
        "status",
        "owner",
        "team",
        "purpose",
        "approved_scopes",
        "data_classification",
        "approved_on",
        "review_by",
        "notes",
    )
    for row in list(db.query("SELECT * FROM sanctions ORDER BY app")):
        for field in fields:
            value = row[field]
            if value in (None, "", "[]"):
                continue
            encoded = value if field == "approved_scopes" else json.dumps(value)
            db.execute(
                "INSERT INTO sanction_overrides (app, field, value, changed_by, changed_at) "
                "VALUES (?, ?, ?, 'unknown', ?)",
                [row["app"], field, encoded, row["updated"]],
            )
            db.execute(
                "INSERT INTO sanction_changes (app, field, event, old, new, actor, at) "
                "VALUES (?, ?, 'set', NULL, ?, 'unknown', ?)",
                [row["app"], field, encoded, row["updated"]],
            )
    db.table("sanctions").drop()


def _decision_scans(db: sqlite_utils.Database) -> None:
    """A decision event (accepted, acknowledged) records the latest scan begun when it was
    made, so the history counts an acceptance from the next scan on; decisions recorded before
    this step have none and are placed by their time."""
    db.execute("ALTER TABLE finding_events ADD COLUMN after_scan INTEGER")


def _signin_day_totals(db: sqlite_utils.Database) -> None:
    """What a log engine last stated per (source, app, person, day, kind) (``SignInDay``), so a
    re-read day replaces its counts instead of adding to them (``scanner.store.daytotals``)."""
    db.execute(
        "CREATE TABLE signin_day_totals (source TEXT NOT NULL, client_id TEXT NOT NULL, "
        "user_key TEXT NOT NULL, day TEXT NOT NULL, kind TEXT NOT NULL, "
        "successes INTEGER NOT NULL, failures INTEGER NOT NULL, "
        "PRIMARY KEY (source, client_id, user_key, day, kind))"
    )


def _reconciliations(db: sqlite_utils.Database) -> None:
    """``shadowit report`` reconciles the stored inventory again with the answers and the
    policy in force, against the latest finished scan, without reading any source: each such
    run is kept here with what it changed."""
    db.table("reconciliations").create(
        {
            "id": int,
            "scan_id": int,
            "at": str,
            "opened": int,
            "reopened": int,
            "expired": int,
            "resolved": int,
        },
        pk="id",
        foreign_keys=[("scan_id", "scan_runs", "id")],
    )


def _signin_marks(db: sqlite_utils.Database) -> None:
    """Sign-ins of time-ordered logs de-duplicated by watermark (``scanner.store.marks``)
    instead of a key per event: per lane, the counted range and its boundary seconds' ids.

    An existing inventory counted its events by key; its counted range per (source, kind) is
    seeded from ``app_evidence``, widened by a second at each end. An event inside a seeded
    range is checked against the older store's keys (``signin_keys``), not taken as counted: a
    listing that never finished left pages inside the range unread.
    """
    db.execute(
        "CREATE TABLE signin_marks (source TEXT NOT NULL, stream TEXT NOT NULL, "
        "kind TEXT NOT NULL, interactive INTEGER NOT NULL, listing INTEGER NOT NULL, "
        "lo TEXT NOT NULL, hi TEXT NOT NULL, lo_ids TEXT NOT NULL, hi_ids TEXT NOT NULL, "
        "PRIMARY KEY (source, stream, kind, interactive, listing))"
    )
    db.execute(
        "INSERT INTO signin_marks SELECT * FROM (SELECT source, '*', kind, 0, 0, "
        "strftime('%Y-%m-%dT%H:%M:%S', min(first_at), '-1 second') AS lo, "
        "strftime('%Y-%m-%dT%H:%M:%S', max(last_at), '+1 second') AS hi, '[]', '[]' "
        "FROM app_evidence WHERE kind IN ('sign_in', 'sso', 'saml') GROUP BY source, kind) "
        "WHERE lo IS NOT NULL AND hi IS NOT NULL"
    )


def _resolutions(db: sqlite_utils.Database) -> None:
    """The resolution cache (``scanner.store.resolutions``): per raw app, the digest of its
    fields, the digest of what resolution depended on (catalog, settings, rules) and the
    canonical app it resolved to."""
    db.execute(
        "CREATE TABLE resolutions (source TEXT NOT NULL, client_id TEXT NOT NULL, "
        "raw_digest TEXT NOT NULL, context TEXT NOT NULL, app TEXT NOT NULL, "
        "PRIMARY KEY (source, client_id))"
    )


def _source_run_record_sources(db: sqlite_utils.Database) -> None:
    """Which record sources each source run wrote (a file import names its own, e.g.
    ``expenses``): ``shadowit report``'s reconciliation needs them to know which records a
    partial or failed source left incomplete, as the scan itself knew."""
    db.execute("ALTER TABLE source_runs ADD COLUMN record_sources TEXT")


def signin_key(source: str, event_id: str) -> int:
    """A stable signed 64-bit key for one event of one source (collisions: ~1e-8 at 1e6)."""
    digest = hashlib.blake2b(f"{source}\x00{event_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


STEPS: list[Step] = [
    _initial,
    _confirmations,
    _notifications,
    _signin_keys,
    _signin_floors,
    _scan_run_owner,
    _evidence,
    _user_aliases,
    _sanction_changes,
    _decision_scans,
    _signin_day_totals,
    _reconciliations,
    _signin_marks,
    _resolutions,
    _source_run_record_sources,
]


def current_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite_utils.Database, steps: list[Step] | None = None) -> int:
    """Apply the steps not yet applied, each in its own transaction; return the new version."""
    steps = STEPS if steps is None else steps
    version = current_version(db)
    for number, step in enumerate(steps[version:], start=version + 1):
        with db.atomic():
            step(db)
            db.execute(f"PRAGMA user_version = {number}")
    return current_version(db)
