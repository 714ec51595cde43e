"""``shadowit browse``: the inventory in Datasette, with canned queries for the reviewer.

Datasette is an optional extra (``pip install -e '.[browse]'`` in a source checkout,
``pip install 'shadow-it-scanner[browse]'`` where the package was installed from a wheel). The
store is served read-only (``--immutable``) on 127.0.0.1, with a generated metadata file holding
the canned queries below. Datasette runs as a child process in its own session: SIGINT or
SIGTERM to ``shadowit browse`` stops it (SIGTERM, then SIGKILL after ``STOP_GRACE_SECONDS``)
and ``shadowit browse`` ends only once it is gone.

Canned queries live under ``databases.<name>.queries`` in the metadata file (Datasette 0.x;
https://docs.datasette.io/en/0.64/sql_queries.html#canned-queries), and the database name is
the file name without its extension
(https://docs.datasette.io/en/0.64/metadata.html#per-database-and-per-table-metadata).

The queries are plain SQLite over the store's tables, so the tests run each one with sqlite3
against a real store; the policy numbers (dormant days) and the high-risk permissions (from the
scope table, for the scopes actually granted) are written into the SQL when it is generated.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from scanner.analysis.risk import ScopeTable
from scanner.core.config import Config
from scanner.core.errors import ShadowitError
from scanner.core.paths import os_reason
from scanner.store.findings import open_sql

DISTRIBUTION = "shadow-it-scanner"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOP_GRACE_SECONDS = 5.0
"""How long Datasette (uvicorn, which ends its connections on SIGTERM) gets before SIGKILL."""
POLL_SECONDS = 0.2
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
         WHERE f.app_key = s.app_key AND {open_sql("f")}) AS open_findings
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
    """Write the metadata file ``out``; an I/O failure is one line naming the file and fix."""
    text = json.dumps(metadata(db_path, config), indent=2) + "\n"
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as err:
        raise ShadowitError(
            f"{out}: cannot write the Datasette metadata ({os_reason(err, out)}); shadowit browse "
            f"writes it beside the inventory, so this user needs write access to {out.parent} "
            "(or move what is in the way)"
        ) from None
    return out


def datasette_installed() -> bool:
    return importlib.util.find_spec("datasette") is not None


def install_hint(
    distributions: Iterable[importlib.metadata.Distribution] | None = None,
    here: Path = Path(__file__),
) -> str:
    """How to add the ``browse`` extra to this copy of shadowit: in its checkout for an
    editable install, by the package's name for one installed from a wheel."""
    checkout = source_checkout(distributions, here)
    if checkout is not None:
        return f"datasette is not installed; in {checkout} run: pip install -e '.[browse]'"
    return f"datasette is not installed: pip install '{DISTRIBUTION}[browse]'"


def source_checkout(
    distributions: Iterable[importlib.metadata.Distribution] | None = None,
    here: Path = Path(__file__),
) -> Path | None:
    """The source checkout this copy runs from, or None when it was installed from a wheel.

    pip records where a distribution came from in its ``direct_url.json``
    (https://packaging.python.org/en/latest/specifications/direct-url-data-structure/): an
    editable install has ``dir_info.editable`` and the checkout's ``file://`` URL; a wheel
    from an index has no such file, a wheel file ``archive_info``. Run from a tree with no
    install record at all (``PYTHONPATH``), the ``pyproject.toml`` above the packages says so.
    """
    found = (
        importlib.metadata.distributions(name=DISTRIBUTION)
        if distributions is None
        else distributions
    )
    for dist in found:
        text = dist.read_text("direct_url.json")
        if not text:
            continue  # a wheel from an index, or a checkout's own .egg-info
        try:
            origin = json.loads(text)
        except ValueError:
            continue
        if not isinstance(origin, dict):
            continue
        dir_info = origin.get("dir_info")
        url = origin.get("url")
        if isinstance(dir_info, dict) and dir_info.get("editable") and isinstance(url, str):
            return Path(url2pathname(urlsplit(url).path))
        return None
    root = here.resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() else None


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
        raise ShadowitError(install_hint())
    db_path = config.store_path
    if not db_path.exists():
        raise ShadowitError(
            f"{db_path}: no inventory yet; run `shadowit scan --config {config.file}` first"
        )
    meta = write_metadata(db_path, config, db_path.with_name(f"{db_path.stem}.datasette.json"))
    argv = command(db_path, meta, port)
    if open_browser:
        argv.append("--open")
    return run_until_stopped(argv)


def run_until_stopped(argv: list[str], grace: float = STOP_GRACE_SECONDS) -> int:
    """Run ``argv`` and wait for it; SIGINT or SIGTERM to this process stops it.

    The child gets its own session, so a terminal's Ctrl-C reaches this process only and the
    child is stopped once, by SIGTERM; one still running ``grace`` seconds later is killed.
    Returns 0 after a stop asked for by a signal, the child's exit code when it ended by
    itself. The child is never left running, whatever ends this function.
    """
    asked: list[float] = []
    child: subprocess.Popen[bytes] | None = None

    def stop(_signum: int, _frame: FrameType | None) -> None:
        if not asked:
            asked.append(time.monotonic())
            if child is not None and child.returncode is None:
                child.terminate()

    previous = _handle(STOP_SIGNALS, stop)
    try:
        child = subprocess.Popen(argv, start_new_session=True)
        if asked:  # a signal came before the child existed
            child.terminate()
        while True:
            try:
                code = child.wait(POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                if asked and time.monotonic() - asked[0] >= grace:
                    child.kill()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()
    return 0 if asked else code


def _handle(signals: Iterable[signal.Signals], handler: Any) -> dict[signal.Signals, Any]:
    """Install ``handler`` for ``signals`` (only the main thread may); the previous ones."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, handler) for sig in signals}
