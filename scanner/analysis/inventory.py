"""Build the canonical inventory from the store's current state.

Every record that names an app is evidence for it: listings (raw apps, one per source and client
ID), grants, sign-in/SSO/SAML events and spend. An app exists when any evidence exists: an app
named only by events, grants or spend (deleted from the IdP since, or never listed by it) is
resolved through the catalog like a listed one, from the name the events gave it. Evidence is
gathered per canonical app, counted per source and kind, and summarised as ``access``; usage,
users and last use come from successful sign-ins only, failures are counted apart. Each app is
classified (marketing or not) and scored.
The result is a list of ``InventoryApp`` records, which the reconciler and reports consume, and
the ``apps`` table (first seen / last seen per canonical app) is updated to match.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from scanner.analysis.catalog import Catalog
from scanner.analysis.classify import classify_marketing
from scanner.analysis.people import People
from scanner.analysis.resolution_cache import CachedResolver
from scanner.analysis.resolve import Resolver
from scanner.analysis.risk import RiskAssessment, RiskInput, ScopeTable, assess, weights_with
from scanner.analysis.vendor_facts import data_scopes, vendor_facts
from scanner.core.config import OrganisationSettings
from scanner.core.models import FROM_EVENTS, SSO_OIDC, App, CatalogEntry, InventoryApp, RawApp
from scanner.store import inventory as stored
from scanner.store.database import Store, iso, parse_iso

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
    evidence: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(source, kind) -> records."""
    failed_sign_ins: int = 0
    holders: set[str] = field(default_factory=set)
    """People with a current grant, token or assignment."""
    reply_urls: set[str] = field(default_factory=set)
    publisher_tenants: set[str] = field(default_factory=set)
    sso: set[str] = field(default_factory=set)
    spend_by_currency: dict[str, float] = field(default_factory=dict)


@dataclass
class _Apps:
    """The canonical apps being gathered, and the one each (source, client id) resolved to."""

    resolver: CachedResolver
    accs: dict[str, _Acc] = field(default_factory=dict)
    """Canonical app key -> what is gathered for it."""
    by_raw: dict[tuple[str, str], _Acc] = field(default_factory=dict)
    raw_keys: list[stored.RawAppKey] = field(default_factory=list)

    def add(self, raw: RawApp, first_seen: datetime | None, last_seen: datetime | None) -> _Acc:
        """Resolve ``raw`` and fold its listing facts into its canonical app."""
        app = self.resolver.resolve(raw)
        acc = self.accs.get(app.key)
        if acc is None:
            acc = self.accs[app.key] = _Acc(app)
        elif len(app.evidence) and app.evidence[0] not in acc.app.evidence:
            acc.app = _merge_evidence(acc.app, app)
        acc.sources.add(raw.source)
        acc.client_ids.add(raw.client_id)
        acc.names.add(raw.name)
        acc.kinds.add(raw.kind)
        if raw.publisher and not acc.publisher:
            acc.publisher = raw.publisher
        acc.publisher_verified = acc.publisher_verified or raw.publisher_verified
        acc.first_seen = _min(acc.first_seen, first_seen)
        acc.last_seen = _max(acc.last_seen, last_seen)
        acc.created = _min(acc.created, raw.created)
        acc.reply_urls.update(raw.reply_urls)
        if raw.publisher_tenant:
            acc.publisher_tenants.add(raw.publisher_tenant)
        mode = sso_mode(raw)
        if mode is not None:
            acc.sso.add(f"{raw.source}:{mode}")
        self.by_raw[(raw.source, raw.client_id)] = acc
        self.raw_keys.append(stored.RawAppKey(app.key, raw.source, raw.client_id))
        return acc


def build(
    store: Store,
    catalog: Catalog,
    scopes: ScopeTable,
    org: OrganisationSettings,
    now: datetime,
    first_party_by_name: frozenset[str] = frozenset(),
    first_party_ids: frozenset[str] = frozenset(),
    events_days: int | None = None,
    risk_weights: Mapping[str, int] | None = None,
    full: bool = False,
) -> list[InventoryApp]:
    """Resolve, aggregate, classify and score every current app; update the ``apps`` table.

    ``first_party_by_name``: sources whose apps may be recognised as the provider's own by name;
    ``first_party_ids``: sources whose apps carry the provider's app id (connector capabilities);
    ``events_days``: an app that no listing, grant or spend names is kept while its latest event
    is at most this many days old (``store.signin_retention_days``), then it is no longer seen;
    ``risk_weights``: the config's overrides of ``risk.WEIGHTS`` (``[policy] risk_weights``);
    ``full``: resolve every raw app again instead of reusing the store's resolution cache
    (``scanner.analysis.resolution_cache``) for those whose fingerprints did not change."""
    resolver = Resolver(
        catalog, org.own_domains, org.own_tenant_ids, first_party_by_name, first_party_ids
    )
    apps = _Apps(CachedResolver.open(store, resolver, full=full))
    _resolve_listed(store, apps)
    since = iso(now - timedelta(days=events_days)) if events_days is not None else None
    _add_unlisted(store, apps, since)
    _gather_events(store, apps.by_raw)

    people = People(stored.directory_users(store))
    _gather_grants(store, apps.by_raw, people)
    _gather_usage(store, apps.by_raw, people, now)
    _gather_spend(store, apps.by_raw, people)

    result = _classify_and_score(
        apps.accs.values(), catalog, scopes, org, now, people, weights_with(risk_weights)
    )
    result.sort(key=lambda a: (-a.risk_score, a.name.casefold()))
    stored.save_apps(store, result, apps.raw_keys, now)
    apps.resolver.save(store)
    return result


def _resolve_listed(store: Store, apps: _Apps) -> None:
    """Every current listing, resolved to its canonical app."""
    for seen in stored.current_raw_apps(store):
        acc = apps.add(seen.app, seen.first_seen, seen.last_seen)
        # A file row counts as its spend or usage; an app made from events, as those events.
        if seen.app.kind not in _FILE_KINDS and FROM_EVENTS not in seen.app.tags:
            acc.evidence[(seen.app.source, "listing")] += 1


def _add_unlisted(store: Store, apps: _Apps, events_since: str | None) -> None:
    """Apps with evidence (events, grants, spend) that no current listing names; events only
    count from ``events_since`` on."""
    for unlisted in stored.unlisted_apps(store, events_since):
        apps.add(_unlisted_raw(unlisted), unlisted.first_seen, unlisted.last_seen)


def _classify_and_score(
    accs: Iterable[_Acc],
    catalog: Catalog,
    scopes: ScopeTable,
    org: OrganisationSettings,
    now: datetime,
    people: People,
    weights: Mapping[str, int],
) -> list[InventoryApp]:
    """One ``InventoryApp`` per gathered app: departments, marketing or not, risk."""
    marketing_departments = {d.casefold() for d in org.marketing_departments}
    marketing_groups = {g.casefold() for g in org.marketing_groups}
    result: list[InventoryApp] = []
    for acc in accs:
        departments: Counter[str] = Counter()
        marketing_users = 0
        disabled: list[str] = []
        for key in acc.users:
            person = people.get(key)
            dept = person.department if person else None
            groups = person.groups if person else ()
            if person is not None and person.disabled:
                disabled.append(key)
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
        facts = vendor_facts(_catalog_entry(catalog, acc.app))
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
                consents=tuple(sorted(acc.scope_grants)),
                vendor_facts=facts,
                data_scopes=tuple(data_scopes(acc.scopes)),
            ),
            scopes,
            weights,
        )
        result.append(
            _inventory_app(
                acc,
                departments,
                marketing_users,
                (is_marketing, reason),
                risk,
                now,
                disabled,
                facts,
            )
        )
    return result


def _catalog_entry(catalog: Catalog, app: App) -> CatalogEntry | None:
    """The catalog entry a ``cat:`` app resolved to (its name is the entry's)."""
    return catalog.find(app.name) if app.key.startswith("cat:") else None


def _inventory_app(
    acc: _Acc,
    departments: Counter[str],
    marketing_users: int,
    marketing: tuple[bool, str],
    risk: RiskAssessment,
    now: datetime,
    disabled: list[str],
    facts: tuple[tuple[str, str, str], ...] = (),
) -> InventoryApp:
    """The record of one app, from what was gathered for it and how it was judged."""
    is_marketing, reason = marketing
    return InventoryApp(
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
        first_seen=acc.first_seen or now,
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
            (scope, consent, count) for (scope, consent), count in sorted(acc.scope_grants.items())
        ),
        evidence=tuple(
            (source, kind, count) for (source, kind), count in sorted(acc.evidence.items())
        ),
        access=access_of({kind for _source, kind in acc.evidence}),
        failed_sign_ins=acc.failed_sign_ins,
        people_disabled=len(disabled),
        disabled_users=tuple(sorted(disabled)),
        vendor_facts=facts,
        disabled_holders=tuple(sorted(acc.holders.intersection(disabled))),
        reply_urls=tuple(sorted(acc.reply_urls)),
        publisher_tenants=tuple(sorted(acc.publisher_tenants)),
        created=acc.created,
        sso=tuple(sorted(acc.sso)),
        spend_by_currency=tuple(
            (currency, round(total, 2)) for currency, total in sorted(acc.spend_by_currency.items())
        ),
    )


_FILE_KINDS = frozenset({"expense", "usage"})
_IDP_SIGN_INS = frozenset({"sign_in", "sso", "saml"})
"""Event kinds that show people signing in to the app with their directory account (an IdP
sign-in log, an SSO or SAML event): disabling the account ends that way in."""
_SIGN_IN_KINDS = frozenset({"sign_in", "sso", "saml", "activity"})
_EVENT_APP_KIND = {"sign_in": "sso", "sso": "sso", "saml": "saml", "activity": "sso"}
"""The ``RawApp.kind`` of an app known only from events of a kind."""


def sso_mode(raw: RawApp) -> str | None:
    """How an identity provider fronts ``raw`` (``saml``, ``oidc``, ``sso``: password or
    other IdP sign-on), or None when its listing says it is no SSO app (an OAuth client, an
    expense or usage row)."""
    if raw.kind in ("saml", "sso"):
        return raw.kind
    if SSO_OIDC in raw.tags:
        return "oidc"
    return None


def access_of(kinds: set[str]) -> str:
    """The ``access`` summary (``scanner.core.models.ACCESS``) of an app with evidence of
    ``kinds``."""
    if "grant" in kinds:
        return "oauth"
    if kinds & _SIGN_IN_KINDS:
        return "sso" if kinds - _SIGN_IN_KINDS else "sso_only"
    if kinds & {"listing", "assignment"}:
        return "listed_only"
    if kinds == {"expense"}:
        return "spend_only"
    if kinds == {"usage"}:
        return "usage_only"
    return "files_only"


def _unlisted_raw(unlisted: stored.UnlistedApp) -> RawApp:
    """The raw app to resolve for evidence no current listing has: its gone listing, or one
    made from the app id and the name the events gave it (like any raw app)."""
    if unlisted.gone_listing is not None:
        return unlisted.gone_listing
    return RawApp(
        source=unlisted.source,
        client_id=unlisted.client_id,
        name=unlisted.name or unlisted.client_id,
        kind=_EVENT_APP_KIND.get(unlisted.kind or "", unlisted.kind or "oauth"),
    )


def _gather_events(store: Store, by_raw: dict[tuple[str, str], _Acc]) -> None:
    """Event evidence per source and kind; a per-app "last use" report moves the last use."""
    for e in stored.event_evidence(store):
        acc = by_raw.get((e.source, e.client_id))
        if acc is None:
            continue
        acc.evidence[(e.source, e.kind)] += e.events
        if e.kind in _IDP_SIGN_INS and e.events > e.failures:
            acc.sso.add(f"{e.source}:{e.kind}")  # signed in to through the IdP
        if e.kind == "activity":
            acc.last_sign_in = _max(acc.last_sign_in, e.last_at)


def _gather_grants(
    store: Store,
    by_raw: dict[tuple[str, str], _Acc],
    people: People,
) -> None:
    for g in stored.current_grants(store):
        acc = by_raw.get((g.source, g.client_id))
        if acc is None:
            continue
        # An assignment without scopes (an Okta app user) lets a person sign in; it is no token.
        acc.evidence[(g.source, "grant" if g.scopes else "assignment")] += 1
        acc.scopes.update(g.scopes)
        for scope in g.scopes:
            acc.scope_grants[(scope, g.consent_type)] += 1
        if g.consent_type == "admin":
            acc.admin_consent = True
        elif g.consent_type == "application":
            acc.app_only = True
        person = people.key(g.source, g.user_id, g.user_email) if g.user_id else None
        if person is not None:
            acc.users.add(person)
            acc.holders.add(person)
            when = g.granted_at or g.first_seen or ""
            if acc.first_grant is None or when < acc.first_grant[0]:
                acc.first_grant = (when, person)


def _gather_usage(
    store: Store, by_raw: dict[tuple[str, str], _Acc], people: People, now: datetime
) -> None:
    since = (now - timedelta(days=30)).date().isoformat()
    last_use: dict[int, tuple[_Acc, str]] = {}
    """id(acc) -> (acc, its latest successful sign-in as stored): parsed once per app."""
    for r in stored.usage_by_person(store, since):
        acc = by_raw.get((r.source, r.client_id))
        if acc is None:
            continue
        acc.failed_sign_ins += r.failures
        if not r.total:
            continue  # only failed: not a user, no use
        if r.last_at:
            latest = last_use.get(id(acc))
            if latest is None or r.last_at > latest[1]:
                last_use[id(acc)] = (acc, r.last_at)
        acc.sign_ins_30d += r.recent
        key = r.user_key
        person = (
            people.key(r.source, user_id=key[3:])
            if key.startswith("id:")
            else people.key(r.source, email=key)
            if key and key != "*"
            else None
        )
        if person is not None:
            acc.users.add(person)
            acc.usage[person] += r.total
    for acc, text in last_use.values():
        acc.last_sign_in = _max(acc.last_sign_in, parse_iso(text))


def _gather_spend(store: Store, by_raw: dict[tuple[str, str], _Acc], people: People) -> None:
    for r in stored.spend_by_app(store):
        acc = by_raw.get((r.source, r.client_id))
        if acc is None:
            continue
        acc.evidence[(r.source, "expense")] += r.lines
        acc.spend += r.total
        acc.currency = acc.currency or r.currency
        currency = r.currency or "?"
        acc.spend_by_currency[currency] = acc.spend_by_currency.get(currency, 0.0) + r.total
        acc.users.update(k for e in r.emails if (k := people.key(r.source, email=e)) is not None)


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
