"""Build the canonical inventory from the store's current state.

Raw apps (one per source and client ID) are resolved to canonical apps; grants, sign-ins and
spend are gathered per canonical app; each app is classified (marketing or not) and scored.
The result is a list of ``InventoryApp`` records, which the reconciler and reports consume, and
the ``apps`` table (first seen / last seen per canonical app) is updated to match.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from scanner.analysis.catalog import Catalog
from scanner.analysis.classify import classify_marketing
from scanner.analysis.resolve import Resolver
from scanner.analysis.risk import RiskInput, ScopeTable, assess
from scanner.core.config import OrganisationSettings
from scanner.core.models import App, InventoryApp
from scanner.store import inventory as stored
from scanner.store.database import Store

UNKNOWN_DEPARTMENT = "(unknown)"


@dataclass
class _Acc:
    """Everything gathered for one canonical app while scanning the tables."""

    app: App
    sources: set[str] = field(default_factory=set)
    client_ids: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    scopes: set[str] = field(default_factory=set)
    scope_grants: Counter[tuple[str, str]] = field(default_factory=Counter)
    admin_consent: bool = False
    app_only: bool = False
    publisher: str | None = None
    publisher_verified: bool = False
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    created: datetime | None = None
    last_sign_in: datetime | None = None
    sign_ins_30d: int = 0
    usage: Counter[str] = field(default_factory=Counter)
    first_grant: tuple[str, str] | None = None
    spend: float = 0.0
    currency: str | None = None


def build(
    store: Store,
    catalog: Catalog,
    scopes: ScopeTable,
    org: OrganisationSettings,
    now: datetime,
    first_party_by_name: frozenset[str] = frozenset(),
) -> list[InventoryApp]:
    """Resolve, aggregate, classify and score every current app; update the ``apps`` table.

    ``first_party_by_name``: sources whose apps may be recognised as the provider's own by name
    (a connector capability)."""
    resolver = Resolver(catalog, org.own_domains, org.own_tenant_ids, first_party_by_name)
    by_raw: dict[tuple[str, str], _Acc] = {}
    accs: dict[str, _Acc] = {}
    raw_keys: list[stored.RawAppKey] = []
    for seen in stored.current_raw_apps(store):
        raw = seen.app
        app = resolver.resolve(raw)
        acc = accs.get(app.key)
        if acc is None:
            acc = accs[app.key] = _Acc(app)
        elif len(app.evidence) and app.evidence[0] not in acc.app.evidence:
            acc.app = _merge_evidence(acc.app, app)
        acc.sources.add(raw.source)
        acc.client_ids.add(raw.client_id)
        acc.names.add(raw.name)
        acc.kinds.add(raw.kind)
        if raw.publisher and not acc.publisher:
            acc.publisher = raw.publisher
        acc.publisher_verified = acc.publisher_verified or raw.publisher_verified
        acc.first_seen = _min(acc.first_seen, seen.first_seen)
        acc.last_seen = _max(acc.last_seen, seen.last_seen)
        acc.created = _min(acc.created, raw.created)
        by_raw[(raw.source, raw.client_id)] = acc
        raw_keys.append(stored.RawAppKey(app.key, raw.source, raw.client_id))

    people = _people(store)
    _gather_grants(store, by_raw, people)
    _gather_usage(store, by_raw, now)
    _gather_spend(store, by_raw)

    marketing_departments = {d.casefold() for d in org.marketing_departments}
    marketing_groups = {g.casefold() for g in org.marketing_groups}
    result: list[InventoryApp] = []
    for acc in accs.values():
        departments: Counter[str] = Counter()
        marketing_users = 0
        for person in acc.users:
            dept, groups = people.get(person, (None, ()))
            departments[dept or UNKNOWN_DEPARTMENT] += 1
            if (dept and dept.casefold() in marketing_departments) or any(
                g.casefold() in marketing_groups for g in groups
            ):
                marketing_users += 1
        is_marketing, reason = classify_marketing(
            acc.app.category, catalog, marketing_users, len(acc.users), org.marketing_share
        )
        if acc.app.first_party or acc.app.internal:
            is_marketing = False
            reason = "first-party app" if acc.app.first_party else "internal app"
        risk = assess(
            RiskInput(
                scopes=tuple(sorted(acc.scopes)),
                admin_consent=acc.admin_consent,
                app_only=acc.app_only,
                users=len(acc.users),
                publisher_verified=acc.publisher_verified,
                first_party=acc.app.first_party,
                internal=acc.app.internal,
                first_seen=_min(acc.created, acc.first_seen),
                last_sign_in=acc.last_sign_in,
                now=now,
            ),
            scopes,
        )
        first_seen = acc.first_seen or now
        result.append(
            InventoryApp(
                app=acc.app,
                sources=tuple(sorted(acc.sources)),
                client_ids=tuple(sorted(acc.client_ids)),
                raw_names=tuple(sorted(acc.names)),
                users=tuple(sorted(acc.users)),
                departments=tuple(sorted(departments.items(), key=lambda d: (-d[1], d[0]))),
                marketing_users=marketing_users,
                scopes=tuple(sorted(acc.scopes)),
                admin_consent=acc.admin_consent,
                app_only=acc.app_only,
                publisher=acc.publisher,
                publisher_verified=acc.publisher_verified,
                first_seen=first_seen,
                last_seen=acc.last_seen or now,
                last_sign_in=acc.last_sign_in,
                sign_ins_30d=acc.sign_ins_30d,
                spend=round(acc.spend, 2),
                spend_currency=acc.currency,
                is_marketing=is_marketing,
                marketing_reason=reason,
                risk_score=risk.score,
                risk_level=risk.level,
                risk_reasons=risk.reasons,
                first_user=acc.first_grant[1] if acc.first_grant else None,
                top_user=acc.usage.most_common(1)[0][0] if acc.usage else None,
                kinds=tuple(sorted(acc.kinds)),
                scope_grants=tuple(
                    (scope, consent, count)
                    for (scope, consent), count in sorted(acc.scope_grants.items())
                ),
            )
        )
    result.sort(key=lambda a: (-a.risk_score, a.name.casefold()))
    stored.save_apps(store, result, raw_keys, now)
    return result


def _people(store: Store) -> dict[str, tuple[str | None, tuple[str, ...]]]:
    """Person key -> (department, groups), across sources (first source with a value wins)."""
    people: dict[str, tuple[str | None, tuple[str, ...]]] = {}
    for r in stored.current_users(store):
        groups = r.groups
        for key in (r.email, f"{r.source}:{r.id}"):
            if not key:
                continue
            known = people.get(key)
            if known is None or (known[0] is None and r.department):
                people[key] = (r.department, groups or (known[1] if known else ()))
    return people


def _gather_grants(
    store: Store,
    by_raw: dict[tuple[str, str], _Acc],
    people: dict[str, tuple[str | None, tuple[str, ...]]],
) -> None:
    emails = stored.user_emails(store)
    for g in stored.current_grants(store):
        acc = by_raw.get((g.source, g.client_id))
        if acc is None:
            continue
        acc.scopes.update(g.scopes)
        for scope in g.scopes:
            acc.scope_grants[(scope, g.consent_type)] += 1
        if g.consent_type == "admin":
            acc.admin_consent = True
        elif g.consent_type == "application":
            acc.app_only = True
        if g.user_id:
            person = g.user_email or emails.get((g.source, g.user_id)) or f"{g.source}:{g.user_id}"
            acc.users.add(person)
            when = g.granted_at or g.first_seen or ""
            if acc.first_grant is None or when < acc.first_grant[0]:
                acc.first_grant = (when, person)


def _gather_usage(store: Store, by_raw: dict[tuple[str, str], _Acc], now: datetime) -> None:
    since = (now - timedelta(days=30)).date().isoformat()
    for r in stored.usage_by_person(store, since):
        acc = by_raw.get((r.source, r.client_id))
        if acc is None:
            continue
        acc.last_sign_in = _max(acc.last_sign_in, r.last_at)
        acc.sign_ins_30d += r.recent
        key = r.user_key
        if key and key != "*":
            person = key if not key.startswith("id:") else f"{r.source}:{key[3:]}"
            acc.users.add(person)
            acc.usage[person] += r.total


def _gather_spend(store: Store, by_raw: dict[tuple[str, str], _Acc]) -> None:
    for r in stored.spend_by_app(store):
        acc = by_raw.get((r.source, r.client_id))
        if acc is None:
            continue
        acc.spend += r.total
        acc.currency = acc.currency or r.currency
        acc.users.update(r.emails)


def _merge_evidence(existing: App, other: App) -> App:
    merged = existing.evidence + tuple(e for e in other.evidence if e not in existing.evidence)
    return replace(existing, evidence=merged)


def _min(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _max(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)
