"""The sanctioned list: the company's technology-selection policy, as data.

Entries come from the config (``[[sanctioned.apps]]`` inline, ``[sanctioned] file = ...`` a TOML
or CSV file) and from ``shadowit sanction`` (stored in the inventory, newer wins). Each entry is
validated; an error names the file and line: an unknown status, a bad date, a duplicate app,
or an app name that looks like a typo of a catalog app ("did you mean HubSpot?").
"""

from __future__ import annotations

import csv
import io
import logging
import re
import tomllib
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.analysis.catalog import Catalog
from scanner.analysis.text import normalise_name
from scanner.core.errors import ConfigError, InputError
from scanner.core.models import InventoryApp, SanctionEntry
from scanner.core.names import NAME_WIDTH, email_problem, is_email, one_line
from scanner.store import sanctions as stored
from scanner.store.database import Store, loads

if TYPE_CHECKING:
    from scanner.core.config import Config

log = logging.getLogger(__name__)

STATUSES = ("sanctioned", "tolerated", "banned")
FIELDS = (
    "app",
    "status",
    "owner",
    "team",
    "purpose",
    "approved_scopes",
    "data_classification",
    "approved_on",
    "review_by",
    "notes",
    "renewal_date",
    "notice_days",
    "annual_cost",
    "cost_currency",
    "alternative_of",
)


def load(table: dict[str, Any], base: Path | None, catalog: Catalog) -> list[SanctionEntry]:
    """Entries from a ``[sanctioned]`` config table (inline apps and/or a file)."""
    unknown = sorted(set(table) - {"file", "apps"})
    if unknown:
        raise ConfigError(f"sanctioned.{unknown[0]}: unknown setting (known: apps, file)")
    entries: list[SanctionEntry] = []
    inline = table.get("apps", [])
    if not isinstance(inline, list):
        raise ConfigError("sanctioned.apps: expected a list of tables ([[sanctioned.apps]])")
    for index, row in enumerate(inline):
        if not isinstance(row, dict):
            raise ConfigError(f"sanctioned.apps[{index}]: expected a table")
        entries.append(parse_entry(row, f"sanctioned.apps[{index}]", catalog))
    file = table.get("file")
    if file is not None:
        if not isinstance(file, str):
            raise ConfigError("sanctioned.file: expected a string (a .toml or .csv path)")
        path = Path(file).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        entries.extend(load_file(path, catalog))
    check_duplicates(entries)
    return entries


def load_file(path: Path, catalog: Catalog) -> list[SanctionEntry]:
    """Entries from a sanctioned-list file: TOML (``[[apps]]``) or CSV with a header row."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: sanctioned-list file not found (sanctioned.file)") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read the sanctioned list: {err}") from None
    if path.suffix.lower() == ".csv":
        return list(_from_csv(text, path, catalog))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{path}: not valid TOML: {err}") from None
    rows = data.get("apps", [])
    if not isinstance(rows, list):
        raise InputError(f"{path}: expected [[apps]] tables")
    lines = _toml_app_lines(text)
    entries = []
    for index, row in enumerate(rows):
        line = lines[index] if index < len(lines) else None
        origin = f"{path}:{line}" if line else f"{path} apps[{index}]"
        entries.append(parse_entry(row, origin, catalog, error=InputError))
    return entries


def _from_csv(text: str, path: Path, catalog: Catalog) -> Iterable[SanctionEntry]:
    reader = csv.DictReader(io.StringIO(text))
    missing = {"app", "status"} - set(reader.fieldnames or [])
    if missing:
        raise InputError(f"{path}:1: the header lacks column(s) {', '.join(sorted(missing))}")
    extra = sorted(set(reader.fieldnames or []) - set(FIELDS))
    if extra:
        raise InputError(f"{path}:1: unknown column {extra[0]!r} (known: {', '.join(FIELDS)})")
    for row in reader:
        values = {k: v for k, v in row.items() if v not in (None, "")}
        if "approved_scopes" in values:
            values["approved_scopes"] = [
                s for s in re.split(r"[;\s]+", values["approved_scopes"]) if s
            ]
        if "alternative_of" in values:
            values["alternative_of"] = [
                s.strip() for s in values["alternative_of"].split(";") if s.strip()
            ]
        yield parse_entry(values, f"{path}:{reader.line_num}", catalog, error=InputError)


def parse_entry(
    row: dict[str, Any],
    origin: str,
    catalog: Catalog,
    error: type[Exception] = ConfigError,
) -> SanctionEntry:
    unknown = sorted(set(row) - set(FIELDS))
    if unknown:
        raise error(f"{origin}: unknown field {unknown[0]!r} (known: {', '.join(FIELDS)})")
    app = row.get("app")
    if not isinstance(app, str) or not app.strip():
        raise error(f"{origin}: 'app' is required (the app's catalog name or alias)")
    status = row.get("status")
    if status not in STATUSES:
        raise error(f"{origin}: status {status!r} for {app} is not one of {', '.join(STATUSES)}")
    name = app.strip()
    entry = catalog.find(name)
    if entry is not None:
        name = entry.name
    else:
        suggestion = catalog.suggest(name)
        if suggestion and normalise_name(suggestion) != normalise_name(name):
            raise error(
                f"{origin}: unknown app {name!r}: did you mean {suggestion}? "
                "(or add the app to [catalog] to keep this name)"
            )
    scopes = row.get("approved_scopes", [])
    if isinstance(scopes, str):
        scopes = [s for s in re.split(r"[;\s]+", scopes) if s]
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise error(f"{origin}: approved_scopes for {name} must be a list of scope names")
    return SanctionEntry(
        app=name,
        status=status,
        owner=_owner(row, name, origin, error),
        team=_text(row, "team", origin, error),
        purpose=_text(row, "purpose", origin, error),
        approved_scopes=tuple(scopes),
        data_classification=_text(row, "data_classification", origin, error),
        approved_on=_date(row, "approved_on", origin, error),
        review_by=_date(row, "review_by", origin, error),
        notes=_text(row, "notes", origin, error),
        origin=origin,
        renewal_date=_date(row, "renewal_date", origin, error),
        notice_days=_number(row, "notice_days", origin, error, whole=True),
        annual_cost=_number(row, "annual_cost", origin, error),
        cost_currency=_currency(row, origin, error),
        alternative_of=_alternatives(row, name, origin, error),
    )


def check_duplicates(entries: Sequence[SanctionEntry]) -> None:
    seen: dict[str, SanctionEntry] = {}
    for entry in entries:
        key = normalise_name(entry.app)
        if key in seen:
            raise InputError(
                f"{entry.origin}: {entry.app} is listed twice in the sanctioned list "
                f"(first at {seen[key].origin}); keep one entry"
            )
        seen[key] = entry


def current_policy(
    config: Config, store: Store, catalog: Catalog | None = None
) -> list[SanctionEntry]:
    """The policy in force: the config's entries, overridden by ``shadowit sanction``'s."""
    base = config.file.parent if config.file else None
    catalog = catalog or Catalog.load(config.catalog, base)
    return merge(load(config.sanctioned, base, catalog), recorded(store, catalog))


def recorded(store: Store, catalog: Catalog) -> list[SanctionEntry]:
    """Entries recorded in the inventory with ``shadowit sanction``."""
    entries = []
    for r in stored.recorded_sanctions(store):
        row = {k: v for k in FIELDS if (v := getattr(r, k, None)) not in (None, "")}
        if "owner" in row and not is_email(str(row["owner"])):  # recorded before the check
            log.warning(
                "sanction of %s: ignored the owner %s (not an email address); set it again "
                "with `shadowit sanction --owner`",
                one_line(row.get("app"), NAME_WIDTH),
                one_line(repr(row.pop("owner")), 200),
            )
        if "approved_scopes" in row:
            row["approved_scopes"] = loads(row["approved_scopes"], [])
        entries.append(parse_entry(row, f"inventory (set {r.updated})", catalog))
    return entries


def merge(
    configured: Sequence[SanctionEntry], stored: Sequence[SanctionEntry]
) -> list[SanctionEntry]:
    """Config entries overridden by entries recorded with ``shadowit sanction``."""
    merged = {normalise_name(e.app): e for e in configured}
    for entry in stored:
        merged[normalise_name(entry.app)] = entry
    return list(merged.values())


def match(app: InventoryApp, entries: Sequence[SanctionEntry]) -> SanctionEntry | None:
    """The policy entry for an inventory app, by canonical name or any raw spelling.

    A lookalike never matches the entry of the app it imitates.
    """
    if app.app.lookalike_of:
        return None
    names = {normalise_name(app.name), *(normalise_name(n) for n in app.raw_names)}
    for entry in entries:
        if normalise_name(entry.app) in names:
            return entry
    return None


def _text(row: dict[str, Any], key: str, origin: str, error: type[Exception]) -> str | None:
    value = row.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise error(f"{origin}: {key} must be text")
    return value


def _owner(row: dict[str, Any], app: str, origin: str, error: type[Exception]) -> str | None:
    """The owner's email address: it is where confirmation requests go, as a header."""
    owner = _text(row, "owner", origin, error)
    if owner is None or is_email(owner):
        return owner
    raise error(
        f"{origin}: owner {one_line(repr(owner), 200)} for {one_line(app, NAME_WIDTH)} is not an "
        f"email address ({email_problem(owner)}); give one like dana@example.com"
    )


def _date(row: dict[str, Any], key: str, origin: str, error: type[Exception]) -> date | None:
    value = row.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise error(f"{origin}: {key} {value!r} is not a date like 2026-01-31") from None


def _number(
    row: dict[str, Any], key: str, origin: str, error: type[Exception], whole: bool = False
) -> Any:
    """A number >= 0 (an int when ``whole``), from TOML or CSV text."""
    value = row.get(key)
    if value is None or value == "":
        return None
    kind = "a whole number of days" if whole else "a number like 1200.50"
    try:
        number = int(str(value)) if whole else float(str(value).replace(",", ""))
    except ValueError:
        raise error(f"{origin}: {key} {value!r} is not {kind}") from None
    if isinstance(value, bool) or number < 0:
        raise error(f"{origin}: {key} {value!r} is not {kind} (0 or more)")
    return number


def _currency(row: dict[str, Any], origin: str, error: type[Exception]) -> str | None:
    value = _text(row, "cost_currency", origin, error)
    if value is None:
        return None
    if not re.fullmatch(r"[A-Za-z]{3}", value.strip()):
        raise error(f"{origin}: cost_currency {value!r} is not a currency code like EUR")
    return value.strip().upper()


def _alternatives(
    row: dict[str, Any], app: str, origin: str, error: type[Exception]
) -> tuple[str, ...]:
    """What a sanctioned app is the approved alternative to: categories or app names."""
    value = row.get("alternative_of", [])
    if isinstance(value, str):
        value = [v.strip() for v in value.split(";") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise error(
            f"{origin}: alternative_of for {app} must be a list of categories or app names, "
            'e.g. ["social_media", "Hootsuite"]'
        )
    if value and row.get("status") != "sanctioned":
        raise error(
            f"{origin}: alternative_of is set for {app}, which is not sanctioned; only a "
            "sanctioned app can be the approved alternative"
        )
    return tuple(v.strip() for v in value)


def _toml_app_lines(text: str) -> list[int]:
    """Line numbers of each ``[[apps]]`` header, so errors can point at them."""
    return [n for n, line in enumerate(text.splitlines(), start=1) if line.strip() == "[[apps]]"]
