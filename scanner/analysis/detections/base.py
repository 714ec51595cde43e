"""What every rule reads: the severity table, the run's context and the app under review.

``SEVERITY`` is the one severity table (kind and variant -> severity); the config's
``[policy.severity]`` overrides any row. A rule is a function of a ``Subject`` that yields
``Finding`` records, each with its reasons in plain words, its evidence and what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from scanner.analysis.detections.consent_rules import ConsentRules
from scanner.analysis.risk import ScopeTable
from scanner.core.models import Finding, InventoryApp, SanctionEntry, Severity

SEVERITY: dict[str, Severity] = {
    # kind (and variant)            severity
    "banned": "critical",
    "lookalike": "critical",
    "admin_consent": "high",
    "unsanctioned_high_risk": "high",
    "unsanctioned_marketing": "medium",
    "unsanctioned": "low",
    "risky_scopes_critical": "high",
    "risky_scopes_high": "medium",
    "over_scoped_high": "high",
    "over_scoped": "medium",
    "unverified_publisher": "medium",
    "stale_sanction": "medium",
    "dormant": "low",
    "new_app_marketing": "low",
    "new_app": "info",
    "owner_unconfirmed": "low",
    "consent_phishing_strong": "high",
    "consent_phishing": "medium",
    "leaver_access_risky": "high",
    "leaver_access": "medium",
    "orphaned_app": "medium",
    "no_sso": "medium",
    "unused_spend": "low",
    "renewal_due_notice_passed": "medium",
    "renewal_due": "low",
    "has_alternative": "low",
    "overlap": "info",
}


@dataclass(frozen=True)
class Context:
    now: datetime
    scopes: ScopeTable
    dormant_days: int = 90
    new_app_keys: frozenset[str] = frozenset()
    confirmed_owners: Mapping[str, str] = field(default_factory=dict)
    severity: Mapping[str, str] = field(default_factory=dict)
    publisher_sources: frozenset[str] = frozenset()
    """Sources that report whether an app's publisher is verified (a connector capability)."""
    sign_ins_missing: frozenset[str] = frozenset()
    """Sources whose sign-ins this scan could not read (``completeness.Ledger.sign_in_gaps``):
    an app they see is not judged dormant from the sign-ins that happen to be stored."""
    leavers: frozenset[str] = frozenset()
    """Addresses of people with no account in use any more (``people.People.leavers``)."""
    person_names: frozenset[str] = frozenset()
    """Display names and addresses of everyone in the directories, folded to lower case: an
    app named after one of them is a consent-phishing sign."""
    consent: ConsentRules = field(default_factory=ConsentRules.shipped)
    renewal_window_days: int = 45
    """A renewal is due when its notice deadline is at most this many days away."""
    overlap_min_tools: int = 3
    """Tools of one category in use from which each gets an ``overlap`` finding."""

    def level(self, row: str) -> Severity:
        value = self.severity.get(row) or SEVERITY[row]
        return value  # type: ignore[return-value]


@dataclass(frozen=True)
class Peers:
    """What the rules need to know about the other apps and entries of the run."""

    in_use_by_category: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Catalog category -> names of the third-party apps in use in it (not banned)."""
    alternatives: Mapping[str, SanctionEntry] = field(default_factory=dict)
    """Folded category or app name -> the sanctioned entry that is its approved alternative."""


@dataclass(frozen=True)
class Subject:
    """One app under review: its inventory row, its policy entry, and the run's context."""

    app: InventoryApp
    entry: SanctionEntry | None
    ctx: Context
    peers: Peers = field(default_factory=Peers)

    @property
    def status(self) -> str | None:
        return self.entry.status if self.entry else None

    @property
    def users(self) -> str:
        return people(len(self.app.users))

    @property
    def use(self) -> str:
        return "uses" if len(self.app.users) == 1 else "use"

    def finding(
        self, kind: str, row: str, reasons: list[str], fix: str, **evidence: object
    ) -> Finding:
        app = self.app
        return Finding(
            app.key, app.name, kind, self.ctx.level(row), tuple(reasons), fix, dict(evidence)
        )


Rule = Callable[[Subject], Iterator[Finding]]


def people(n: int) -> str:
    return "1 person" if n == 1 else f"{n} people"


def listed(items: tuple[str, ...] | list[str], limit: int = 5) -> str:
    """``a, b, c and 2 more``: a readable list that stays short."""
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"
