"""What the CLI commands do, as library functions (the CLI only parses and prints)."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from reports import model as report_model
from reports.render import check_formats, render, report_formats
from scanner.analysis import diff as diffing
from scanner.app import notify, preflight
from scanner.app.config import Config
from scanner.app.pipeline import run_scan
from scanner.app.refresh import reconcile_latest
from scanner.core.errors import ShadowitError
from scanner.core.paths import os_reason
from scanner.store.database import Store
from scanner.store.reconciliations import Reconciliation


@contextmanager
def open_store(config: Config, clock: Callable[[], datetime] | None = None) -> Iterator[Store]:
    path = config.store_path
    if not path.exists():
        raise ShadowitError(
            f"{path}: no inventory yet; run `shadowit scan --config {config.file}` first"
        )
    store = Store.open(path, clock) if clock else Store.open(path)
    try:
        yield store
    finally:
        store.close()


def scan_and_report(
    config: Config,
    *,
    full: bool = False,
    wait: bool = False,
    only: Sequence[str] = (),
    with_report: bool = True,
    now: datetime | None = None,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] | None = None,
    out: Path | None = None,
    progress: Callable[[str, str], None] | None = None,
    allow_empty: bool = False,
) -> dict[str, Any]:
    """Scan, then write the reports; return the summary the CLI prints."""
    formats = check_formats(config.report.formats)
    notify_urls = notify.notification_urls(config)  # a bad [notify] fails before scanning
    report_folder = out or config.path(config.report.out)
    if with_report:
        preflight.before_reports(config, report_folder)
    result = run_scan(
        config,
        full=full,
        wait=wait,
        only=only,
        now=now,
        session=session,
        sleep=sleep,
        progress=progress,
        allow_empty=allow_empty,
    )
    written: list[Path] = []
    with open_store(config) as store:
        model = report_model.build(
            store, config, result.scan_id, redact_users=config.report.redact_users, now=now
        )
    if with_report:
        written = _render(
            model, report_folder, formats, after_scan=True, csv_bom=config.report.csv_bom
        )
    summary = summary_of(model)
    summary.update(
        exit_code=result.exit_code,
        written=[str(p) for p in written],
        new_apps=model["changes"]["new_apps"],
    )
    outcome = notify.after_scan(config, result.scan_id, urls=notify_urls, now=now)
    summary["notification"] = outcome.line()
    return summary


def summary_of(model: dict[str, Any]) -> dict[str, Any]:
    s = model["summary"]
    return {
        "scan_id": model["scan"]["id"],
        "full": model["scan"]["full"],
        "organisation": model["organisation"],
        "sources": model["scan"]["sources"],
        "apps": s["apps"],
        "marketing_apps": s["marketing_apps"],
        "unsanctioned": s["unsanctioned"],
        "unsanctioned_marketing": s["unsanctioned_marketing"],
        "open_findings": s["open_findings"],
        "findings_by_severity": s["findings_by_severity"],
    }


@dataclass(frozen=True)
class ReportRun:
    """What ``write_reports`` did: the files written and the reconciliation it ran first."""

    written: list[Path]
    reconciliation: Reconciliation | None = None


def write_reports(
    config: Config,
    scan_id: int | None = None,
    formats: Sequence[str] = ("html", "json", "csv", "xlsx"),
    out: Path | None = None,
    redact: bool = False,
    now: datetime | None = None,
    refresh: bool = False,
) -> ReportRun:
    """Render the reports of ``scan_id`` (default: the latest finished scan).

    ``refresh``: first reconcile the latest scan's inventory again with the owners' answers and
    the policy in force (``scanner.app.refresh``; no provider is called); a report on an
    earlier scan is rendered as that scan left it."""
    formats = check_formats([f.strip() for f in formats if f.strip()])
    folder = out or config.path(config.report.out)
    preflight.before_reports(config, folder)
    done = None
    if refresh:
        with open_store(config) as store:
            latest = store.latest_scan()
        if scan_id is None or scan_id == latest:
            done = reconcile_latest(config, now=now)
    with open_store(config) as store:
        model = report_model.build(store, config, scan_id, redact_users=redact, now=now)
    return ReportRun(_render(model, folder, formats, csv_bom=config.report.csv_bom), done)


def _render(
    model: dict[str, Any],
    folder: Path,
    formats: Sequence[str],
    after_scan: bool = False,
    csv_bom: bool = True,
) -> list[Path]:
    """``render``, its I/O failures one line: the previous report set stays as it was."""
    try:
        return render(model, folder, formats, report_formats(csv_bom=csv_bom))
    except OSError as err:
        kept = (
            "the scan is saved (`shadowit report` writes the reports again); " if after_scan else ""
        )
        raise ShadowitError(
            f"report.out: cannot write the reports to {folder}: {os_reason(err)}; {kept}"
            "the previous reports are unchanged; fix that, or set [report] out (or --out) to "
            "another folder"
        ) from None


def diff_latest(config: Config, since: str | None) -> diffing.Diff:
    with open_store(config) as store:
        scan = store.latest_scan()
        if scan is None:
            raise ShadowitError("no finished scan yet; run `shadowit scan` first")
        return diffing.diff(store, scan, diffing.resolve_since(store, scan, since))


def whoami() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
