"""The report model: one plain, JSON-ready dict built from the store for one finished scan.

Every format renders this same model, so the HTML, JSON, CSV and XLSX always agree.
``SCHEMA_VERSION`` changes when the shape changes; ``reports/schema/report.schema.json``
describes it and every report is validated against it in the tests.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from reports import scale
from reports.actions import top_actions
from reports.ownership import latest_answers, ownership
from scanner.analysis import completeness, confirm_view, rates, sanctions
from scanner.analysis import diff as diffing
from scanner.analysis import findings as lifecycle
from scanner.analysis.catalog import AI_CATEGORIES
from scanner.analysis.owner_advice import owner_advice
from scanner.analysis.risk import ScopeTable, held_permissions
from scanner.analysis.text import normalise_name
from scanner.core.config import Config
from scanner.core.errors import ConfigError, ShadowitError
from scanner.core.models import SEVERITIES, SourceStatus
from scanner.store import inventory as stored_inventory
from scanner.store import reconciliations
from scanner.store.database import Store, iso

SCHEMA_VERSION = "1.4"


def build(
    store: Store,
    config: Config,
    scan_id: int | None = None,
    redact_users: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The report model for ``scan_id`` (default: the latest finished scan)."""
    scan_id = scan_id or store.latest_scan()
    if scan_id is None:
        raise ShadowitError(
            f"{config.store_path}: no finished scan yet; run `shadowit scan --config ...` first"
        )
    scan = store.scan(scan_id)
    if scan is None or scan["status"] != "finished":
        raise ShadowitError(f"scan {scan_id} is not a finished scan (see `shadowit scans`)")
    scopes_file = config.catalog.scopes_file
    scope_table = ScopeTable.load(config.path(scopes_file) if scopes_file else None)
    pseudonym = _Pseudonyms(redact_users)
    runs = store.source_runs(scan_id)
    # What this scan could not read: the figures and findings that need it read "unknown".
    ledger = completeness.Ledger.of(runs, store.record_sources(scan_id))
    listed = config.report.users_listed
    apps = [
        _app(r.data, r.sanction_status, scope_table, pseudonym, ledger, listed)
        for r in stored_inventory.snapshot_data(store, scan_id)
    ]
    _attach_policy(store, config, apps)
    _convert_spend(config, apps)
    for app in apps:  # a policy owner is a person too
        app["owner"] = pseudonym(app["owner"])
    sources_of = {a["key"]: a["sources"] for a in apps}
    # Open or not as of the report's day (an acceptance whose end date has come is open).
    today = (now or datetime.now(UTC)).date()
    findings = [
        _finding(f, pseudonym, today, _not_rechecked(f, scan_id, sources_of, ledger))
        for f in lifecycle.listing(store, today=today)
        if _live_at(f, scan_id)
    ]
    _link_findings(apps, findings)
    confirmation = _confirmation(store, config, apps, pseudonym, now)
    answers = latest_answers(confirmation.confirmations)
    for app in apps:
        app["ownership"] = ownership(app, answers.get(app["key"]))
    _advise_owners(apps, findings)
    scale.apply(apps)
    previous = store.previous_scan(scan_id)
    change = diffing.diff(store, scan_id, previous)
    changes = change.as_dict()
    changes["new_users"] = [
        {"app": c["app"], "users": [pseudonym(u) for u in c["users"]]} for c in changes["new_users"]
    ]
    open_findings = [f for f in findings if f["open"]]
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": iso(now or datetime.now(UTC)),
        "organisation": config.organisation.name,
        "redacted": redact_users,
        "scan": {
            "id": scan_id,
            "started": scan["started"],
            "finished": scan["finished"],
            "full": bool(scan["full"]),
            "sources": [_source_run(s, pseudonym) for s in runs],
            "reconciled": _reconciled(store, scan_id),
        },
        "previous_scan": previous,
        "summary": _summary(apps, open_findings),
        "changes": changes,
        "history": diffing.history(store),
        "apps": apps,
        "findings": findings,
        "top_actions": top_actions(apps, findings, today),
        "confirmations": confirmation.confirmations,
        "pending_requests": confirmation.pending,
        "it_requests": confirmation.it_requests,
    }


def _reconciled(store: Store, scan_id: int) -> dict[str, Any] | None:
    """How often ``shadowit report`` changed this scan's findings since it ran, and when last
    (null: never): the exports tell a reconciled state from the scan's own."""
    changed = [r for r in reconciliations.of_scan(store, scan_id) if r.changed]
    return {"changes": len(changed), "at": changed[-1].at} if changed else None


def _link_findings(apps: list[dict[str, Any]], findings: list[dict[str, Any]]) -> None:
    """Each app lists its findings (id, kind, severity, status) for the app detail."""
    by_app: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        by_app.setdefault(f["app_key"], []).append(f)
    for app in apps:
        app["findings"] = [
            {
                "id": f["id"],
                "kind": f["kind"],
                "severity": f["severity"],
                "status": f["status"],
                "open": f["open"],
                "not_rechecked": f["not_rechecked"],
            }
            for f in by_app.get(app["key"], [])
        ]


def _advise_owners(apps: Sequence[dict[str, Any]], findings: list[dict[str, Any]]) -> None:
    """An ``owner_unconfirmed`` finding says the next step for the app's confirmation state
    (a request out, an answer in), not the scan's "send a request"."""
    confirmation = {a["key"]: (a["name"], a["confirmation"]) for a in apps}
    for f in findings:
        if f["kind"] != "owner_unconfirmed" or f["app_key"] not in confirmation:
            continue
        name, state = confirmation[f["app_key"]]
        advice = owner_advice(name, state["state"], state["owner"])
        if advice:
            f["remediation"] = advice


def _source_run(s: SourceStatus, pseudonym: _Pseudonyms) -> dict[str, Any]:
    return {
        "source": s.source,
        "status": s.status,
        "records": s.records,
        "skipped": list(s.skipped),
        "not_collected": sorted(completeness.not_collected(s)),
        "warnings": [pseudonym.text(w) for w in s.warnings],
        "error": pseudonym.text(s.error) if s.error else None,
        "warning_count": s.warning_count,
    }


def _app(
    data: dict[str, Any],
    status: str,
    table: ScopeTable,
    pseudonym: _Pseudonyms,
    ledger: completeness.Ledger,
    listed: int,
) -> dict[str, Any]:
    app = data["app"]
    sign_ins_unknown = ledger.sign_ins_missing(data["sources"])
    scopes = _held_scopes(data, table)
    return {
        "key": app["key"],
        "name": app["name"],
        "vendor": app["vendor"],
        "category": app["category"],
        "domain": app["domain"],
        "first_party": app["first_party"],
        "internal": app["internal"],
        "lookalike_of": app["lookalike_of"],
        "matched_by": [
            {"rule": e["rule"], "value": e["value"], "score": e["score"]} for e in app["evidence"]
        ],
        "sources": data["sources"],
        "client_ids": data["client_ids"],
        "raw_names": data["raw_names"],
        "kinds": data.get("kinds", []),
        "evidence": _evidence(data.get("evidence", [])),
        "access": data.get("access", "listed_only"),
        **_people(data, pseudonym, ledger, listed),
        "departments": [{"department": d, "users": n} for d, n in data["departments"]],
        "marketing_users": data["marketing_users"],
        "is_marketing": data["is_marketing"],
        "marketing_reason": data["marketing_reason"],
        "sanction_status": status,
        "owner": None,
        "team": None,
        "purpose": None,
        "risk_score": data["risk_score"],
        "risk_level": data["risk_level"],
        "risk_reasons": data["risk_reasons"],
        # Generative-AI tools by catalog category; the catalog's vendor facts with their source.
        "ai_tool": app["category"] in AI_CATEGORIES,
        "vendor_facts": [
            {"fact": fact, "what": what, "source": source}
            for fact, what, source in data.get("vendor_facts", [])
        ],
        "scopes": scopes,
        "admin_consent": data["admin_consent"],
        "app_only": data["app_only"],
        "publisher": data["publisher"],
        "publisher_verified": data["publisher_verified"],
        "first_seen": data["first_seen"],
        "last_seen": data["last_seen"],
        "last_sign_in": data["last_sign_in"],
        "sign_ins_30d": data["sign_ins_30d"],
        "failed_sign_ins": data.get("failed_sign_ins", 0),
        # True when the sign-ins of a source that sees this app were not collected: the
        # sign-in figures (and ``last_sign_in``) are then unknown, not 0 or "never".
        "sign_ins_unknown": sign_ins_unknown,
        "spend": data["spend"],
        "spend_currency": data["spend_currency"],
        # One total per currency, never converted (``spend`` adds them up as one number).
        "spend_by_currency": [
            {"currency": c, "total": t} for c, t in data.get("spend_by_currency", [])
        ],
        # How an identity provider fronts the app (``okta:saml``, ``entra:oidc``); [] = no SSO.
        "sso": list(data.get("sso", [])),
        "spend_converted": None,
        "renewal_date": None,
        "notice_days": None,
        "annual_cost": None,
        "cost_currency": None,
        "likely_owner": pseudonym(data.get("first_user") or data.get("top_user")),
        "confirmation": {"state": "unconfirmed", "owner": None, "answered": None},
        "findings": [],
    }


def _people(
    data: dict[str, Any], pseudonym: _Pseudonyms, ledger: completeness.Ledger, listed: int
) -> dict[str, Any]:
    """Who uses the app: each person once across sources and spellings (``users`` and
    ``people`` are that count), those with no account in use any more apart.

    The lists name at most ``listed`` people (``[report] users_listed``), the first by address,
    and ``users_more`` / ``people_disabled_more`` count the rest, so a 50,000-person app does
    not put 50,000 names into every format; the counts stay exact."""
    users = data["users"]
    disabled = data.get("disabled_users", [])
    return {
        "users": len(users),
        "people": len(users),
        "people_disabled": data.get("people_disabled", 0),
        "people_disabled_list": [pseudonym(u) for u in disabled[:listed]],
        "people_disabled_more": max(0, len(disabled) - listed),
        # True when a stream that would have named users (sign-ins, grants) of a source that
        # sees this app was not collected: ``users`` is then a lower bound, "unknown" when 0.
        "users_unknown": ledger.users_missing(data["sources"]),
        "user_list": [pseudonym(u) for u in users[:listed]],
        "users_more": max(0, len(users) - listed),
    }


def _held_scopes(data: dict[str, Any], table: ScopeTable) -> list[dict[str, Any]]:
    """The app's permissions, most sensitive first; one held as an application permission is
    its own row, with the application meaning."""
    grants = {(scope, consent): count for scope, consent, count in data.get("scope_grants", [])}
    scopes = []
    for scope, app_only in held_permissions(data["scopes"], grants, data["app_only"]):
        info = table.held(scope, app_only)
        mine = {
            c: n for (s, c), n in grants.items() if s == scope and (c == "application") == app_only
        }
        scopes.append(
            {
                "scope": scope,
                "kind": "application" if app_only else "delegated",
                "level": info.level,
                "meaning": info.meaning,
                "consent": sorted(mine),
                "grants": sum(mine.values()),
            }
        )
    order = {lvl: i for i, lvl in enumerate(("critical", "high", "medium", "low"))}
    scopes.sort(key=lambda s: (order.get(s["level"], 9), s["scope"]))
    return scopes


def _evidence(rows: Sequence[Sequence[Any]]) -> dict[str, dict[str, int]]:
    """(source, kind, count) rows -> ``{source: {kind: count}}``."""
    by_source: dict[str, dict[str, int]] = {}
    for source, kind, count in rows:
        by_source.setdefault(source, {})[kind] = count
    return by_source


def _confirmation(
    store: Store,
    config: Config,
    apps: Sequence[dict[str, Any]],
    pseudonym: _Pseudonyms,
    now: datetime | None,
) -> Any:
    """Ownership confirmation state per app, pending requests and requests for IT."""
    period = config.policy.review_period_days
    expiry = config.confirm.expiry_days
    view = confirm_view.report_view(store, apps, period, expiry, now or datetime.now(UTC))
    for app in apps:
        state = view.by_app.get(app["key"])
        if state:
            app["confirmation"] = {**state, "owner": pseudonym(state["owner"])}
    people = ("owner", "requested_by", "suggested_owner", "rerouted_from")
    texts = ("purpose", "data_held", "note", "reason")
    for row in (*view.pending, *view.it_requests, *view.confirmations):
        for key in people:
            if key in row:
                row[key] = pseudonym(row[key])
        for key in texts:
            if row.get(key):
                row[key] = pseudonym.text(row[key])
    return view


def _attach_policy(store: Store, config: Config, apps: Sequence[dict[str, Any]]) -> None:
    """Owner, team, purpose and contract from the sanctioned list, for the apps that have an
    entry."""
    entries = sanctions.current_policy(config, store)
    by_name = {normalise_name(e.app): e for e in entries}
    for app in apps:
        if app["lookalike_of"]:
            continue
        for name in (app["name"], *app["raw_names"]):
            entry = by_name.get(normalise_name(name))
            if entry:
                app.update(
                    owner=entry.owner,
                    team=entry.team,
                    purpose=entry.purpose,
                    renewal_date=entry.renewal_date.isoformat() if entry.renewal_date else None,
                    notice_days=entry.notice_days,
                    annual_cost=entry.annual_cost,
                    cost_currency=entry.cost_currency,
                )
                break


def _convert_spend(config: Config, apps: Sequence[dict[str, Any]]) -> None:
    """Each app's spend in ``report.currency`` when a rates file is given (else null)."""
    settings = config.report
    if not settings.rates_file:
        return
    if not settings.currency:
        raise ConfigError("report.rates_file is set without report.currency; name the currency")
    table = rates.load(config.path(settings.rates_file), settings.currency)
    for app in apps:
        paid = [(r["currency"], r["total"]) for r in app["spend_by_currency"]]
        total = table.convert(paid) if paid else None
        app["spend_converted"] = (
            {"currency": table.currency, "total": total} if total is not None else None
        )


def _not_rechecked(
    row: dict[str, Any],
    scan_id: int,
    sources_of: dict[str, list[str]],
    ledger: completeness.Ledger,
) -> str | None:
    """Why an active finding was kept without being evaluated by this scan (None: it was)."""
    if row["status"] == "resolved" or row["last_scan"] == scan_id:
        return None
    sources = sources_of.get(row["app_key"])
    return ledger.not_rechecked(row["kind"], sources) if sources is not None else None


def _finding(
    row: dict[str, Any], pseudonym: _Pseudonyms, today: date, not_rechecked: str | None = None
) -> dict[str, Any]:
    decided_by = pseudonym(row["decided_by"])
    reason = row["decision_reason"] and pseudonym.text(row["decision_reason"])
    return {
        "id": row["id"],
        "app": row["app_name"],
        "app_key": row["app_key"],
        "kind": row["kind"],
        "severity": row["severity"],
        "status": row["status"],
        # Open or acknowledged, or accepted past its end date (scanner.store.findings.is_open):
        # what the cards, the "open only" filter and --fail-on count.
        "open": row["open"],
        "reasons": [pseudonym.text(r) for r in row["reasons"]],
        "remediation": pseudonym.text(row["remediation"]) if row["remediation"] else None,
        "opened": row["opened"],
        "resolved": row["resolved"],
        "decided_by": decided_by,
        "decision_reason": reason,
        "decided_until": row["decided_until"],
        "decision": lifecycle.decision_text(
            {**row, "decided_by": decided_by, "decision_reason": reason}, today
        ),
        "not_rechecked": not_rechecked,
    }


def _live_at(row: dict[str, Any], scan_id: int) -> bool:
    opened = row["opened_scan"] or 0
    resolved = row["resolved_scan"]
    return opened <= scan_id and (
        resolved is None or resolved > scan_id or row["status"] != "resolved"
    )


def _summary(
    apps: Sequence[dict[str, Any]], open_findings: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    third_party = [a for a in apps if not a["first_party"]]
    severities = Counter(f["severity"] for f in open_findings)
    return {
        "apps": len(apps),
        "third_party_apps": len(third_party),
        "marketing_apps": sum(1 for a in apps if a["is_marketing"]),
        "unsanctioned": sum(1 for a in apps if a["sanction_status"] == "unsanctioned"),
        "unsanctioned_marketing": sum(
            1 for a in apps if a["sanction_status"] == "unsanctioned" and a["is_marketing"]
        ),
        "open_findings": len(open_findings),
        "findings_by_severity": {s: severities.get(s, 0) for s in SEVERITIES},
        "apps_by_status": dict(Counter(a["sanction_status"] for a in apps).most_common()),
        "apps_by_category": dict(
            Counter(a["category"] or "uncategorised" for a in third_party).most_common()
        ),
        "apps_by_risk": {
            lvl: sum(1 for a in third_party if a["risk_level"] == lvl)
            for lvl in ("critical", "high", "medium", "low")
        },
    }


class _Pseudonyms:
    """Stable pseudonyms for emails when the report is redacted (same input, same name)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._names: dict[str, str] = {}

    def __call__(self, email: str | None) -> str | None:
        if not self.enabled or email is None:
            return email
        if email not in self._names:
            digest = hashlib.sha256(email.encode()).hexdigest()[:8]
            self._names[email] = f"user-{digest}"
        return self._names[email]

    def text(self, value: str) -> str:
        if not self.enabled:
            return value
        for email in list(self._names):
            value = value.replace(email, self._names[email])
        return re.sub(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", lambda m: self(m.group(0)) or "", value)
