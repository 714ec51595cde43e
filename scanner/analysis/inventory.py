"""Build the canonical inventory from the store's current state.

Raw apps (one per source and client ID) are resolved to canonical apps; grants, sign-ins and
spend are gathered per canonical app; each app is classified (marketing or not) and scored.
The result is a list of ``InventoryApp`` records, which the reconciler and reports consume, and
the ``apps`` table (first seen / last seen per canonical app) is updated to match.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from scanner.analysis.catalog import Catalog
from scanner.analysis.classify import classify_marketing
from scanner.analysis.resolve import Resolver
from scanner.analysis.risk import RiskInput, ScopeTable, assess
from scanner.core.config import OrganisationSettings
from scanner.core.models import App, InventoryApp
from scanner.store.database import Store, dumps, iso, parse_iso, raw_app_from_row

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
) -> list[InventoryApp]:
    """Resolve, aggregate, classify and score every current app; update the ``apps`` table."""
    resolver = Resolver(catalog, org.own_domains, org.own_tenant_ids)
    db = store.db
    by_raw: dict[tuple[str, str], _Acc] = {}
    accs: dict[str, _Acc] = {}
    raw_keys: list[tuple[str, str, str]] = []
    for row in db.query("SELECT * FROM raw_apps WHERE gone_scan IS NULL"):
        raw = raw_app_from_row(row)
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
        acc.first_seen = _min(acc.first_seen, parse_iso(row["first_seen"]))
        acc.last_seen = _max(acc.last_seen, parse_iso(row["last_seen"]))
        acc.created = _min(acc.created, raw.created)
        by_raw[(raw.source, raw.client_id)] = acc
        raw_keys.append((app.key, raw.source, raw.client_id))

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
                departments=tuple(departments.most_common()),
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
    _save_apps(store, result, raw_keys, now)
    return result


def _people(store: Store) -> dict[str, tuple[str | None, tuple[str, ...]]]:
    """Person key -> (department, groups), across sources (first source with a value wins)."""
    people: dict[str, tuple[str | None, tuple[str, ...]]] = {}
    for r in store.db.query(
        "SELECT source, id, email, department, groups FROM users WHERE gone_scan IS NULL "
        "ORDER BY source"
    ):
        groups = tuple(_loads_list(r["groups"]))
        for key in (r["email"], f"{r['source']}:{r['id']}"):
            if not key:
                continue
            known = people.get(key)
            if known is None or (known[0] is None and r["department"]):
                people[key] = (r["department"], groups or (known[1] if known else ()))
    return people


def _gather_grants(
    store: Store,
    by_raw: dict[tuple[str, str], _Acc],
    people: dict[str, tuple[str | None, tuple[str, ...]]],
) -> None:
    emails = {
        (r["source"], r["id"]): r["email"]
        for r in store.db.query("SELECT source, id, email FROM users WHERE email IS NOT NULL")
    }
    for g in store.db.query(
        "SELECT source, client_id, user_id, user_email, consent_type, scopes, granted_at, "
        "first_seen FROM grants WHERE gone_scan IS NULL"
    ):
        acc = by_raw.get((g["source"], g["client_id"]))
        if acc is None:
            continue
        scopes = _loads_list(g["scopes"])
        acc.scopes.update(scopes)
        for scope in scopes:
            acc.scope_grants[(scope, g["consent_type"])] += 1
        if g["consent_type"] == "admin":
            acc.admin_consent = True
        elif g["consent_type"] == "application":
            acc.app_only = True
        if g["user_id"]:
            person = (
                g["user_email"]
                or emails.get((g["source"], g["user_id"]))
                or f"{g['source']}:{g['user_id']}"
            )
            acc.users.add(person)
            when = g["granted_at"] or g["first_seen"] or ""
            if acc.first_grant is None or when < acc.first_grant[0]:
                acc.first_grant = (when, person)


def _gather_usage(store: Store, by_raw: dict[tuple[str, str], _Acc], now: datetime) -> None:
    since = (now - timedelta(days=30)).date().isoformat()
    for r in store.db.query(
        "SELECT source, client_id, user_key, max(last_at) AS last_at, "
        "sum(CASE WHEN day >= ? THEN count ELSE 0 END) AS recent, sum(count) AS total "
        "FROM signin_daily GROUP BY source, client_id, user_key",
        [since],
    ):
        acc = by_raw.get((r["source"], r["client_id"]))
        if acc is None:
            continue
        acc.last_sign_in = _max(acc.last_sign_in, parse_iso(r["last_at"]))
        acc.sign_ins_30d += int(r["recent"] or 0)
        key = r["user_key"]
        if key and key != "*":
            person = key if not key.startswith("id:") else f"{r['source']}:{key[3:]}"
            acc.users.add(person)
            acc.usage[person] += int(r["total"] or 0)


def _gather_spend(store: Store, by_raw: dict[tuple[str, str], _Acc]) -> None:
    for r in store.db.query(
        "SELECT source, client_id, currency, sum(amount) AS total, "
        "group_concat(DISTINCT user_email) AS emails FROM spend "
        "GROUP BY source, client_id, currency"
    ):
        acc = by_raw.get((r["source"], r["client_id"]))
        if acc is None:
            continue
        acc.spend += float(r["total"] or 0)
        acc.currency = acc.currency or r["currency"]
        for email in (r["emails"] or "").split(","):
            if email:
                acc.users.add(email)


def _save_apps(
    store: Store,
    apps: Sequence[InventoryApp],
    raw_keys: list[tuple[str, str, str]],
    now: datetime,
) -> None:
    stamp = iso(now)
    with store.db.atomic():
        store.db.conn.executemany(
            "UPDATE raw_apps SET app_key=? WHERE source=? AND client_id=?", raw_keys
        )
        store.db.conn.executemany(
            "INSERT INTO apps (key, name, vendor, category, domain, first_party, internal, "
            "lookalike_of, evidence, is_marketing, marketing_reason, risk_score, risk_level, "
            "risk_reasons, first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (key) DO UPDATE SET name=excluded.name, vendor=excluded.vendor, "
            "category=excluded.category, domain=excluded.domain, "
            "first_party=excluded.first_party, internal=excluded.internal, "
            "lookalike_of=excluded.lookalike_of, evidence=excluded.evidence, "
            "is_marketing=excluded.is_marketing, marketing_reason=excluded.marketing_reason, "
            "risk_score=excluded.risk_score, risk_level=excluded.risk_level, "
            "risk_reasons=excluded.risk_reasons, last_seen=excluded.last_seen, gone_scan=NULL",
            [
                (
                    a.key,
                    a.name,
                    a.app.vendor,
                    a.app.category,
                    a.app.domain,
                    int(a.app.first_party),
                    int(a.app.internal),
                    a.app.lookalike_of,
                    dumps([[e.rule, e.value, e.score] for e in a.app.evidence]),
                    int(a.is_marketing),
                    a.marketing_reason,
                    a.risk_score,
                    a.risk_level,
                    dumps(list(a.risk_reasons)),
                    iso(a.first_seen) or stamp,
                    iso(a.last_seen) or stamp,
                )
                for a in apps
            ],
        )


def _merge_evidence(existing: App, other: App) -> App:
    merged = existing.evidence + tuple(e for e in other.evidence if e not in existing.evidence)
    return replace(existing, evidence=merged)


def _loads_list(value: str | None) -> list[str]:
    return list(json.loads(value)) if value else []


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
