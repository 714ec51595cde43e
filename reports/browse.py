"""``shadowit browse``: the inventory in Datasette, with canned queries for the reviewer.

Datasette is an optional extra (``pip install 'shadow-it-scanner[browse]'``). The store is
served read-only (``--immutable``) on 127.0.0.1, with a generated metadata file holding the
canned queries below. Canned queries live under ``databases.<name>.queries`` in the metadata
file (Datasette 0.x; https://docs.datasette.io/en/0.64/sql_queries.html#canned-queries), and
the database name is the file name without its extension
(https://docs.datasette.io/en/0.64/metadata.html#per-database-and-per-table-metadata).

The queries are plain SQLite over the store's tables, so the tests run each one with sqlite3
against a real store; the policy numbers (dormant days) and the high-risk permissions (from the
scope table, for the scopes actually granted) are written into the SQL when it is generated.
"""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scanner.analysis.risk import ScopeTable
from scanner.core.config import Config
from scanner.core.errors import ShadowitError

INSTALL_HINT = "datasette is not installed: pip install 'shadow-it-scanner[browse]'"
RISKY_LEVELS = ("critical", "high")

LATEST_SCAN = "(SELECT max(id) FROM scan_runs WHERE status = 'finished')"
APP_OF_GRANT = (
    "LEFT JOIN raw_apps r ON r.source = g.source AND r.client_id = g.client_id "
    "LEFT JOIN apps a ON a.key = r.app_key"
)

UNSANCTIONED_MARKETING = f"""
SELECT s.name AS app, a.vendor, a.category, s.user_count AS users,
       s.risk_score, s.risk_level, a.marketing_reason, s.sources, a.first_seen,
       (SELECT count(*) FROM findings f
         WHERE f.app_key = s.app_key AND f.status != 'resolved') AS open_findings
FROM app_snapshots s JOIN apps a ON a.key = s.app_key
WHERE s.scan_id = {LATEST_SCAN}
  AND s.sanction_status = 'unsanctioned' AND s.is_marketing = 1
ORDER BY s.risk_score DESC, s.user_count DESC, s.name
"""

RISKY_GRANTS = """
WITH risky(scope, app_only, level, meaning) AS ({risky}),
latest_status AS (
  SELECT app_key, sanction_status FROM app_snapshots WHERE scan_id = {latest}
)
SELECT coalesce(a.name, r.name, g.client_id) AS app,
       coalesce(st.sanction_status, 'not in the latest scan') AS sanction_status,
       g.source, g.consent_type,
       CASE WHEN g.user_key = '*' THEN 'everyone (organisation-wide consent)'
            ELSE coalesce(g.user_email, g.user_id) END AS granted_to,
       group_concat(k.scope || ' (' || k.level || ')', ', ') AS risky_scopes,
       group_concat(k.meaning, '; ') AS what_they_allow,
       g.first_seen, g.last_seen
FROM grants g
JOIN json_each(g.scopes) j
JOIN risky k ON k.scope = j.value AND k.app_only = (g.consent_type = 'application')
{app_of_grant}
LEFT JOIN latest_status st ON st.app_key = r.app_key
WHERE g.gone_scan IS NULL
GROUP BY g.source, g.client_id, g.user_key, g.consent_type, g.resource
ORDER BY max(k.level = 'critical') DESC, (g.user_key = '*') DESC, count(*) DESC, app
"""

DORMANT_GRANTS = """
WITH cutoff AS (
  SELECT strftime('%Y-%m-%dT%H:%M:%SZ', max(started), '-{days} days') AS at
  FROM scan_runs WHERE status = 'finished'
),
live AS (
  SELECT g.*, coalesce(a.name, r.name, g.client_id) AS app,
         (SELECT max(d.last_at) FROM signin_daily d
           LEFT JOIN raw_apps r2 ON r2.source = d.source AND r2.client_id = d.client_id
           WHERE (r2.app_key = r.app_key
                  OR (d.source = g.source AND d.client_id = g.client_id))
             AND (g.user_key = '*' OR d.user_key = '*' OR d.user_key = lower(g.user_email)
                  OR d.user_key = 'id:' || g.user_id)) AS last_sign_in
  FROM grants g
  {app_of_grant}
  WHERE g.gone_scan IS NULL
)
SELECT app, source, consent_type,
       CASE WHEN user_key = '*' THEN 'everyone (organisation-wide consent)'
            ELSE coalesce(user_email, user_id) END AS granted_to,
       coalesce(last_sign_in, 'never') AS last_sign_in,
       coalesce(granted_at, first_seen) AS held_since, scopes
FROM live
WHERE coalesce(last_sign_in, granted_at, first_seen) < (SELECT at FROM cutoff)
ORDER BY last_sign_in IS NOT NULL, last_sign_in, app
"""


def canned_queries(db: sqlite3.Connection, config: Config) -> dict[str, dict[str, str]]:
    """The canned queries for this store and policy, keyed by their URL name."""
    days = int(config.policy.dormant_days)
    return {
        "unsanctioned_marketing_apps": {
            "title": "Unsanctioned marketing apps",
            "description": "Apps mostly used by Marketing that are not on the sanctioned list, "
            "in the latest finished scan, riskiest first.",
            "sql": UNSANCTIONED_MARKETING.strip(),
        },
        "risky_grants": {
            "title": "Risky grants",
            "description": "Live grants holding high or critical permissions (per the scope "
            "table), organisation-wide consents first.",
            "sql": RISKY_GRANTS.format(
                risky=_risky_scopes_sql(db, config),
                latest=LATEST_SCAN,
                app_of_grant=APP_OF_GRANT,
            ).strip(),
        },
        "dormant_grants": {
            "title": f"Dormant grants (no sign-in for {days}+ days)",
            "description": f"Live grants with no sign-in to the same app (by the same person, or "
            f"app-wide activity, through any source) for {days} days before the latest scan "
            "(policy.dormant_days): candidates to revoke.",
            "sql": DORMANT_GRANTS.format(days=days, app_of_grant=APP_OF_GRANT).strip(),
        },
    }


def _risky_scopes_sql(db: sqlite3.Connection, config: Config) -> str:
    """A VALUES list of the high/critical permissions among the scopes actually granted."""
    scopes_file = config.catalog.scopes_file
    table = ScopeTable.load(config.path(scopes_file) if scopes_file else None)
    rows = []
    for scope, app_only in _granted_scopes(db):
        info = table.info(scope, app_only=bool(app_only))
        if info.level in RISKY_LEVELS:
            rows.append(
                f"({_quote(scope)}, {int(app_only)}, {_quote(info.level)}, {_quote(info.meaning)})"
            )
    if not rows:
        return "SELECT NULL, NULL, NULL, NULL WHERE 0"
    return "VALUES " + ", ".join(rows)


def _granted_scopes(db: sqlite3.Connection) -> Iterator[tuple[str, int]]:
    yield from db.execute(
        "SELECT DISTINCT j.value, g.consent_type = 'application' FROM grants g, "
        "json_each(g.scopes) j WHERE g.gone_scan IS NULL ORDER BY 1, 2"
    )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def metadata(db_path: Path, config: Config) -> dict[str, Any]:
    """The Datasette metadata: title, and the canned queries under this database's name."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        queries = canned_queries(db, config)
    finally:
        db.close()
    return {
        "title": f"shadowit inventory: {config.organisation.name}",
        "description": "The shadow-IT inventory store. Start with the canned queries below.",
        "databases": {db_path.stem: {"queries": queries}},
    }


def write_metadata(db_path: Path, config: Config, out: Path) -> Path:
    out.write_text(json.dumps(metadata(db_path, config), indent=2) + "\n", encoding="utf-8")
    return out


def datasette_installed() -> bool:
    return importlib.util.find_spec("datasette") is not None


def command(db_path: Path, metadata_path: Path, port: int) -> list[str]:
    """Serve read-only on loopback only."""
    return [
        sys.executable, "-m", "datasette", "serve",
        "--immutable", str(db_path),
        "--metadata", str(metadata_path),
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip


def browse(config: Config, port: int = 8001, open_browser: bool = True) -> int:
    """Write the metadata next to the store and run Datasette until it is stopped."""
    if not datasette_installed():
        raise ShadowitError(INSTALL_HINT)
    db_path = config.store_path
    if not db_path.exists():
        raise ShadowitError(
            f"{db_path}: no inventory yet; run `shadowit scan --config {config.file}` first"
        )
    meta = write_metadata(db_path, config, db_path.with_name(f"{db_path.stem}.datasette.json"))
    argv = command(db_path, meta, port)
    if open_browser:
        argv.append("--open")
    return subprocess.call(argv)
