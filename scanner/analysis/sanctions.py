"""The sanctioned list: the company's technology-selection policy, as data.

Entries come from the config (``[[sanctioned.apps]]`` inline, ``[sanctioned] file = ...`` a TOML
or CSV file). ``shadowit sanction`` records changes to single fields in the inventory; they
are laid over the file's entry for that app field by field (``merge``), so a field nobody
changed keeps following the file, and ``shadowit sanction APP --revert`` drops them. Each entry
is validated; an error names the file and line: an unknown status, a bad date, a duplicate app,
or an app name that looks like a typo of a catalog app ("did you mean HubSpot?"). Each field in
force knows where it comes from (``FieldSource``: the file's line, or who changed it when).
"""

from __future__ import annotations

import csv
import io
import logging
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.analysis.catalog import Catalog
from scanner.analysis.text import normalise_name
from scanner.core.errors import ConfigError, InputError
from scanner.core.models import InventoryApp, SanctionEntry
from scanner.core.names import NAME_WIDTH, email_problem, is_email, one_line
from scanner.store import sanctions as stored
from scanner.store.database import Store

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
POLICY_FIELDS = FIELDS[1:]
"""The fields of an entry besides the app's name, in the order they are shown."""


@dataclass(frozen=True)
class FieldSource:
    """Where one field of the policy in force comes from: a line of the sanctioned list
    (``where``), or a change recorded with ``shadowit sanction`` (who, when)."""

    where: str | None = None
    """``sanctioned.toml:14``, ``config.toml:31``, or ``sanctioned.apps[0]`` without a line."""
    changed_by: str | None = None
    changed_at: str | None = None
    """ISO timestamp of the change."""

    def __str__(self) -> str:
        if self.where is not None:
            return self.where
        return f"shadowit sanction by {self.changed_by} at {self.changed_at}"


@dataclass(frozen=True)
class PolicyEntry:
    """An app's entry in force, with the source of each field that has a value."""

    entry: SanctionEntry
    sources: Mapping[str, FieldSource] = field(default_factory=dict)


@dataclass(frozen=True)
class Override:
    """The fields ``shadowit sanction`` set for one app, validated (dates as dates, scopes as
    a tuple, None for a field it cleared), with who set each and when."""

    app: str
    values: Mapping[str, Any]
    sources: Mapping[str, FieldSource]


def load(table: dict[str, Any], base: Path | None, catalog: Catalog) -> list[SanctionEntry]:
    """Entries from a ``[sanctioned]`` config table (inline apps and/or a file)."""
    return [c.entry for c in configured(table, base, catalog)]


def configured(
    table: dict[str, Any], base: Path | None, catalog: Catalog, config_file: Path | None = None
) -> list[PolicyEntry]:
    """``load``, with the line each field is on (``config_file`` holds the inline entries)."""
    unknown = sorted(set(table) - {"file", "apps"})
    if unknown:
        raise ConfigError(f"sanctioned.{unknown[0]}: unknown setting (known: apps, file)")
    entries: list[PolicyEntry] = []
    inline = table.get("apps", [])
    if not isinstance(inline, list):
        raise ConfigError("sanctioned.apps: expected a list of tables ([[sanctioned.apps]])")
    blocks = _inline_blocks(config_file, len(inline))
    for index, row in enumerate(inline):
        if not isinstance(row, dict):
            raise ConfigError(f"sanctioned.apps[{index}]: expected a table")
        origin = f"sanctioned.apps[{index}]"
        entry = parse_entry(row, origin, catalog)
        entries.append(_located(entry, origin, config_file, blocks[index] if blocks else None))
    file = table.get("file")
    if file is not None:
        if not isinstance(file, str):
            raise ConfigError("sanctioned.file: expected a string (a .toml or .csv path)")
        path = Path(file).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        entries.extend(_load_file(path, catalog))
    check_duplicates([c.entry for c in entries])
    return entries


def load_file(path: Path, catalog: Catalog) -> list[SanctionEntry]:
    """Entries from a sanctioned-list file: TOML (``[[apps]]``) or CSV with a header row."""
    return [c.entry for c in _load_file(path, catalog)]


def _load_file(path: Path, catalog: Catalog) -> list[PolicyEntry]:
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
    blocks = _toml_blocks(text, "[[apps]]")
    entries = []
    for index, row in enumerate(rows):
        lines = blocks[index] if index < len(blocks) else None
        origin = f"{path}:{lines['[[apps]]']}" if lines else f"{path} apps[{index}]"
        entry = parse_entry(row, origin, catalog, error=InputError)
        entries.append(_located(entry, origin, path, lines))
    return entries


def _from_csv(text: str, path: Path, catalog: Catalog) -> Iterable[PolicyEntry]:
    reader = csv.DictReader(io.StringIO(text))
    missing = {"app", "status"} - set(reader.fieldnames or [])
    if missing:
        raise InputError(f"{path}:1: the header lacks column(s) {', '.join(sorted(missing))}")
    extra = sorted(set(reader.fieldnames or []) - set(FIELDS))
    if extra:
        raise InputError(f"{path}:1: unknown column {extra[0]!r} (known: {', '.join(FIELDS)})")
    for row in reader:
        values = {k: v for k, v in row.items() if v not in (None, "")}
        if "alternative_of" in values:
            values["alternative_of"] = [
                s.strip() for s in values["alternative_of"].split(";") if s.strip()
            ]
        origin = f"{path}:{reader.line_num}"
        yield _located(parse_entry(values, origin, catalog, error=InputError), origin, None, None)


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
    name = app_name(app, origin, catalog, error)
    fields = parse_fields({k: v for k, v in row.items() if k != "app"}, name, origin, error)
    return SanctionEntry(app=name, origin=origin, **fields)


def app_name(app: str, origin: str, catalog: Catalog, error: type[Exception] = ConfigError) -> str:
    """The catalog's name for ``app`` (or ``app`` itself when the catalog does not know it);
    a name that looks like a typo of a catalog app is an error ("did you mean HubSpot?")."""
    name = app.strip()
    known = catalog.find(name)
    if known is not None:
        return known.name
    suggestion = catalog.suggest(name)
    if suggestion and normalise_name(suggestion) != normalise_name(name):
        raise error(
            f"{origin}: unknown app {one_line(repr(name), NAME_WIDTH)}: did you mean "
            f"{suggestion}? (or add the app to [catalog] to keep this name)"
        )
    return name


def parse_fields(
    values: Mapping[str, Any], app: str, origin: str, error: type[Exception] = ConfigError
) -> dict[str, Any]:
    """The policy fields in ``values`` (any of ``POLICY_FIELDS``), validated and typed as
    ``SanctionEntry`` holds them; an empty value is None (no scopes: an empty tuple)."""
    parsed: dict[str, Any] = {}
    for key in values:
        if key not in POLICY_FIELDS:
            raise error(f"{origin}: unknown field {key!r} (known: {', '.join(FIELDS)})")
        if key == "status":
            status = values[key]
            if status not in STATUSES:
                raise error(
                    f"{origin}: status {status!r} for {one_line(app, NAME_WIDTH)} is not one "
                    f"of {', '.join(STATUSES)}"
                )
            parsed[key] = status
        elif key == "approved_scopes":
            parsed[key] = _scopes(values[key], app, origin, error)
        elif key == "owner":
            parsed[key] = _owner(values, app, origin, error)
        elif key in ("approved_on", "review_by", "renewal_date"):
            parsed[key] = _date(values, key, origin, error)
        elif key in ("notice_days", "annual_cost"):
            parsed[key] = _number(values, key, origin, error, whole=key == "notice_days")
        elif key == "cost_currency":
            parsed[key] = _currency(values, origin, error)
        elif key == "alternative_of":
            parsed[key] = _alternatives(values, app, origin, error)
        else:
            parsed[key] = _text(values, key, origin, error)
    return parsed


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
    config: Config, store: Store | None, catalog: Catalog | None = None
) -> list[SanctionEntry]:
    """The policy in force: the config's entries with ``shadowit sanction``'s changes."""
    return [p.entry for p in policy_in_force(config, store, catalog)]


def policy_in_force(
    config: Config, store: Store | None, catalog: Catalog | None = None
) -> list[PolicyEntry]:
    """``current_policy`` with where each field comes from (``store`` None: the file only)."""
    base = config.file.parent if config.file else None
    catalog = catalog or Catalog.load(config.catalog, base)
    entries = configured(config.sanctioned, base, catalog, config.file)
    return in_force(entries, recorded(store, catalog) if store is not None else [])


def recorded(store: Store, catalog: Catalog) -> list[Override]:
    """The changes recorded with ``shadowit sanction``, one ``Override`` per app.

    A value that no longer passes the checks (an owner recorded before owners had to be email
    addresses) is ignored with a warning naming the command that sets it again."""
    by_app: dict[str, Override] = {}
    for r in stored.recorded_overrides(store):
        origin = f"shadowit sanction of {r.app} by {r.changed_by} at {r.changed_at}"
        try:
            parsed = parse_fields({r.field: r.value}, r.app, origin)
        except ConfigError as err:
            log.warning(
                "sanction of %s: ignored the recorded %s (%s); set it again with "
                "`shadowit sanction %s --%s`",
                one_line(r.app, NAME_WIDTH),
                r.field,
                one_line(str(err).removeprefix(f"{origin}: "), 200),
                one_line(r.app, NAME_WIDTH),
                OPTION_NAMES.get(r.field, r.field),
            )
            continue
        key = normalise_name(r.app)
        found = by_app.setdefault(key, Override(r.app, {}, {}))
        source = FieldSource(changed_by=r.changed_by, changed_at=r.changed_at)
        by_app[key] = Override(
            found.app, {**found.values, **parsed}, {**found.sources, r.field: source}
        )
    return list(by_app.values())


def merge(
    configured: Sequence[SanctionEntry], overrides: Sequence[Override]
) -> list[SanctionEntry]:
    """Config entries with the fields ``shadowit sanction`` changed laid over them."""
    return [
        p.entry
        for p in in_force([_located(e, e.origin, None, None) for e in configured], overrides)
    ]


def in_force(configured: Sequence[PolicyEntry], overrides: Sequence[Override]) -> list[PolicyEntry]:
    """Lay each override over its app's entry field by field; a field not overridden keeps
    the file's value and line. An override with no entry to apply to and no status of its own
    (the file dropped the app) is skipped with a warning."""
    merged = {normalise_name(c.entry.app): c for c in configured}
    for override in overrides:
        key = normalise_name(override.app)
        base = merged.get(key)
        status_source = override.sources.get("status")
        if base is None and status_source is None:
            log.warning(
                "sanction of %s: the recorded change to %s has no entry to apply to (the "
                "sanctioned list no longer has the app); set its status with `shadowit sanction "
                "%s --status ...`, or drop the change with `--revert`",
                one_line(override.app, NAME_WIDTH),
                ", ".join(override.values),
                one_line(override.app, NAME_WIDTH),
            )
            continue
        entry = base.entry if base else SanctionEntry(override.app, override.values["status"])
        sources = dict(base.sources) if base else {}
        values: dict[str, Any] = {
            k: (() if k == "approved_scopes" and v is None else v)
            for k, v in override.values.items()
        }
        origin = str(status_source) if status_source else entry.origin
        entry = replace(entry, **values, origin=origin)
        sources.update(override.sources)
        merged[key] = PolicyEntry(entry, {k: v for k, v in sources.items() if _has(entry, k)})
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


OPTION_NAMES = {
    "approved_scopes": "scopes",
    "data_classification": "data-classification",
    "approved_on": "approved-on",
    "review_by": "review-by",
    "renewal_date": "renewal-date",
    "notice_days": "notice-days",
    "annual_cost": "annual-cost",
    "cost_currency": "cost-currency",
    "alternative_of": "alternative-of",
}
"""The ``shadowit sanction`` option for a field, where it is not the field's own name."""


def _has(entry: SanctionEntry, key: str) -> bool:
    value = getattr(entry, key)
    return value is not None and value != ()


def _located(
    entry: SanctionEntry, origin: str | None, file: Path | None, lines: Mapping[str, int] | None
) -> PolicyEntry:
    """``entry`` with the source of each field it has: its own line in ``file`` when
    ``lines`` has it, else ``origin`` (the entry's line, or its table's name)."""
    sources = {}
    for key in POLICY_FIELDS:
        if _has(entry, key):
            line = lines.get(key) if lines else None
            where = f"{file}:{line}" if file is not None and line else origin
            sources[key] = FieldSource(where=where or "the sanctioned list")
    return PolicyEntry(entry, sources)


def _scopes(value: Any, app: str, origin: str, error: type[Exception]) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = [s for s in re.split(r"[,;\s]+", value) if s]
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise error(f"{origin}: approved_scopes for {app} must be a list of scope names")
    return tuple(value)


def _text(row: Mapping[str, Any], key: str, origin: str, error: type[Exception]) -> str | None:
    value = row.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise error(f"{origin}: {key} must be text")
    return value


def _owner(row: Mapping[str, Any], app: str, origin: str, error: type[Exception]) -> str | None:
    """The owner's email address: it is where confirmation requests go, as a header."""
    owner = _text(row, "owner", origin, error)
    if owner is None or is_email(owner):
        return owner
    raise error(
        f"{origin}: owner {one_line(repr(owner), 200)} for {one_line(app, NAME_WIDTH)} is not an "
        f"email address ({email_problem(owner)}); give one like dana@example.com"
    )


def _date(row: Mapping[str, Any], key: str, origin: str, error: type[Exception]) -> date | None:
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
    row: Mapping[str, Any], key: str, origin: str, error: type[Exception], whole: bool = False
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


def _currency(row: Mapping[str, Any], origin: str, error: type[Exception]) -> str | None:
    value = _text(row, "cost_currency", origin, error)
    if value is None:
        return None
    if not re.fullmatch(r"[A-Za-z]{3}", value.strip()):
        raise error(f"{origin}: cost_currency {value!r} is not a currency code like EUR")
    return value.strip().upper()


def _alternatives(
    row: Mapping[str, Any], app: str, origin: str, error: type[Exception]
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
    if value and "status" in row and row["status"] != "sanctioned":
        raise error(
            f"{origin}: alternative_of is set for {app}, which is not sanctioned; only a "
            "sanctioned app can be the approved alternative"
        )
    return tuple(v.strip() for v in value)


_KEY = re.compile(r"""^\s*["']?([A-Za-z_][A-Za-z0-9_-]*)["']?\s*=""")


def _toml_blocks(text: str, header: str) -> list[dict[str, int]]:
    """For each ``header`` table (``[[apps]]``), the line of the header (under the header's
    own text) and of each key in it, so messages and ``shadowit policy`` can point at them."""
    blocks: list[dict[str, int]] = []
    current: dict[str, int] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped == header:
            current = {header: number}
            blocks.append(current)
        elif stripped.startswith("["):
            current = None
        elif current is not None and (key := _KEY.match(line)):
            current.setdefault(key.group(1), number)
    return blocks


def _inline_blocks(config_file: Path | None, count: int) -> list[dict[str, int]] | None:
    """``_toml_blocks`` of the config's ``[[sanctioned.apps]]``; None when they cannot be
    lined up with the ``count`` entries (no file, or written as an inline array)."""
    if config_file is None or count == 0:
        return None
    try:
        text = config_file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
    blocks = _toml_blocks(text, "[[sanctioned.apps]]")
    return blocks if len(blocks) == count else None
