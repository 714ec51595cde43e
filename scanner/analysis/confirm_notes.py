"""What a confirmation request says beside its question: the app's renewal, from its
sanctioned-list entry, and the approved alternative when the policy names one (an entry whose
``alternative_of`` lists the app or its category), so the person asked reads "use X"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from scanner.analysis.confirm import AppFacts
from scanner.analysis.detections.portfolio import peers
from scanner.analysis.text import normalise_name
from scanner.core.models import SanctionEntry


def request_notes(
    apps: Mapping[str, AppFacts], entries: Sequence[SanctionEntry]
) -> dict[str, tuple[str, ...]]:
    """App key -> the lines a request about it adds (none for most apps)."""
    by_name = {normalise_name(e.app): e for e in entries}
    alternatives = peers((), entries).alternatives
    notes: dict[str, tuple[str, ...]] = {}
    for key, app in apps.items():
        names = [normalise_name(n) for n in (app.name, *app.raw_names)]
        lines: list[str] = []
        own = next((by_name[n] for n in names if n in by_name), None)
        if own is not None and own.renewal_date is not None:
            notice = f"; notice is due {own.notice_days} days before" if own.notice_days else ""
            lines.append(f"It renews on {own.renewal_date.isoformat()}{notice}.")
        category = [normalise_name(app.category)] if app.category else []
        alternative = next(
            (
                alternatives[n]
                for n in (*names, *category)
                if n in alternatives and normalise_name(alternatives[n].app) not in names
            ),
            None,
        )
        if alternative is not None and app.sanction_status not in ("sanctioned", "tolerated"):
            contact = f" (ask {alternative.owner})" if alternative.owner else ""
            lines.append(
                f"The approved tool for this is {alternative.app}{contact}: please use it instead."
            )
        if lines:
            notes[key] = tuple(lines)
    return notes
