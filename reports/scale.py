"""One scale for an app's risk and its findings: an app reads at least as bad as its worst
open finding.

The risk score weighs permissions, users, age and vendor facts; a finding's severity says how
bad one fact is (a banned app, a lookalike). Each alone can understate the other: a banned app
with few permissions scores "low" beside a critical finding. The report shows the worse of the
two as the app's ``risk_level`` and keeps the score's own level as ``score_level``, so a banned
or lookalike app is never "low" and the apps list sorts by what a person should fear first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

LEVELS = ("low", "medium", "high", "critical")
"""App risk levels, least first (``scanner.analysis.risk.LEVELS``)."""
_RANK = {level: i for i, level in enumerate(LEVELS)}
SEVERITY_AS_LEVEL = {"critical": "critical", "high": "high", "medium": "medium", "low": "low"}
"""A finding severity as an app level; ``info`` raises nothing."""


def worst_severity(findings: Iterable[Mapping[str, Any]]) -> str | None:
    """The worst severity among the open findings (``info`` counts), None when none is open."""
    order = ("critical", "high", "medium", "low", "info")
    open_severities = {str(f["severity"]) for f in findings if f["open"]}
    return next((s for s in order if s in open_severities), None)


def shown_level(score_level: str, worst: str | None) -> str:
    """The worse of the score's level and the worst open finding's severity."""
    raised = SEVERITY_AS_LEVEL.get(worst or "")
    if raised is None or _RANK[raised] <= _RANK.get(score_level, 0):
        return score_level
    return raised


def apply(apps: Iterable[dict[str, Any]]) -> None:
    """Give each app of the model ``score_level``, ``worst_severity`` and the shown
    ``risk_level`` (its ``findings`` are linked already)."""
    for app in apps:
        worst = worst_severity(app["findings"])
        app["score_level"] = app["risk_level"]
        app["worst_severity"] = worst
        app["risk_level"] = shown_level(app["risk_level"], worst)


def level_rank(level: str) -> int:
    """0 for ``low`` up to 3 for ``critical`` (unknown levels rank as ``low``)."""
    return _RANK.get(level, 0)
