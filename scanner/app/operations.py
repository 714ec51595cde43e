"""What the CLI commands do, as library functions (the CLI only parses and prints)."""

from __future__ import annotations

import getpass
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import requests

from reports import model as report_model
from reports.render import check_formats, render
from scanner.analysis import diff as diffing
from scanner.analysis import sanctions
from scanner.analysis.catalog import Catalog
from scanner.app import notify
from scanner.app.config import Config
from scanner.app.pipeline import run_scan
from scanner.core.errors import ShadowitError
from scanner.core.models import SanctionEntry
from scanner.store import sanctions as stored_sanctions
from scanner.store.database import Store


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
) -> dict[str, Any]:
    """Scan, then write the reports; return the summary the CLI prints."""
    formats = check_formats(config.report.formats)
    notify_urls = notify.notification_urls(config)  # a bad [notify] fails before scanning
    result = run_scan(
        config,
        full=full,
        wait=wait,
        only=only,
        now=now,
        session=session,
        sleep=sleep,
        progress=progress,
    )
    written: list[Path] = []
    with open_store(config) as store:
        model = report_model.build(
            store, config, result.scan_id, redact_users=config.report.redact_users, now=now
        )
    if with_report:
        written = render(model, out or config.path(config.report.out), formats)
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
        "organisation": model["organisation"],
        "sources": model["scan"]["sources"],
        "apps": s["apps"],
        "marketing_apps": s["marketing_apps"],
        "unsanctioned": s["unsanctioned"],
        "unsanctioned_marketing": s["unsanctioned_marketing"],
        "open_findings": s["open_findings"],
        "findings_by_severity": s["findings_by_severity"],
    }


def write_reports(
    config: Config,
    scan_id: int | None = None,
    formats: Sequence[str] = ("html", "json", "csv", "xlsx"),
    out: Path | None = None,
    redact: bool = False,
    now: datetime | None = None,
) -> list[Path]:
    formats = check_formats([f.strip() for f in formats if f.strip()])
    with open_store(config) as store:
        model = report_model.build(store, config, scan_id, redact_users=redact, now=now)
    return render(model, out or config.path(config.report.out), formats)


def diff_latest(config: Config, since: str | None) -> diffing.Diff:
    with open_store(config) as store:
        scan = store.latest_scan()
        if scan is None:
            raise ShadowitError("no finished scan yet; run `shadowit scan` first")
        return diffing.diff(store, scan, diffing.resolve_since(store, scan, since))


def record_sanction(
    config: Config,
    app: str,
    status: str,
    owner: str | None = None,
    team: str | None = None,
    purpose: str | None = None,
    scopes: str | None = None,
    review_by: str | None = None,
    notes: str | None = None,
) -> SanctionEntry:
    catalog = Catalog.load(config.catalog, config.file.parent if config.file else None)
    row: dict[str, Any] = {"app": app, "status": status}
    for key, value in (
        ("owner", owner),
        ("team", team),
        ("purpose", purpose),
        ("review_by", review_by),
        ("notes", notes),
    ):
        if value:
            row[key] = value
    if scopes:
        row["approved_scopes"] = [s for s in re.split(r"[,\s]+", scopes) if s]
    entry = sanctions.parse_entry(row, "shadowit sanction", catalog, error=ShadowitError)
    store = Store.open(config.store_path)
    try:
        stored_sanctions.record_sanction(
            store, entry, entry.approved_on or date.today(), datetime.now(UTC)
        )
    finally:
        store.close()
    return entry


def whoami() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
