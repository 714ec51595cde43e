"""What ``shadowit sanction`` does to the policy: change some fields of one app's entry, or
drop every change recorded for it so the sanctioned list's entry is in force again.

A change touches only the fields given and is recorded field by field with who and when
(``scanner.store.sanctions``); the fields nobody changed keep following the sanctioned list,
including later edits to it. ``shadowit policy`` shows the result (``policy_rows``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from scanner.analysis.catalog import Catalog
from scanner.analysis.sanctions import (
    OPTION_NAMES,
    POLICY_FIELDS,
    STATUSES,
    PolicyEntry,
    app_name,
    parse_fields,
    policy_in_force,
)
from scanner.analysis.text import normalise_name
from scanner.core.errors import ShadowitError
from scanner.core.names import NAME_WIDTH, one_line
from scanner.store import sanctions as stored
from scanner.store.database import Store
from scanner.store.sanctions import FieldChange

if TYPE_CHECKING:
    from scanner.core.config import Config


@dataclass(frozen=True)
class Outcome:
    """What a ``sanction`` command changed for one app."""

    app: str
    changes: tuple[FieldChange, ...]
    """Each field it changed, old -> new (JSON-ready values; None: no value)."""
    entry: PolicyEntry | None
    """The app's entry in force afterwards (None: the app has none)."""


def change(
    config: Config,
    store: Store,
    app: str,
    given: Mapping[str, str],
    actor: str,
    now: datetime,
    catalog: Catalog | None = None,
) -> Outcome:
    """Set the fields in ``given`` (field -> text as typed; "" clears a field) for ``app``.

    Only fields whose value in force differs are recorded; nothing else of the entry moves.
    """
    catalog = catalog or _catalog(config)
    origin = "shadowit sanction"
    name = app_name(app, origin, catalog, ShadowitError)
    if not given:
        options = ", ".join(f"--{OPTION_NAMES.get(f, f)}" for f in POLICY_FIELDS)
        raise ShadowitError(
            f"shadowit sanction {one_line(name, NAME_WIDTH)}: nothing to change; give one or "
            f"more of {options}, or --revert to drop the recorded changes"
        )
    if given.get("status") == "":
        raise ShadowitError(
            f"shadowit sanction {one_line(name, NAME_WIDTH)}: --status cannot be cleared; give "
            f"one of {', '.join(STATUSES)}, or --revert to go back to the sanctioned list"
        )
    parsed = parse_fields(given, name, origin, ShadowitError)
    current = entry_of(policy_in_force(config, store, catalog), name)
    if current is None and "status" not in parsed:
        raise ShadowitError(
            f"shadowit sanction: {one_line(name, NAME_WIDTH)} has no entry in the sanctioned "
            "list; give --status "
            f"({', '.join(STATUSES)}) to add one"
        )
    changes = tuple(
        FieldChange(key, old, new)
        for key in POLICY_FIELDS
        if key in parsed
        and (old := _json(getattr(current.entry, key) if current else None))
        != (new := _json(parsed[key]))
    )
    recorded_as = _recorded_names(store, name) or [current.entry.app if current else name]
    if changes:
        stored.record_changes(store, recorded_as[0], changes, actor, now)
    after = entry_of(policy_in_force(config, store, catalog), name)
    return Outcome(after.entry.app if after else name, changes, after)


def revert(
    config: Config,
    store: Store,
    app: str,
    actor: str,
    now: datetime,
    catalog: Catalog | None = None,
) -> Outcome:
    """Drop every change recorded for ``app``: the sanctioned list's entry is in force again
    (or none, when the list does not have the app). ``changes`` is each field's way back."""
    catalog = catalog or _catalog(config)
    name = app_name(app, "shadowit sanction", catalog, ShadowitError)
    spellings = _recorded_names(store, name)
    overridden = {
        r.field
        for r in stored.recorded_overrides(store)
        if normalise_name(r.app) == normalise_name(name)
    }
    before = entry_of(policy_in_force(config, store, catalog), name)
    after = entry_of(policy_in_force(config, None, catalog), name)
    back = tuple(
        FieldChange(
            key,
            _json(getattr(before.entry, key)) if before else None,
            _json(getattr(after.entry, key)) if after else None,
        )
        for key in POLICY_FIELDS
        if key in overridden
    )
    for spelling in spellings:
        stored.drop_overrides(store, spelling, back, actor, now)
    return Outcome(after.entry.app if after else name, back, after)


def policy_rows(entries: Sequence[PolicyEntry]) -> list[dict[str, Any]]:
    """The policy in force as JSON-ready rows: per app, each field with a value and where it
    comes from (``{"value", "source": "file", "where"}`` or ``{"value", "source": "change",
    "by", "at"}``)."""
    rows = []
    for p in sorted(entries, key=lambda p: p.entry.app.casefold()):
        fields: dict[str, Any] = {}
        for key in POLICY_FIELDS:
            source = p.sources.get(key)
            if source is None:
                continue
            value = _json(getattr(p.entry, key))
            if source.where is not None:
                fields[key] = {"value": value, "source": "file", "where": source.where}
            else:
                fields[key] = {
                    "value": value,
                    "source": "change",
                    "by": source.changed_by,
                    "at": source.changed_at,
                }
        rows.append({"app": p.entry.app, "fields": fields})
    return rows


def shown(value: Any) -> str:
    """A field's JSON-ready value for a line of text: ``(none)``, scopes comma-separated."""
    if value is None or value == []:
        return "(none)"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def entry_of(entries: Sequence[PolicyEntry], app: str) -> PolicyEntry | None:
    """The entry of ``app`` (any spelling that folds to the same name) in ``entries``."""
    key = normalise_name(app)
    return next((p for p in entries if normalise_name(p.entry.app) == key), None)


def _recorded_names(store: Store, name: str) -> list[str]:
    """How ``name``'s recorded changes spell the app (one spelling, unless recorded by hand)."""
    key = normalise_name(name)
    return sorted({r.app for r in stored.recorded_overrides(store) if normalise_name(r.app) == key})


def _json(value: Any) -> Any:
    """A field value as stored and shown: a date as YYYY-MM-DD, scopes as a list, no value
    (or no scopes) as None."""
    if value is None or value == ():
        return None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _catalog(config: Config) -> Catalog:
    return Catalog.load(config.catalog, config.file.parent if config.file else None)
