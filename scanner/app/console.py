"""What the command line prints: the scan summary, a diff, live progress; provider text escaped.

Every string that came from a provider goes through ``scanner.core.names.one_line`` (visible
escapes for control, bidi and zero-width characters, cut to a width) and is printed without
rich markup, so a name can never move the cursor, retitle the window or forge a line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from scanner.core.names import LINE_WIDTH, NAME_WIDTH, one_line
from scanner.core.words import plural
from scanner.store.reconciliations import Reconciliation


def console() -> Console:
    return Console(highlight=False, soft_wrap=True)


@contextmanager
def terminal_progress() -> Iterator[Callable[[str, str], None] | None]:
    """A live line per source on an interactive terminal; nothing when logged or piped."""
    if not sys.stderr.isatty():
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.fields[source]}"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def report(source: str, message: str) -> None:
            if source not in tasks:
                tasks[source] = bar.add_task(message, source=source)
            bar.update(tasks[source], description=one_line(message))

        yield report


def format_diff(change: Any) -> str:
    if change.empty:
        since = f"scan {change.since_scan}" if change.since_scan else "the first scan"
        return f"No changes between {since} and scan {change.scan}."
    lines = [f"Changes from scan {change.since_scan} to scan {change.scan}:"]
    for label, items in (
        ("New apps", change.new_apps),
        ("Gone apps", change.gone_apps),
        ("Findings opened", change.findings_opened),
        ("Findings resolved", change.findings_resolved),
    ):
        if items:
            lines.append(f"  {label}: {_names(items)}")
    for n in change.new_users:
        lines.append(f"  New users of {_names([n['app']])}: {_names(n['users'])}")
    for e in change.scope_escalations:
        lines.append(f"  {_names([e['app']])} gained scopes: {_names(e['scopes'])}")
    return "\n".join(lines)


def _names(items: Any) -> str:
    """Provider names for one line of a listing, each escaped and cut."""
    return ", ".join(one_line(item, NAME_WIDTH) for item in items)


MESSAGE_WIDTH = 2000
"""Characters of one printed message (an error with its fix) kept; provider text is cut."""
WARNINGS_SHOWN = 5
"""Warnings printed per source; the rest are counted (all are in report.json, up to 200)."""


def reconciliation_line(done: Reconciliation) -> str:
    """What ``shadowit report`` reconciled before it rendered, in one line."""
    if not done.changed:
        return (
            f"Reconciled scan {done.scan_id} with the owners' answers and the policy in force: "
            "no finding changed."
        )
    parts = [
        f"{count:,} {word}"
        for word, count in (
            ("opened", done.opened),
            ("reopened", done.reopened),
            ("open again as their acceptance ended", done.expired),
            ("resolved", done.resolved),
        )
        if count
    ]
    return (
        f"Reconciled scan {done.scan_id} with the owners' answers and the policy in force: "
        f"{plural(done.changed, 'finding')} changed ({', '.join(parts)})."
    )


def scan_kind(full: bool | None) -> str:
    """``full`` when no source resumed from a stored cursor (``--full``, or the first scan of
    an inventory), else ``incremental``."""
    return "full" if full else "incremental"


def source_lines(s: dict[str, Any]) -> list[str]:
    """One source's line in the summary, then its first warnings and a count of the rest."""
    note = f": {s['error']}" if s.get("error") else ""
    skipped = f" (not collected: {'; '.join(s['skipped'])})" if s.get("skipped") else ""
    count = int(s.get("warning_count") or 0)
    warned = f", {plural(count, 'warning')}" if count else ""
    lines = [
        one_line(
            f"  source {s['source']}: {s['status']}, {plural(s['records'], 'record')}{warned}"
            f"{skipped}{note}",
            MESSAGE_WIDTH,
        )
    ]
    shown = list(s.get("warnings") or ())[: min(count, WARNINGS_SHOWN)]
    # A warning quotes provider text (names, addresses, file cells): one line, cut.
    lines.extend(f"    warning: {one_line(w, LINE_WIDTH)}" for w in shown)
    if count > len(shown):
        lines.append(f"    ... and {plural(count - len(shown), 'more warning')}")
    return lines


def print_summary(summary: dict[str, Any]) -> None:
    out = console()
    organisation = escape(one_line(summary["organisation"], NAME_WIDTH))
    kind = scan_kind(summary.get("full"))
    out.print(f"[bold]shadowit scan {summary['scan_id']}[/bold] ({kind}) of {organisation}")
    for s in summary["sources"]:
        for line in source_lines(s):
            out.print(line, markup=False)
    unsanctioned = summary["unsanctioned"]
    out.print(
        f"  apps found: {summary['apps']:,}  marketing apps: {summary['marketing_apps']:,}  "
        f"unsanctioned: {unsanctioned:,} ({summary['unsanctioned_marketing']:,} of them marketing)"
    )
    by_sev = ", ".join(f"{v:,} {k}" for k, v in summary["findings_by_severity"].items() if v)
    out.print(f"  open findings: {summary['open_findings']:,}" + (f" ({by_sev})" if by_sev else ""))
    if summary.get("new_apps"):
        new_apps = _names(summary["new_apps"])
        out.print(f"  new since the last scan: {new_apps}", markup=False)
    for path in summary.get("written", []):
        out.print(f"  wrote {one_line(path, None)}", markup=False)
