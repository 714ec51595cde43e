"""What an app can reach, as the confirmation page shows it: in plain words, grouped by
meaning, most sensitive first, with what deserves a warning at the top of the page.

An app's permissions come from its snapshot in the latest finished scan: a scope granted as
an application permission (consent type ``application``) is shown with its application meaning
(``ScopeTable.held``), because it reaches every user's data without anyone signing in.
"""

from __future__ import annotations

from dataclasses import dataclass

from scanner.analysis.risk import ScopeTable, held_permissions
from scanner.store import snapshots
from scanner.store.database import Store

HIGH_LEVELS = ("critical", "high")
"""Scope levels the page warns about (``scanner/data/scopes.csv``, column ``level``)."""
_ORDER = {level: i for i, level in enumerate(("critical", "high", "medium", "low"))}


@dataclass(frozen=True)
class AccessLine:
    """One thing an app can do with company data, and the permissions that allow it."""

    meaning: str
    """Plain words from the scope table: "read all of the user's mail and settings"."""
    level: str
    """critical, high, medium or low: the most sensitive of ``scopes``."""
    scopes: tuple[str, ...]
    application: bool
    """Held as an application permission: it works without anyone signing in."""

    @property
    def high_risk(self) -> bool:
        return self.application or self.level in HIGH_LEVELS


def app_access(store: Store, app_key: str, table: ScopeTable) -> list[AccessLine]:
    """The app's access in the latest finished scan, [] when unseen: what deserves a warning
    first, then by level."""
    scan_id = store.latest_scan()
    doc = snapshots.app_document(store, scan_id, app_key) if scan_id is not None else None
    if doc is None:
        return []
    data = doc.data
    consents = [(row[0], row[1]) for row in data.get("scope_grants", ())]
    held = held_permissions(data.get("scopes", ()), consents, bool(data.get("app_only")))
    grouped: dict[tuple[str, bool], list[tuple[str, str]]] = {}
    for scope, app_only in held:
        info = table.held(scope, app_only)
        grouped.setdefault((info.meaning, app_only), []).append((info.level, scope))
    lines = [
        AccessLine(
            meaning, min((lvl for lvl, _ in found), key=_rank), tuple(s for _, s in found), app
        )
        for (meaning, app), found in grouped.items()
    ]
    lines.sort(
        key=lambda line: (not line.high_risk, _rank(line.level), not line.application, line.meaning)
    )
    return lines


def _rank(level: str) -> int:
    return _ORDER.get(level, len(_ORDER))
