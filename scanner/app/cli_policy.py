"""The decision commands: ``findings``, ``accept``, ``acknowledge``, ``sanction`` and ``policy``.

They are registered on the ``shadowit`` group in ``scanner.app.cli``, which wraps each in its
``errors_to_exit`` (an expected failure is one line and its exit code; a usage mistake here is
one line and exit 2). This module only parses, calls the library (``scanner.analysis.findings``,
``scanner.analysis.sanction_changes``) and prints.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.markup import escape
from rich.table import Column, Table

from scanner.app import config as configuration
from scanner.app.cli_options import config_option
from scanner.app.console import MESSAGE_WIDTH, console
from scanner.core.errors import ShadowitError
from scanner.core.names import NAME_WIDTH, one_line
from scanner.core.words import label

if TYPE_CHECKING:
    from scanner.analysis.sanction_changes import Outcome

F = TypeVar("F", bound=Callable[..., Any])


# -- findings and decisions --------------------------------------------------------------
@click.command()
@config_option
@click.option(
    "--status",
    type=click.Choice(["open", "acknowledged", "accepted", "resolved"]),
    help="Only findings in this state (an acceptance whose end date has come is open).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def findings(config_path: Path, status: str | None, as_json: bool) -> None:
    """List findings with their state, most severe first, and who decided what, why and until
    when (acknowledged findings count as open; accepted ones do not until their end date).

    Example: shadowit findings --config config.toml --status open
    """
    from scanner.analysis import findings as lifecycle
    from scanner.app.operations import open_store

    cfg = configuration.load(config_path)
    with open_store(cfg) as store:
        rows = lifecycle.listing(store, status, datetime.now(UTC).date())
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    out = console()
    # The ID is what `accept` and `acknowledge` take: never cut it short. A table needs room;
    # a narrow terminal (or a pipe) gets two or three lines per finding instead.
    widest = max((len(r["id"]) for r in rows), default=2)
    if out.width < widest + 110:
        for r in rows:
            app = one_line(r["app_name"], NAME_WIDTH)
            state = f"{r['severity']}, {label('finding_status', r['status'])}"
            kind = label("finding_kind", r["kind"])
            out.print(f"{one_line(r['id'], None)}  [{state}] {app}: {kind}", markup=False)
            out.print(f"    {one_line('; '.join(r['reasons'][:2]))}", markup=False)
            if r["decision"]:
                out.print(f"    {one_line(r['decision'])}", markup=False)
        return
    table = Table(
        Column("ID", no_wrap=True, min_width=widest),
        "Severity",
        "App",
        "Kind",
        "Status",
        Column("Decision", ratio=1),
        Column("Why", ratio=1),
    )
    for r in rows:
        table.add_row(
            escape(one_line(r["id"], None)),
            r["severity"],
            escape(one_line(r["app_name"], NAME_WIDTH)),
            label("finding_kind", r["kind"]),
            label("finding_status", r["status"]),
            escape(one_line(r["decision"] or "")),
            escape(one_line("; ".join(r["reasons"][:2]))),
        )
    out.print(table)


def _decide(
    config_path: Path,
    finding_id: str,
    status: str,
    reason: str | None,
    actor: str | None,
    until: date | None,
) -> None:
    from scanner.analysis import findings as lifecycle
    from scanner.app.operations import open_store, whoami

    verb = "accept" if status == "accepted" else "acknowledge"
    if not (reason or "").strip():
        raise ShadowitError(
            f"shadowit {verb}: give --reason (why; it is kept in the finding's history)"
        )
    cfg = configuration.load(config_path)
    who = actor or whoami()
    with open_store(cfg) as store:
        row = lifecycle.decide(
            store, finding_id, status, who, str(reason), until, datetime.now(UTC)
        )
    if status == "acknowledged":
        said = f"acknowledged by {who}; still counted as open"
    elif row["decided_until"]:
        said = f"accepted until {row['decided_until']} by {who}; not counted as open until then"
    else:
        said = f"accepted with no end date by {who}; not counted as open"
    click.echo(f"{one_line(row['id'], None)}: {one_line(said, MESSAGE_WIDTH)}")


@click.command()
@config_option
@click.argument("finding_id")
@click.option("--reason", help="Why (kept in the finding's history).")
@click.option("--until", help="The day the acceptance ends (YYYY-MM-DD): open again from then.")
@click.option("--no-expiry", is_flag=True, help="Accept with no end date (instead of --until).")
@click.option("--by", "actor", default=None, help="Who decides (default: $USER).")
def accept(
    config_path: Path,
    finding_id: str,
    reason: str | None,
    until: str | None,
    no_expiry: bool,
    actor: str | None,
) -> None:
    """Accept a finding's risk, with a reason and an end date (or an explicit --no-expiry).

    An accepted finding is not counted as open (report, summary, --fail-on, notifications)
    until the day it ends.

    Example: shadowit accept --config config.toml cat:canva:unsanctioned --reason 'trial'
    --until 2026-12-31
    """
    if until is None and not no_expiry:
        raise ShadowitError(
            "shadowit accept: give --until YYYY-MM-DD (the day the acceptance ends) or "
            "--no-expiry (it never ends)"
        )
    if until is not None and no_expiry:
        raise ShadowitError("shadowit accept: give --until YYYY-MM-DD or --no-expiry, not both")
    day = _day("--until", until) if until is not None else None
    _decide(config_path, finding_id, "accepted", reason, actor, day)


@click.command()
@config_option
@click.argument("finding_id")
@click.option("--reason", help="Why (kept in the finding's history).")
@click.option("--by", "actor", default=None, help="Who decides (default: $USER).")
def acknowledge(config_path: Path, finding_id: str, reason: str | None, actor: str | None) -> None:
    """Acknowledge a finding (seen, being worked on); it is still counted as open.

    Example: shadowit acknowledge --config config.toml cat:canva:dormant --reason 'asked the
    owner'
    """
    _decide(config_path, finding_id, "acknowledged", reason, actor, None)


def _day(option: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ShadowitError(
            f"{option} {one_line(repr(value), 40)} is not a date like 2026-12-31"
        ) from None


# -- the policy --------------------------------------------------------------------------
FIELD_OPTIONS = (
    ("status", "--status", "sanctioned, tolerated or banned."),
    ("owner", "--owner", "Owner's email."),
    ("team", "--team", "Owning team."),
    ("purpose", "--purpose", "Business purpose."),
    ("approved_scopes", "--scopes", "Approved scopes, comma or space separated."),
    ("data_classification", "--data-classification", "Data classification."),
    ("approved_on", "--approved-on", "Approval date (YYYY-MM-DD)."),
    ("review_by", "--review-by", "Review date (YYYY-MM-DD)."),
    ("notes", "--notes", "Notes."),
    ("renewal_date", "--renewal-date", "Contract renewal date (YYYY-MM-DD)."),
    ("notice_days", "--notice-days", "Days of notice before the renewal date."),
    ("annual_cost", "--annual-cost", "Annual cost of the contract."),
    ("cost_currency", "--cost-currency", "Currency of the annual cost, e.g. EUR."),
    ("alternative_of", "--alternative-of", "Categories or apps it replaces, ';' separated."),
)
"""Each field ``sanction`` can change, its option and help; an empty value clears it."""


def _field_options(func: F) -> F:
    for field, option, text in reversed(FIELD_OPTIONS):
        func = click.option(option, field, default=None, help=text)(func)
    return func


@click.command()
@config_option
@click.argument("app")
@_field_options
@click.option(
    "--revert",
    is_flag=True,
    help="Drop the changes recorded for APP: the sanctioned list's entry is in force again.",
)
@click.option("--by", "actor", default=None, help="Who changes it (default: $USER).")
def sanction(
    config_path: Path, app: str, revert: bool, actor: str | None, **fields: str | None
) -> None:
    """Change fields of an app's policy entry; the fields not given keep their value.

    Prints each change (field: old -> new) and records who changed what and when; fields
    nobody changed keep following the sanctioned list. --revert drops the recorded changes.
    An empty value (--team '') clears a field.

    Example: shadowit sanction --config config.toml HubSpot --review-by 2027-06-30
    """
    from scanner.analysis import sanction_changes as changes
    from scanner.app.operations import whoami
    from scanner.store.database import Store

    given = {k: v for k, v in fields.items() if v is not None}
    if revert and given:
        options = ", ".join(o for f, o, _ in FIELD_OPTIONS if f in given)
        raise ShadowitError(
            f"shadowit sanction {one_line(app, NAME_WIDTH)}: --revert drops every recorded "
            f"change of the app; give it without {options}"
        )
    cfg = configuration.load(config_path)
    who = actor or whoami()
    store = Store.open(cfg.store_path)
    try:
        if revert:
            outcome = changes.revert(cfg, store, app, who, datetime.now(UTC))
        else:
            outcome = changes.change(cfg, store, app, given, who, datetime.now(UTC))
    finally:
        store.close()
    name = one_line(outcome.app, NAME_WIDTH)
    for c in outcome.changes:
        old, new = changes.shown(c.old), changes.shown(c.new)
        click.echo(one_line(f"{name}: {c.field}: {old} -> {new}", MESSAGE_WIDTH))
    if revert:
        click.echo(one_line(_reverted(name, outcome), MESSAGE_WIDTH))
    elif not outcome.changes:
        click.echo(f"{name}: nothing changed; the policy in force already has these values")


def _reverted(name: str, outcome: Outcome) -> str:
    if outcome.entry is None:
        where = f"the sanctioned list has no entry for {name}: it is unsanctioned"
    else:
        where = f"the sanctioned list's entry is in force ({outcome.entry.entry.origin})"
    if not outcome.changes:
        return f"{name}: no recorded changes to revert; {where}"
    return f"{name}: recorded changes dropped; {where}"


@click.command()
@config_option
@click.option("--app", "app", default=None, help="Only this app.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def policy(config_path: Path, app: str | None, as_json: bool) -> None:
    """Show the policy in force per app, and where each field comes from: the sanctioned
    list's file and line, or the change recorded with `shadowit sanction` (who, when).

    Example: shadowit policy --config config.toml --app HubSpot
    """
    from scanner.analysis import sanction_changes as changes
    from scanner.analysis import sanctions
    from scanner.analysis.catalog import Catalog
    from scanner.store.database import Store

    cfg = configuration.load(config_path)
    catalog = Catalog.load(cfg.catalog, cfg.file.parent if cfg.file else None)
    name = sanctions.app_name(app, "shadowit policy --app", catalog, ShadowitError) if app else None
    # No inventory yet: the sanctioned list alone is in force (and none is created to say so).
    store = Store.open(cfg.store_path) if cfg.store_path.exists() else None
    try:
        entries = sanctions.policy_in_force(cfg, store, catalog)
    finally:
        if store is not None:
            store.close()
    if name is not None:
        chosen = changes.entry_of(entries, name)
        entries = [chosen] if chosen else []
    rows = changes.policy_rows(entries)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(
            f"{one_line(name, NAME_WIDTH)}: no entry in the policy (it is unsanctioned)"
            if name
            else "no policy entries; add [sanctioned] to the config or run "
            "`shadowit sanction APP --status ...`"
        )
        return
    for row in rows:
        click.echo(one_line(f"{row['app']}: {row['fields']['status']['value']}", MESSAGE_WIDTH))
        for field, f in row["fields"].items():
            source = f["where"] if f["source"] == "file" else f"changed by {f['by']} at {f['at']}"
            click.echo(one_line(f"  {field}: {changes.shown(f['value'])} ({source})", None))
