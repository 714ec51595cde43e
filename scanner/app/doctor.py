"""``shadowit doctor``: is this installation ready to scan? One Probe row per capability.

It validates what a scan would validate before touching a provider (the severity overrides,
the catalog additions, the sanctioned list, ``[notify]``) and runs the scan's pre-flight
(``scanner.app.preflight``): the store and the report folder can be written, every file a
setting names can be read, ``[confirm]`` (when the config has it) has its signing key, and its
SMTP server answers (or its message folder can be written). Then it builds each enabled
connector and runs its ``check()``: a token, then the cheapest call per permission or scope,
each row naming what is missing and where to grant it. Nothing is written: no store or folder
is created, no mail and no notification is sent.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

import connectors
from connectors.base import ConnectorContext, Probe
from scanner.analysis import sanctions
from scanner.analysis.catalog import Catalog
from scanner.analysis.reconcile import check_severity_overrides
from scanner.app import notify, preflight
from scanner.app.config import Config, enabled_sources
from scanner.core.errors import ConfigError, ShadowitError
from scanner.core.paths import write_problem

CONFIG = "config"


def diagnose(
    config: Config,
    *,
    only: Sequence[str] = (),
    session: requests.Session | None = None,
    sleep: Callable[[float], None] | None = None,
    now: datetime | None = None,
) -> Iterator[Probe]:
    """Yield a Probe for the config, the store, notifications and every enabled source."""
    yield from check_config(config)
    yield check_store(config.store_path)
    yield check_reports(config)
    sources = enabled_sources(config, only)
    unreadable = list(preflight.unreadable_files(config, sources))
    yield from file_rows(unreadable)
    yield from check_confirm(config)
    yield check_notify(config)
    if not sources:
        yield Probe(
            CONFIG,
            "sources",
            False,
            "no source is enabled",
            "add a [sources.<name>] table (see config.example.toml)",
        )
    context = ConnectorContext(
        config_path=config.file, now=now or datetime.now(UTC), session=session, sleep=sleep
    )
    for name, settings in sources.items():
        if any(p.setting.startswith(f"sources.{name}.") for p in unreadable):
            continue  # its row above says which file to fix; every probe would fail on it
        yield from check_source(name, settings, context)


def ready(probes: Sequence[Probe]) -> bool:
    return bool(probes) and all(p.ok for p in probes)


def check_config(config: Config) -> Iterator[Probe]:
    """What a scan validates before it touches a provider."""
    base = config.file.parent if config.file else None
    try:
        check_severity_overrides(config.policy.severity)
        catalog = Catalog.load(config.catalog, base)
        entries = sanctions.load(config.sanctioned, base, catalog)
    except ShadowitError as err:
        yield Probe(CONFIG, "policy", False, str(err), _config_fix(config))
        return
    yield Probe(
        CONFIG,
        "policy",
        True,
        f"{config.file or 'config'} is valid: catalog loaded, {len(entries)} sanctioned-list "
        "entries",
    )


def check_store(path: Path) -> Probe:
    """The inventory can be opened for writing (or created); nothing is written."""
    problem = write_problem(path, folder=False)
    if problem is not None:
        return Probe(
            "store",
            "inventory",
            False,
            f"{path}: cannot write the inventory: {problem}",
            "set [store] path to a file in a folder this user can write (the lock, -wal and "
            "-shm files go beside it), or chown the file and folder to this user",
        )
    if path.exists():
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                finished = db.execute(
                    "SELECT count(*), max(finished) FROM scan_runs WHERE status = 'finished'"
                ).fetchone()
        except sqlite3.DatabaseError as err:
            return Probe(
                "store",
                "inventory",
                False,
                f"{path}: cannot read the inventory ({err})",
                "restore it from a backup or move it aside to start a new inventory",
            )
        last = f", last {finished[1]}" if finished[1] else ""
        return Probe("store", "inventory", True, f"{path}: {finished[0]} finished scans{last}")
    return Probe("store", "inventory", True, f"{path}: will be created by the first scan")


def check_reports(config: Config) -> Probe:
    """The report folder can be written (or created)."""
    folder = config.path(config.report.out)
    problem = preflight.report_problem(config, folder)
    if problem is not None:
        return Probe("report", "out", False, problem.detail, problem.fix)
    return Probe("report", "out", True, f"{folder}: writable")


def file_rows(problems: Sequence[preflight.Problem]) -> Iterator[Probe]:
    """A row per file a setting names that cannot be read (CA bundles, keys, catalog files),
    or one row saying they all can."""
    for problem in problems:
        yield Probe(CONFIG, problem.setting, False, problem.detail, problem.fix)
    if not problems:
        yield Probe(CONFIG, "files", True, "every file the settings name can be read")


def check_confirm(config: Config) -> Iterator[Probe]:
    """``[confirm]``, when the config has it: the signing key, and the SMTP server (which
    must answer) or the message folder (which must be writable)."""
    if "confirm" not in config.tables:
        return
    key = preflight.confirm_problem(config)
    if key is not None:
        yield Probe("confirm", "signing key", False, key.detail, key.fix)
    else:
        yield Probe("confirm", "signing key", True, "set and long enough")
    if config.confirm.smtp_host:
        smtp = preflight.smtp_problem(config)
        if smtp is not None:
            yield Probe("confirm", "smtp", False, smtp.detail, smtp.fix)
        else:
            yield Probe("confirm", "smtp", True, f"{config.confirm.smtp_host} answers")
        return
    files = preflight.message_folder_problem(config)
    if files is not None:
        yield Probe("confirm", "out", False, files.detail, files.fix)
    else:
        yield Probe("confirm", "out", True, f"{config.path(config.confirm.out)}: writable")


def check_notify(config: Config) -> Probe:
    try:
        urls = notify.notification_urls(config)
    except ConfigError as err:
        return Probe("notify", "urls", False, str(err), "see [notify] in config.example.toml")
    if not urls:
        return Probe("notify", "urls", True, "off ([notify] urls_env is not set)")
    mode = "one daily digest" if config.notify.digest else "after every scan"
    return Probe(
        "notify",
        "urls",
        True,
        f"{len(urls)} target(s), {mode}, findings {config.notify.min_severity} and above",
    )


def check_source(name: str, settings: Any, context: ConnectorContext) -> Iterator[Probe]:
    """Build the connector (settings and secrets) and run its own probes."""
    spec = connectors.get(name)
    try:
        connector = spec.factory(settings, context)
    except ShadowitError as err:
        yield Probe(name, "settings", False, str(err), f"fix [sources.{name}] (docs/{name}.md)")
        return
    try:
        yield from connector.check()
    except ShadowitError as err:
        yield Probe(name, "probe", False, str(err), f"see docs/{name}.md, Troubleshooting")


def as_rows(probes: Sequence[Probe]) -> list[dict[str, Any]]:
    return [asdict(p) for p in probes]


def _config_fix(config: Config) -> str:
    return f"edit {config.file}" if config.file else "edit the config"
