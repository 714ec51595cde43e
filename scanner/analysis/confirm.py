"""Ownership confirmation: who is asked about which marketing app, and what they answered.

    marketing app without a current confirmation
        └── plan(): the likely owner (sanctioned-list owner, else the marketing user who
            consented first or uses it most, else ``confirm.fallback_owner``)
              └── confirm_requests row ``pending`` ──answer──> ``answered`` + one attestation
                    │   mine              owner_unconfirmed resolves on the next scan
                    │   not_ours          a new request to the suggested owner (``rerouted``)
                    │   stopped           a revoke request for IT in the report
                    │   sanction_request  a review request for IT in the report
                    ├── the person asked has left (no account in use): closed, and a new
                    │   request (``routed_from`` it) goes to the next candidate who has not
                    │   left, usually the fallback owner
                    ├── no answer after ``reminder_days``: reminded, at most ``max_reminders``
                    └── reminders used up and the link expired: ``expired``; the next
                        candidate (usually the fallback owner) is asked instead

This module decides; the state lives in the inventory (tables ``confirm_requests`` and
``attestations``, kept by ``scanner.store.confirmations``, which also defines the records
``ConfirmRequest`` and ``Attestation`` re-exported here); ``reports.confirm`` signs the
links, delivers the requests and serves the page. Neither table ever holds a link, a token
or a secret: a request's id is only useful together with a signature made from
``confirm.secret_env``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from scanner.analysis.people import People
from scanner.analysis.risk import ScopeTable
from scanner.analysis.text import normalise_name
from scanner.core import names
from scanner.core.config import Config, ConfirmSettings, OrganisationSettings
from scanner.core.errors import ConfigError, ShadowitError
from scanner.core.names import is_email
from scanner.core.settings import secret
from scanner.store import confirmations as stored
from scanner.store import inventory as stored_inventory
from scanner.store import snapshots
from scanner.store.confirmations import Attestation as Attestation
from scanner.store.confirmations import ConfirmRequest as ConfirmRequest
from scanner.store.confirmations import NewRequest
from scanner.store.database import Store, iso, parse_iso

log = logging.getLogger(__name__)

Answer = Literal["mine", "not_ours", "stopped", "sanction_request"]
ANSWERS: tuple[str, ...] = ("mine", "not_ours", "stopped", "sanction_request")

MIN_SECRET_LENGTH = 32
"""Characters a signing key needs at least (e.g. ``python -c 'import secrets;
print(secrets.token_urlsafe(32))'`` gives 43)."""
MAX_TEXT = 2000
"""Longest free-text answer kept; a form is not a file upload."""

STATES: tuple[str, ...] = (
    "confirmed",
    "review_due",
    "requested",
    "rerouted",
    "no_answer",
    "disowned",
    "retire_requested",
    "sanction_requested",
    "unconfirmed",
    "not_applicable",
)
"""Confirmation state of an app in the report, most settled first."""


class AnswerError(ShadowitError):
    """An answer on the confirmation page is incomplete; the message says what to fix."""


def settings(config: Config) -> ConfirmSettings:
    """The ``[confirm]`` settings, validated when the config was loaded."""
    return config.confirm


def signing_key(s: ConfirmSettings, config: Config) -> str:
    """The link-signing key named by ``confirm.secret_env`` / ``secret_file``."""
    value = secret(s.secret_env, s.secret_file, "confirm.secret", config.file)
    assert value is not None
    if len(value) < MIN_SECRET_LENGTH:
        source = f"environment variable {s.secret_env}" if s.secret_env else s.secret_file
        raise ConfigError(
            f"confirm.secret_env: the key in {source} is shorter than {MIN_SECRET_LENGTH} "
            "characters; generate one with `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`"
        )
    return value


# -- records ------------------------------------------------------------------------------
@dataclass(frozen=True)
class AppFacts:
    """What the latest finished scan knows of one app, as the page and the plan need it."""

    key: str
    name: str
    vendor: str | None
    domain: str | None
    category: str | None
    users: tuple[str, ...]
    scopes: tuple[str, ...]
    is_marketing: bool
    sanction_status: str
    first_party: bool
    internal: bool
    lookalike_of: str | None
    raw_names: tuple[str, ...] = ()
    first_user: str | None = None
    top_user: str | None = None

    def access(self, table: ScopeTable) -> list[tuple[str, str, str]]:
        """(level, meaning, scope) per granted scope, most sensitive first, in plain words."""
        order = {lvl: i for i, lvl in enumerate(("critical", "high", "medium", "low"))}
        rows = []
        for scope in self.scopes:
            info = table.info(scope)
            rows.append((info.level, info.meaning, scope))
        rows.sort(key=lambda r: (order.get(r[0], 9), r[1]))
        return rows


@dataclass(frozen=True)
class PlannedRequest:
    """A message ``confirm send`` would deliver."""

    app_key: str
    app_name: str
    owner: str
    reason: str
    kind: Literal["new", "rerouted", "reminder"]
    request_id: str | None = None
    """Set for requests that already exist (rerouted, reminders)."""
    reminder: int = 0
    routed_from: str | None = None
    """For a new request that replaces one to a person who has left: that request."""


@dataclass(frozen=True)
class Plan:
    deliveries: tuple[PlannedRequest, ...]
    closing: tuple[ConfirmRequest, ...] = ()
    """Pending requests no longer needed (the app was confirmed, banned or is gone)."""
    expiring: tuple[ConfirmRequest, ...] = ()
    """Pending requests whose reminders are used up and whose last link expired."""
    unowned: tuple[str, ...] = ()
    """Apps that need asking but have no likely owner (set ``confirm.fallback_owner``)."""
    left: tuple[ConfirmRequest, ...] = ()
    """Those of ``closing`` closed because the person asked has left."""


@dataclass(frozen=True)
class FormAnswer:
    """What the page submitted, before validation."""

    answer: str
    purpose: str | None = None
    data_held: str | None = None
    renewal: str | None = None
    suggested_owner: str | None = None
    note: str | None = None


# -- reading the inventory ----------------------------------------------------------------
def latest_apps(store: Store) -> dict[str, AppFacts]:
    """App key -> facts from the latest finished scan's snapshot."""
    scan_id = store.latest_scan()
    if scan_id is None:
        return {}
    apps = {}
    for doc in snapshots.app_documents(store, scan_id):
        facts = _facts(doc.data, doc.sanction_status)
        apps[facts.key] = facts
    return apps


def app_facts(store: Store, app_key: str) -> AppFacts | None:
    scan_id = store.latest_scan()
    if scan_id is None:
        return None
    doc = snapshots.app_document(store, scan_id, app_key)
    return _facts(doc.data, doc.sanction_status) if doc else None


def _facts(data: dict[str, Any], status: str) -> AppFacts:
    app = data["app"]
    return AppFacts(
        key=app["key"],
        name=app["name"],
        vendor=app.get("vendor"),
        domain=app.get("domain"),
        category=app.get("category"),
        users=tuple(data.get("users", ())),
        scopes=tuple(data.get("scopes", ())),
        is_marketing=bool(data.get("is_marketing")),
        sanction_status=status,
        first_party=bool(app.get("first_party")),
        internal=bool(app.get("internal")),
        lookalike_of=app.get("lookalike_of"),
        raw_names=tuple(data.get("raw_names", ())),
        first_user=data.get("first_user"),
        top_user=data.get("top_user"),
    )


def request(store: Store, request_id: str) -> ConfirmRequest | None:
    return stored.confirm_request(store, request_id)


def requests(store: Store, status: str | None = None) -> list[ConfirmRequest]:
    return stored.confirm_requests(store, status)


def attestations(store: Store) -> list[Attestation]:
    """Every answer, newest first."""
    return stored.attestations_newest_first(store)


def _marketing_people(store: Store, org: OrganisationSettings) -> set[str]:
    """Emails of people in a marketing department or group (any source)."""
    departments = {d.casefold() for d in org.marketing_departments}
    groups = {g.casefold() for g in org.marketing_groups}
    people = set()
    for m in stored.current_memberships(store):
        in_department = (m.department or "").casefold() in departments
        in_group = any(g.casefold() in groups for g in m.groups)
        if in_department or in_group:
            people.add(m.email.lower())
    return people


def _sanctioned_owners(store: Store, config: Config) -> dict[str, str]:
    """Normalised app name -> the sanctioned-list owner."""
    from scanner.analysis import sanctions

    entries = sanctions.current_policy(config, store)
    return {normalise_name(e.app): e.owner for e in entries if e.owner}


# -- who is asked -------------------------------------------------------------------------
def needs_asking(app: AppFacts) -> bool:
    """Marketing apps the company may own; banned apps and lookalikes are IT's to remove."""
    return (
        app.is_marketing
        and not app.first_party
        and not app.internal
        and not app.lookalike_of
        and app.sanction_status != "banned"
    )


def candidates(
    app: AppFacts, sanctioned_owners: Mapping[str, str], marketing: set[str], fallback: str | None
) -> list[tuple[str, str]]:
    """(owner, why) in the order they are asked: policy owner, first consenter, top user."""
    found: list[tuple[str, str]] = []
    for name in (app.name, *app.raw_names):
        owner = sanctioned_owners.get(normalise_name(name))
        if owner:
            found.append((owner.lower(), "owner in the sanctioned list"))
            break
    for person, why in (
        (app.first_user, "consented to it first"),
        (app.top_user, "uses it most"),
    ):
        if person and is_email(person) and person.lower() in marketing:
            found.append((person.lower(), why))
    if fallback:
        found.append((fallback.lower(), "fallback owner for marketing tools"))
    unique: dict[str, str] = {}
    for owner, why in found:
        unique.setdefault(owner, why)
    return list(unique.items())


def plan(store: Store, config: Config, s: ConfirmSettings, now: datetime) -> Plan:
    """The requests ``confirm send`` would deliver now; changes nothing."""
    apps = latest_apps(store)
    review = timedelta(days=config.policy.review_period_days)
    confirmed = store.confirmed_owners(now, config.policy.review_period_days)
    recent = [a for a in attestations(store) if a.answered >= now - review]
    waiting_for_it = {
        a.app_key for a in _latest_per_app(recent) if a.answer in ("stopped", "sanction_request")
    }
    wanted = {
        k for k, a in apps.items() if needs_asking(a) and k not in confirmed.keys() | waiting_for_it
    }
    deliveries: list[PlannedRequest] = []
    closing: list[ConfirmRequest] = []
    expiring: list[ConfirmRequest] = []
    asked: set[str] = set()
    leavers = People(stored_inventory.directory_users(store)).leavers()
    left_behind: dict[str, ConfirmRequest] = {}
    for r in requests(store, "pending"):
        if r.app_key not in wanted:
            closing.append(r)
            continue
        if r.owner.lower() in leavers:  # they left: nobody reads that mailbox for them
            closing.append(r)
            left_behind[r.app_key] = r
            continue
        if not is_email(r.owner):  # stored before addresses were validated: never a header
            log.warning(
                "confirmation request %s: %s is not an email address; closed, the next owner "
                "is asked",
                r.id,
                names.one_line(repr(r.owner), 200),
            )
            closing.append(r)
            continue
        if r.last_sent is None:
            kind: Literal["new", "rerouted"] = "rerouted" if r.routed_from else "new"
            deliveries.append(PlannedRequest(r.app_key, r.app_name, r.owner, r.reason, kind, r.id))
        elif now - r.last_sent >= timedelta(days=s.reminder_days) and (
            r.reminders < s.max_reminders
        ):
            deliveries.append(
                PlannedRequest(
                    r.app_key, r.app_name, r.owner, r.reason, "reminder", r.id, r.reminders + 1
                )
            )
        elif r.reminders >= s.max_reminders and now - r.last_sent > timedelta(days=s.expiry_days):
            expiring.append(r)
            continue
        asked.add(r.app_key)
    declined = _declined(store, recent, expiring, now - review)
    sanctioned_owners = _sanctioned_owners(store, config)
    marketing = _marketing_people(store, config.organisation)
    unowned: list[str] = []
    for key in sorted(wanted - asked, key=lambda k: apps[k].name.casefold()):
        app = apps[key]
        options = [
            (o, why)
            for o, why in candidates(app, sanctioned_owners, marketing, s.fallback_owner)
            if o not in declined.get(key, set()) and o not in leavers
        ]
        if not options:
            unowned.append(app.name)
            continue
        owner, why = options[0]
        old = left_behind.get(key)
        if old is None:
            deliveries.append(PlannedRequest(key, app.name, owner, why, "new"))
        else:
            why = f"{old.owner} has left; {why}"
            deliveries.append(
                PlannedRequest(key, app.name, owner, why, "rerouted", routed_from=old.id)
            )
    left = tuple(left_behind.values())
    return Plan(tuple(deliveries), tuple(closing), tuple(expiring), tuple(unowned), left)


def _declined(
    store: Store,
    recent: Sequence[Attestation],
    expiring: Sequence[ConfirmRequest],
    since: datetime,
) -> dict[str, set[str]]:
    """App key -> people who said "not ours" or let a request expire, within the period."""
    declined: dict[str, set[str]] = {}
    for a in recent:
        if a.answer == "not_ours":
            declined.setdefault(a.app_key, set()).add(a.owner)
    for r in [*requests(store, "expired"), *expiring]:
        if r.created >= since:
            declined.setdefault(r.app_key, set()).add(r.owner)
    return declined


def _latest_per_app(items: Iterable[Attestation]) -> list[Attestation]:
    latest: dict[str, Attestation] = {}
    for a in items:
        if a.app_key not in latest or a.answered > latest[a.app_key].answered:
            latest[a.app_key] = a
    return list(latest.values())


# -- changing state -----------------------------------------------------------------------
def new_request_id() -> str:
    return secrets.token_urlsafe(12)


def apply_plan(store: Store, p: Plan, now: datetime) -> list[tuple[PlannedRequest, str]]:
    """Close and expire what the plan says, create its new requests; return (delivery, id)."""
    out: list[tuple[PlannedRequest, str]] = []
    opening: list[NewRequest] = []
    for d in p.deliveries:
        request_id = d.request_id
        if request_id is None:
            request_id = new_request_id()
            opening.append(
                NewRequest(
                    request_id, d.app_key, d.app_name, d.owner, d.reason, routed_from=d.routed_from
                )
            )
        out.append((d, request_id))
    closing = [r.id for r in p.closing]
    expiring = [r.id for r in p.expiring]
    stored.update_requests(store, closing, expiring, opening, now)
    return out


def mark_sent(store: Store, request_id: str, reminder: bool, now: datetime) -> None:
    """Record a delivery; a reminder counts against ``max_reminders``."""
    stored.record_delivery(store, request_id, reminder, now)


def validate_answer(
    form: FormAnswer, asked: ConfirmRequest, org: OrganisationSettings
) -> Attestation:
    """Check a submitted answer; raise AnswerError naming the field to fix."""
    if form.answer not in ANSWERS:
        raise AnswerError("Choose one of the four answers.")
    purpose = _text(form.purpose, "purpose")
    data_held = _text(form.data_held, "data_held")
    note = _text(form.note, "note")
    renewal = None
    if form.answer == "mine":
        if not purpose:
            raise AnswerError("Tell us what your team uses it for (business purpose).")
        if form.renewal and form.renewal.strip():
            try:
                renewal = date.fromisoformat(form.renewal.strip()).isoformat()
            except ValueError:
                raise AnswerError("The renewal date should look like 2027-03-31.") from None
    suggested = None
    if form.answer == "not_ours" and form.suggested_owner and form.suggested_owner.strip():
        suggested = form.suggested_owner.strip().lower()
        if not is_email(suggested):
            raise AnswerError("The suggested owner should be an email address.")
        domain = suggested.rsplit("@", 1)[1]
        own = [d.lower() for d in org.own_domains]
        if own and not any(domain == d or domain.endswith("." + d) for d in own):
            raise AnswerError(
                f"Suggest a colleague with an address at {', '.join(org.own_domains)}."
            )
        if suggested == asked.owner:
            raise AnswerError("Suggest someone else: this request was sent to you.")
    return Attestation(
        request_id=asked.id,
        app_key=asked.app_key,
        app_name=asked.app_name,
        owner=asked.owner,
        answer=form.answer,
        answered=datetime.min,
        note=note,
        purpose=purpose if form.answer in ("mine", "sanction_request") else None,
        data_held=data_held if form.answer in ("mine", "sanction_request") else None,
        renewal=renewal,
        suggested_owner=suggested,
    )


def _text(value: str | None, name: str) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise AnswerError(f"Keep {name.replace('_', ' ')} under {MAX_TEXT} characters.")
    return value


@dataclass(frozen=True)
class Outcome:
    """What recording an answer did."""

    attestation: Attestation
    rerouted_to: str | None = None


def record_answer(
    store: Store, answer: Attestation, now: datetime, fallback: str | None = None
) -> Outcome | None:
    """Store an answer and use up its request; None if the request was not pending.

    "Not ours" opens a request to the suggested owner (or the fallback owner, unless they
    are the one who said it), delivered by the next ``confirm send``.
    """
    reroute = _reroute(answer, fallback)
    if not stored.record_attestation(store, answer, now, reroute):
        return None
    saved = Attestation(**{**answer.__dict__, "answered": parse_iso(iso(now)) or now})
    return Outcome(saved, reroute.owner if reroute else None)


def _reroute(answer: Attestation, fallback: str | None) -> NewRequest | None:
    """The request a "not ours" answer opens: to the suggested owner, else the fallback."""
    if answer.answer != "not_ours":
        return None
    target = answer.suggested_owner or (fallback.lower() if fallback else None)
    if not target or target == answer.owner:
        return None
    why = (
        f"suggested by {answer.owner}"
        if answer.suggested_owner
        else f"{answer.owner} said it is not theirs; fallback owner"
    )
    return NewRequest(
        new_request_id(),
        answer.app_key,
        answer.app_name,
        target,
        why,
        routed_from=answer.request_id,
    )
