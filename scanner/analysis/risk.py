"""Scope sensitivity and an explainable 0-100 risk score per app.

The scope table (``scanner/data/scopes.csv``: ``scope,kind,provider,level,meaning,source``) holds
every Microsoft Graph delegated and application permission and the common Google OAuth scopes,
each with a sensitivity level and a plain-language meaning. The Graph rows are generated from the
permission lists in ``data/microsoft`` (merill/microsoft-info) by the rules and curated overrides
in ``tools/build_scopes.py``; regenerate with ``python -m tools.build_scopes >
scanner/data/scopes.csv`` (a test keeps the file in sync). This module only reads it. The
company overrides rows with ``[catalog] scopes_file`` (columns ``scope,level,meaning``; optional
``kind``, ``provider``).

The score adds explainable parts, each with its reason (weights in ``WEIGHTS``):
the most sensitive scope, further high/critical scopes, admin consent, app-only access, the number
of users, an unverified publisher, a new app, access still held while unused, and the catalog's
vendor facts (no MFA offered, SSO only on a pricier plan, a generative-AI tool holding mail or
file scopes), each reason citing its source. An application
(app-only) permission is scored with its application row, never below its delegated form, and
counts as admin consent too: only an administrator can grant one, for the whole organisation.
First-party apps score at most 10 and internal apps lose 15: they are recorded, not flagged.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from scanner.core.errors import InputError
from scanner.core.words import plural

DATA_DIR = Path(__file__).parents[1] / "data"
SCOPES_FILE = DATA_DIR / "scopes.csv"

LEVELS: tuple[str, ...] = ("low", "medium", "high", "critical")
_RANK = {level: i for i, level in enumerate(LEVELS)}
UNKNOWN_MEANING = "unrecognised permission"
GRAPH_PREFIX = "https://graph.microsoft.com/"
GOOGLE_PREFIX = "https://www.googleapis.com/auth/"
# The shipped file's columns, in the order tools/build_scopes.py writes them.
SCOPE_COLUMNS = ("scope", "kind", "provider", "level", "meaning", "source")


@dataclass(frozen=True)
class ScopeInfo:
    """What one permission lets an app do."""

    scope: str
    level: str
    """``critical``, ``high``, ``medium`` or ``low``."""
    meaning: str
    provider: str
    """``microsoft_graph``, ``microsoft`` (Exchange etc.), ``google``, ``oidc``, ``unknown``."""


@dataclass(frozen=True)
class RiskInput:
    """Everything the score looks at for one app."""

    scopes: tuple[str, ...]
    admin_consent: bool
    app_only: bool
    users: int
    publisher_verified: bool
    first_party: bool
    internal: bool
    first_seen: datetime | None
    last_sign_in: datetime | None
    now: datetime
    consents: tuple[tuple[str, str], ...] = ()
    """(scope, consent type) pairs as granted, which tell an application permission from the
    delegated one of the same name; without them every scope counts as ``app_only`` says."""
    vendor_facts: tuple[tuple[str, str, str], ...] = ()
    """(fact, what, source) from the catalog (``scanner.analysis.vendor_facts``)."""
    data_scopes: tuple[str, ...] = ()
    """The held scopes that reach mail or files."""


@dataclass(frozen=True)
class RiskAssessment:
    score: int
    """0-100."""
    level: str
    """``critical`` (>= 75), ``high`` (>= 50), ``medium`` (>= 25) or ``low``."""
    reasons: tuple[str, ...]


# -- the table ---------------------------------------------------------------------------------


class ScopeTable:
    """Scope -> ScopeInfo, for delegated and application (app-only) permissions."""

    def __init__(self, rows: dict[tuple[str, str], ScopeInfo]) -> None:
        self._rows = rows

    @classmethod
    def load(cls, scopes_file: Path | None = None) -> ScopeTable:
        """The shipped table, with the rows of ``scopes_file`` (if given) replacing or adding."""
        rows: dict[tuple[str, str], ScopeInfo] = {}
        for kind, info in _read_scopes(SCOPES_FILE, shipped=True):
            rows[(_key(info.scope), kind)] = info
        if scopes_file is not None:
            for kind, info in _read_scopes(scopes_file, shipped=False):
                if kind == "any":
                    for k in ("delegated", "application"):
                        rows[(_key(info.scope), k)] = info
                else:
                    rows[(_key(info.scope), kind)] = info
        return cls(rows)

    def info(self, scope: str, app_only: bool = False) -> ScopeInfo:
        """What ``scope`` allows; unknown scopes are ``medium``, "unrecognised permission"."""
        kind = "application" if app_only else "delegated"
        for candidate in _spellings(scope):
            key = _key(candidate)
            found = self._rows.get((key, kind)) or self._rows.get(
                (key, "delegated" if app_only else "application")
            )
            if found is not None:
                return found
        return ScopeInfo(scope, "medium", UNKNOWN_MEANING, "unknown")

    def held(self, scope: str, app_only: bool) -> ScopeInfo:
        """What ``scope`` allows as held: an application permission is explained with its
        application meaning and never ranks below the delegated permission of the same name
        (it reaches every user's data, not one user's)."""
        found = self.info(scope, app_only)
        if not app_only:
            return found
        delegated = self.info(scope)
        if _RANK[delegated.level] > _RANK[found.level]:
            return replace(found, level=delegated.level)
        return found

    def __len__(self) -> int:
        return len(self._rows)


def held_permissions(
    scopes: Iterable[str], consents: Iterable[tuple[str, str]], app_only: bool
) -> tuple[tuple[str, bool], ...]:
    """(scope, app_only) for each way an app holds each of ``scopes``.

    ``consents`` are (scope, consent type) pairs: a scope granted as an application permission
    (consent type ``application``, an Entra app-role assignment) is app-only, one granted per
    user or for all users is delegated, and one granted both ways appears twice. A scope with no
    consent recorded counts as ``app_only`` says (snapshots written before consents were kept).
    """
    kinds: dict[str, set[bool]] = {}
    for scope, consent in consents:
        kinds.setdefault(scope, set()).add(consent == "application")
    return tuple(
        (scope, flag) for scope in scopes for flag in sorted(kinds.get(scope) or {app_only})
    )


def _key(scope: str) -> str:
    return scope.strip().lower()


def _spellings(scope: str) -> Iterator[str]:
    """``https://graph.microsoft.com/Mail.Read`` -> ``Mail.Read``; ``drive`` -> the Google URL."""
    scope = scope.strip()
    yield scope
    if scope.lower().startswith(GRAPH_PREFIX):
        yield scope[len(GRAPH_PREFIX) :]
    if "/" not in scope and ":" not in scope:
        yield GOOGLE_PREFIX + scope


def _read_scopes(path: Path, shipped: bool) -> Iterator[tuple[str, ScopeInfo]]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InputError(f"{path}: scopes file not found (catalog.scopes_file)") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror or err}") from None
    with handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        for column in ("scope", "level", "meaning"):
            if column not in fields:
                raise InputError(
                    f"{path}:1: missing column {column!r} (columns: scope,level,meaning and "
                    f"optionally kind,provider)"
                )
        try:
            for row in reader:
                yield _scope_row(path, reader.line_num, row, shipped)
        except csv.Error as err:
            raise InputError(f"{path}:{reader.line_num}: not valid CSV: {err}") from None


def _scope_row(
    path: Path, line: int, row: dict[str, str | None], shipped: bool
) -> tuple[str, ScopeInfo]:
    scope = (row.get("scope") or "").strip()
    level = (row.get("level") or "").strip().lower()
    meaning = (row.get("meaning") or "").strip()
    kind = (row.get("kind") or "").strip().lower() or ("delegated" if shipped else "any")
    if not scope:
        raise InputError(f"{path}:{line}: scope is empty")
    if level not in _RANK:
        raise InputError(
            f"{path}:{line}: level {level!r} for {scope} must be one of {', '.join(LEVELS)}"
        )
    if kind not in ("delegated", "application", "any"):
        raise InputError(
            f"{path}:{line}: kind {kind!r} for {scope} must be delegated, application or empty"
        )
    provider = (row.get("provider") or "").strip() or _guess_provider(scope)
    return kind, ScopeInfo(scope, level, meaning or UNKNOWN_MEANING, provider)


def _guess_provider(scope: str) -> str:
    if scope.startswith(("https://www.googleapis.com/", "https://mail.google.com")):
        return "google"
    if scope in ("openid", "email", "profile"):
        return "oidc"
    return "microsoft_graph"


# -- scoring -----------------------------------------------------------------------------------

WEIGHTS: dict[str, int] = {
    # Most sensitive scope: what the app can do at worst dominates the score.
    "critical": 45,
    "high": 30,
    "medium": 15,
    "low": 3,
    # Each further high or critical scope widens the damage (capped).
    "extra_sensitive": 4,
    "extra_sensitive_cap": 12,
    # An admin consented for the whole organisation / the app acts with no user present.
    "admin_consent": 12,
    "app_only": 15,
    # Blast radius by users holding a grant.
    "users_10": 5,
    "users_50": 10,
    "users_200": 15,
    # Nobody vouches for the publisher.
    "unverified": 10,
    # A new app has no track record here; an unused one holds access for nothing.
    "new_app": 5,
    "dormant": 8,
    # Vendor facts from the catalog: accounts there are one password away from takeover; SSO
    # behind a pricier plan usually means people sign in with passwords; a generative-AI tool
    # that reads mail or files sends the company's content to a model provider.
    "no_mfa": 8,
    "sso_paid": 4,
    "ai_data_access": 10,
}
NEW_APP_DAYS = 30
DORMANT_DAYS = 90
FIRST_PARTY_CAP = 10
INTERNAL_DISCOUNT = 15


def level_for(score: int) -> str:
    if score >= 75:
        return "critical"
    if score >= 50:
        return "high"
    if score >= 25:
        return "medium"
    return "low"


def weights_with(overrides: Mapping[str, int] | None) -> dict[str, int]:
    """``WEIGHTS`` with the config's ``[policy] risk_weights`` applied (keys already checked)."""
    return {**WEIGHTS, **(overrides or {})}


def assess(
    inp: RiskInput, table: ScopeTable, weights: Mapping[str, int] = WEIGHTS
) -> RiskAssessment:
    """Score one app 0-100 and say why, most important reason first; ``weights`` as
    ``weights_with()`` returns them."""
    score = 0
    reasons: list[str] = []
    held = sorted(
        {
            (table.held(scope, app_only), app_only)
            for scope, app_only in held_permissions(inp.scopes, inp.consents, inp.app_only)
            if scope.strip()
        },
        key=lambda h: (-_RANK[h[0].level], h[0].scope, h[1]),
    )
    if held:
        worst, worst_app_only = held[0]
        score += weights[worst.level]
        what = "application permission" if worst_app_only else "scope"
        reasons.append(f"{worst.level} {what} {worst.scope}: {worst.meaning}")
        mixed = len({app_only for _, app_only in held}) > 1  # a scope may be held both ways
        sensitive = [
            i.scope + (" (application)" if app_only and mixed else "")
            for i, app_only in held[1:]
            if _RANK[i.level] >= _RANK["high"]
        ]
        if sensitive:
            score += min(
                weights["extra_sensitive"] * len(sensitive), weights["extra_sensitive_cap"]
            )
            shown = ", ".join(sensitive[:4])
            more = f" and {len(sensitive) - 4} more" if len(sensitive) > 4 else ""
            reasons.append(f"{len(sensitive)} more high-risk scopes: {shown}{more}")
    else:
        reasons.append("no scopes recorded (sign-in only)")
    if inp.app_only:
        score += weights["app_only"]
        reasons.append("app-only access: acts without any signed-in user")
    if inp.admin_consent:
        score += weights["admin_consent"]
        reasons.append("admin consent: granted for every user in the organisation")
    elif inp.app_only:
        # Only an administrator can grant an application permission, and it covers the whole
        # organisation: admin consent in all but name, so it weighs at least as much.
        score += weights["admin_consent"]
        reasons.append("admin consent: application permissions granted by an administrator")
    score += _users_part(inp.users, reasons, weights)
    if not inp.publisher_verified and not inp.first_party and not inp.internal:
        score += weights["unverified"]
        reasons.append("publisher not verified")
    score += _age_part(inp, reasons, weights)
    score += _vendor_part(inp, reasons, weights)
    if inp.first_party:
        score = min(score, FIRST_PARTY_CAP)
        reasons.insert(0, "first-party app of the identity provider: recorded, not shadow IT")
    elif inp.internal:
        score = max(score - INTERNAL_DISCOUNT, 0)
        reasons.insert(0, "the company's own app")
    score = max(0, min(100, score))
    return RiskAssessment(score=score, level=level_for(score), reasons=tuple(reasons))


def _users_part(users: int, reasons: list[str], weights: Mapping[str, int]) -> int:
    if users >= 200:
        part = weights["users_200"]
    elif users >= 50:
        part = weights["users_50"]
    elif users >= 10:
        part = weights["users_10"]
    else:
        return 0
    reasons.append(f"{users} users hold access")
    return part


def _age_part(inp: RiskInput, reasons: list[str], weights: Mapping[str, int]) -> int:
    part = 0
    if inp.first_seen is not None:
        # In UTC calendar days: the store stamps first sightings to the second as each page
        # commits, after the scan read its clock, so an age in instants would flip with
        # sub-second timing. An app first seen during this scan is 0 days old.
        age = max((inp.now.astimezone(UTC).date() - inp.first_seen.astimezone(UTC).date()).days, 0)
        if age < NEW_APP_DAYS:
            part += weights["new_app"]
            when = "today" if age == 0 else f"{plural(age, 'day')} ago"
            reasons.append(f"new: first seen {when}")
    if inp.last_sign_in is not None:
        idle = (inp.now - inp.last_sign_in).days
        if idle >= DORMANT_DAYS and inp.scopes:
            part += weights["dormant"]
            reasons.append(f"unused for {idle} days but still holds its scopes")
    return part


def _vendor_part(inp: RiskInput, reasons: list[str], weights: Mapping[str, int]) -> int:
    part = 0
    for fact, what, source in inp.vendor_facts:
        cited = f" (source: {source})" if source else ""
        if fact == "no_mfa":
            part += weights["no_mfa"]
            reasons.append(f"no MFA: {what}{cited}")
        elif fact == "sso_paid":
            part += weights["sso_paid"]
            reasons.append(f"SSO tax: {what}{cited}")
        elif fact == "ai" and inp.data_scopes:
            part += weights["ai_data_access"]
            shown = ", ".join(inp.data_scopes[:3])
            reasons.append(f"AI tool holding mail or file scopes: {shown}{cited}")
    return part
