"""The ``shadowit`` command: parse, load config, call one library function, print.

Exit codes: 0 success; 2 configuration or credential error; 3 the scan completed but a source
failed or was partial; 4 ``--fail-on SEVERITY`` met by an open finding.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from scanner import __version__
from scanner.app import config as configuration
from scanner.app.cli_export import export
from scanner.app.cli_options import config_option
from scanner.app.cli_policy import accept, acknowledge, findings, policy, sanction
from scanner.app.console import (
    MESSAGE_WIDTH,
    console,
    format_diff,
    print_summary,
    reconciliation_line,
    terminal_progress,
)
from scanner.core import logs
from scanner.core.errors import ConfigError, ShadowitError
from scanner.core.models import SEVERITIES
from scanner.core.names import one_line
from scanner.core.words import plural

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES_HELP = (
    "Exit codes: 0 success; 2 configuration or credential error, a file that cannot be read or "
    "written, a wrong option, or another scan holds the lock; 3 a source failed or was partial; "
    "4 --fail-on threshold met; 1 only for a bug (it prints a traceback)."
)


def errors_to_exit(func: F) -> F:
    """Expected failures print one line and exit with their code; bugs keep the traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ShadowitError as err:
            # Messages carry provider text (names, error bodies): escaped, one line.
            click.echo(f"Error: {one_line(str(err), MESSAGE_WIDTH)}", err=True)
            sys.exit(err.exit_code)

    return wrapper  # type: ignore[return-value]


@click.group(
    help="Shadow-IT discovery and SaaS inventory from your identity providers.\n\n"
    + EXIT_CODES_HELP
)
@click.version_option(__version__, prog_name="shadowit")
@click.option(
    "--log-level",
    default="warning",
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="How much to log to stderr.",
)
@click.option(
    "--log-format",
    default="text",
    type=click.Choice(["text", "json"]),
    help="Log lines as text or JSON.",
)
def main(log_level: str, log_format: str) -> None:
    logs.configure(log_level, log_format)


@main.command()
@click.option(
    "--out",
    default="demo-output",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the reports and the inventory.",
)
@errors_to_exit
def demo(out: Path) -> None:
    """Run the whole pipeline on the embedded demo tenant and write the reports.

    Example: shadowit demo --out demo-output
    """
    from scanner.app.demo import run_demo

    summary = run_demo(out)
    print_summary(summary)


@main.command()
@config_option
@click.option(
    "--full",
    is_flag=True,
    help="Ignore stored cursors, sweep every source in full and resolve every app again.",
)
@click.option("--wait", is_flag=True, help="Wait for another running scan instead of exiting.")
@click.option("--source", "only", multiple=True, help="Scan only this source (repeatable).")
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITIES[:-1]),
    help="Exit 4 if an open finding is at or above this severity.",
)
@click.option(
    "--report/--no-report", "with_report", default=True, help="Write the reports after the scan."
)
@click.option(
    "--allow-empty",
    is_flag=True,
    help="With no enabled source, re-analyse the stored inventory instead of refusing.",
)
@errors_to_exit
def scan(
    config_path: Path,
    full: bool,
    wait: bool,
    only: tuple[str, ...],
    fail_on: str | None,
    with_report: bool,
    allow_empty: bool,
) -> None:
    """Scan every enabled source into the inventory, reconcile and report.

    Example: shadowit scan --config config.toml --fail-on high

    Before any source is read it checks the config has an enabled source, that the files it
    names are readable, that the store and report folders are writable, and [confirm]'s key.

    Exit codes: 0 success; 2 configuration or credential error, a write error, or another scan
    holds the lock (use --wait); 3 completed but a source failed or was partial; 4 --fail-on met.
    """
    from scanner.app.operations import scan_and_report

    cfg = configuration.load(config_path)
    with terminal_progress() as progress:
        summary = scan_and_report(
            cfg,
            full=full,
            wait=wait,
            only=only,
            with_report=with_report,
            progress=progress,
            allow_empty=allow_empty,
        )
    print_summary(summary)
    if summary.get("notification"):
        click.echo(f"  {one_line(summary['notification'], MESSAGE_WIDTH)}")
    code = summary["exit_code"]
    if code == 0 and fail_on and _count_at_or_above(summary["findings_by_severity"], fail_on):
        code = 4
    sys.exit(code)


@main.command()
@config_option
@click.option(
    "--scan", "scan_id", type=int, help="Report on this scan (default: the latest finished)."
)
@click.option(
    "--format", "formats", default=None, help="Comma-separated: html,json,csv,xlsx,ocsf,cyclonedx."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: [report] out).",
)
@click.option("--redact-users", is_flag=True, help="Replace user emails with stable pseudonyms.")
@click.option(
    "--refresh/--no-refresh",
    default=True,
    help="Reconcile the latest scan again with owners' answers and the policy in force before "
    "rendering (no provider is called; default: on).",
)
@errors_to_exit
def report(
    config_path: Path,
    scan_id: int | None,
    formats: str | None,
    out: Path | None,
    redact_users: bool,
    refresh: bool,
) -> None:
    """Render the reports from the inventory without rescanning.

    The latest scan is first reconciled again with what owners answered and the policy in
    force (sanctioned list and `shadowit sanction`), so the report is current; no source is
    read. --no-refresh renders it exactly as the scan left it.

    Example: shadowit report --config config.toml --format html,json --redact-users
    """
    from scanner.app.operations import write_reports

    cfg = configuration.load(config_path)
    chosen = formats.split(",") if formats else list(cfg.report.formats)
    run = write_reports(
        cfg,
        scan_id=scan_id,
        formats=chosen,
        out=out,
        redact=redact_users or cfg.report.redact_users,
        refresh=refresh,
    )
    if run.reconciliation is not None:
        click.echo(reconciliation_line(run.reconciliation))
    for path in run.written:
        click.echo(str(path))


@main.command()
@config_option
@click.option("--since", help="A scan id or a date (default: the previous scan).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@errors_to_exit
def diff(config_path: Path, since: str | None, as_json: bool) -> None:
    """List what changed since a scan or date: apps, users, scopes, findings.

    Example: shadowit diff --config config.toml --since 2026-11-01
    """
    from scanner.app.operations import diff_latest

    cfg = configuration.load(config_path)
    change = diff_latest(cfg, since)
    if as_json:
        click.echo(json.dumps(change.as_dict(), indent=2))
        return
    click.echo(format_diff(change))


@main.command()
@config_option
@errors_to_exit
def scans(config_path: Path) -> None:
    """List scan runs and how each source ended.

    Example: shadowit scans --config config.toml
    """
    from scanner.app.operations import open_store
    from scanner.store import reconciliations

    cfg = configuration.load(config_path)
    table = Table("Scan", "Started", "Finished", "Status", "Sources", "Reconciled again")
    with open_store(cfg) as store:
        for run in store.scans(status=None):
            states = ", ".join(f"{s.source} {s.status}" for s in store.source_runs(run["id"]))
            again = reconciliations.of_scan(store, run["id"])
            # `shadowit report` re-reads answers and policy against the latest scan.
            reconciled = f"{plural(len(again), 'time')}, last {again[-1].at}" if again else ""
            table.add_row(
                str(run["id"]),
                run["started"],
                run["finished"] or "",
                run["status"],
                states,
                reconciled,
            )
    console().print(table)


def _guarded(command: click.Command) -> click.Command:
    """A command defined in another module, with this module's ``errors_to_exit``."""
    assert command.callback is not None
    command.callback = errors_to_exit(command.callback)
    return command


main.add_command(_guarded(findings))
main.add_command(_guarded(accept))
main.add_command(_guarded(acknowledge))
main.add_command(_guarded(sanction))
main.add_command(_guarded(policy))
main.add_command(_guarded(export))


@main.group()
def catalog() -> None:
    """Inspect the SaaS catalog used to recognise apps."""


@catalog.command("stats")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Include the config's catalog additions.",
)
@errors_to_exit
def catalog_stats(config_path: Path | None) -> None:
    """Print the catalog's size and apps per category.

    Example: shadowit catalog stats
    """
    from scanner.analysis.catalog import Catalog

    cfg = configuration.load(config_path) if config_path else None
    cat = Catalog.load(cfg.catalog if cfg else None, cfg.file.parent if cfg and cfg.file else None)
    stats = cat.stats()
    click.echo(json.dumps(stats, indent=2, default=str))


@catalog.command("show")
@click.argument("name")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Include the config's catalog additions.",
)
@errors_to_exit
def catalog_show(name: str, config_path: Path | None) -> None:
    """Print one catalog entry with where each field came from.

    Example: shadowit catalog show "HubSpot"
    """
    from scanner.analysis.catalog import Catalog, describe

    cfg = configuration.load(config_path) if config_path else None
    cat = Catalog.load(cfg.catalog if cfg else None, cfg.file.parent if cfg and cfg.file else None)
    entry = cat.find(name)
    if entry is None:
        suggestion = cat.suggest(name)
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        raise ConfigError(f"no catalog app named {name!r}{hint} (see: shadowit catalog stats)")
    click.echo(json.dumps(describe(entry), indent=2))


def _count_at_or_above(by_severity: dict[str, int], threshold: str) -> int:
    levels = SEVERITIES[: SEVERITIES.index(threshold) + 1]
    return sum(by_severity.get(level, 0) for level in levels)


@main.command()
@config_option
@click.option("--source", "only", multiple=True, help="Check only this source (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows instead of a table.")
@errors_to_exit
def doctor(config_path: Path, only: tuple[str, ...], as_json: bool) -> None:
    """Check the config, the store, notifications and every source's token and permissions.

    The store and report folders must be writable, every file a setting names readable, and
    [confirm] (when set up) needs its signing key and a reachable SMTP server. Each source gets
    a token and probes every permission or scope with its cheapest call; the table says what
    works and exactly what is missing and where to grant it. Nothing is written. Exit 0 only
    when everything is ready, 2 otherwise.

    Example: shadowit doctor --config config.toml
    """
    from rich.markup import escape

    from scanner.app.doctor import as_rows, diagnose, ready

    cfg = configuration.load(config_path)
    probes = list(diagnose(cfg, only=only))
    if as_json:
        click.echo(json.dumps(as_rows(probes), indent=2))
    else:
        table = Table("Source", "Check", "Status", "Detail", "Fix", show_lines=True)
        for p in probes:
            status = "[green]ok[/green]" if p.ok else "[red]missing[/red]"
            texts = (p.source, p.check, p.detail, p.fix or "")
            source, check, detail, fix = (escape(one_line(t, MESSAGE_WIDTH)) for t in texts)
            table.add_row(source, check, status, detail, fix)
        wide = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
        wide.print(table)
        verdict = "ready to scan" if ready(probes) else "not ready: fix the rows marked missing"
        click.echo(verdict)
    sys.exit(0 if ready(probes) else 2)


@main.group()
def confirm() -> None:
    """Ask marketing owners to confirm, disown or retire their tools (signed links)."""


@confirm.command("plan")
@config_option
@errors_to_exit
def confirm_plan(config_path: Path) -> None:
    """List the confirmation requests `confirm send` would deliver now; sends nothing.

    Example: shadowit confirm plan --config config.toml
    """
    from reports.confirm import plan_lines, plan_requests
    from scanner.app.operations import open_store

    cfg = configuration.load(config_path)
    with open_store(cfg) as store:
        planned = plan_requests(store, cfg)
    for line in plan_lines(planned):
        click.echo(one_line(line))


@confirm.command("send")
@config_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for message files when no SMTP host is set (default: [confirm] out).",
)
@errors_to_exit
def confirm_send(config_path: Path, out: Path | None) -> None:
    """Deliver the planned requests and due reminders by SMTP, or as .eml files plus a CSV.

    Example: SHADOWIT_CONFIRM_KEY=... shadowit confirm send --config config.toml
    """
    from reports.confirm import send_lines, send_requests
    from scanner.app.operations import open_store

    cfg = configuration.load(config_path)
    with open_store(cfg) as store:
        result = send_requests(store, cfg, out=out)
    for line in send_lines(result):
        click.echo(one_line(line, MESSAGE_WIDTH))
    sys.exit(3 if result.failed else 0)


@main.command()
@config_option
@click.option("--host", default=None, help="Address to bind (default: [confirm] host, 127.0.0.1).")
@click.option(
    "--port",
    default=None,
    type=click.IntRange(0, 65535),
    help="Port to bind (default: [confirm] port, 8765; 0 picks a free one).",
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    help="One line per request on stderr, at any --log-level (default: on; never a token).",
)
@errors_to_exit
def serve(config_path: Path, host: str | None, port: int | None, access_log: bool) -> None:
    """Serve the confirmation page the request links point to (behind a reverse proxy).

    Runs on waitress within the [confirm] limits: threads, idle_timeout, max_request_line,
    max_header_bytes (docs/confirm.md). SIGTERM or Ctrl-C stops it after the answers under
    way are sent, with exit 0.

    Example: SHADOWIT_CONFIRM_KEY=... shadowit serve --config config.toml --port 8765
    """
    import logging

    from reports.confirm.serving import ACCESS_LOGGER, serve_forever

    cfg = configuration.load(config_path)
    access = logging.getLogger(ACCESS_LOGGER)
    if access_log and not access.isEnabledFor(logging.INFO):
        access.setLevel(logging.INFO)
    serve_forever(cfg, host, port, say=click.echo, access_log=access_log)


@main.command()
@config_option
@click.option("--port", default=8001, show_default=True, type=int, help="Port on 127.0.0.1.")
@click.option("--no-open", is_flag=True, help="Do not open a browser window.")
@errors_to_exit
def browse(config_path: Path, port: int, no_open: bool) -> None:
    """Open the inventory in Datasette (read-only, on 127.0.0.1) with canned queries:
    unsanctioned marketing apps, risky grants, dormant grants. Needs the `browse` extra.
    Ctrl-C or SIGTERM stops Datasette too.

    Example: shadowit browse --config config.toml
    """
    from reports import browse as browsing

    if not browsing.datasette_installed():
        raise ShadowitError(browsing.install_hint())
    cfg = configuration.load(config_path)
    sys.exit(browsing.browse(cfg, port=port, open_browser=not no_open))
