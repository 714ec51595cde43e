"""The ownership confirmation tables: ``confirm_requests`` (one question to one person about
one app) and ``attestations`` (the answers), and what choosing an owner reads of ``users``.

``scanner.analysis.confirm`` decides who is asked and what an answer means; the functions
here keep that state. Neither table ever holds a link, a token or a secret.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scanner.store.database import Store, iso, loads, parse_iso


# -- records ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConfirmRequest:
    """One question to one person about one app (a row of ``confirm_requests``)."""

    id: str
    app_key: str
    app_name: str
    owner: str
    reason: str
    status: str
    """pending, answered, expired or closed."""
    created: datetime
    first_sent: datetime | None = None
    last_sent: datetime | None = None
    reminders: int = 0
    answered: datetime | None = None
    routed_from: str | None = None


@dataclass(frozen=True)
class Attestation:
    """An answer (a row of ``attestations``)."""

    request_id: str
    app_key: str
    app_name: str
    owner: str
    answer: str
    answered: datetime
    note: str | None = None
    purpose: str | None = None
    data_held: str | None = None
    renewal: str | None = None
    suggested_owner: str | None = None


@dataclass(frozen=True, slots=True)
class NewRequest:
    """A request to open, ``pending`` and not yet sent."""

    id: str
    app_key: str
    app_name: str
    owner: str
    reason: str
    routed_from: str | None = None
    """The request whose "not ours" answer led to this one."""


@dataclass(frozen=True, slots=True)
class Membership:
    """Where a current user with an address sits: department and groups, from any source."""

    email: str
    department: str | None
    groups: tuple[str, ...]


# -- reading ------------------------------------------------------------------------------
def has_confirmations(store: Store) -> bool:
    """Whether the inventory has the confirmation tables at all (an older file may not)."""
    return "attestations" in store.db.table_names()


def any_request(store: Store) -> bool:
    """Whether anyone was ever asked about any app."""
    return bool(list(store.db.query("SELECT 1 FROM confirm_requests LIMIT 1")))


def confirm_request(store: Store, request_id: str) -> ConfirmRequest | None:
    """One request by id; None when there is none."""
    rows = list(store.db.query("SELECT * FROM confirm_requests WHERE id = ?", [request_id]))
    return _request(rows[0]) if rows else None


def confirm_requests(store: Store, status: str | None = None) -> list[ConfirmRequest]:
    """Every request, or those in ``status``, oldest first."""
    if status is None:
        rows = store.db.query("SELECT * FROM confirm_requests ORDER BY created, id")
    else:
        rows = store.db.query(
            "SELECT * FROM confirm_requests WHERE status = ? ORDER BY created, id", [status]
        )
    return [_request(r) for r in rows]


def attestations_newest_first(store: Store) -> list[Attestation]:
    """Every answer, newest first."""
    return [
        Attestation(
            request_id=r["request_id"],
            app_key=r["app_key"],
            app_name=r["app_name"],
            owner=r["owner"],
            answer=r["answer"],
            answered=parse_iso(r["answered"]) or datetime.min,
            note=r["note"],
            purpose=r["purpose"],
            data_held=r["data_held"],
            renewal=r["renewal"],
            suggested_owner=r["suggested_owner"],
        )
        for r in store.db.query("SELECT * FROM attestations ORDER BY answered DESC, id DESC")
    ]


def current_memberships(store: Store) -> list[Membership]:
    """Department and groups of every current user that has an email address."""
    return [
        Membership(r["email"], r["department"], tuple(loads(r["groups"], [])))
        for r in store.db.query(
            "SELECT email, department, groups FROM users "
            "WHERE gone_scan IS NULL AND email IS NOT NULL"
        )
    ]


def first_colleague(store: Store, email: str) -> str | None:
    """The first address (alphabetically) of another user in ``email``'s department."""
    row = store.db.execute(
        "SELECT email FROM users WHERE email IS NOT NULL AND email != ? AND department = "
        "(SELECT department FROM users WHERE email = ? LIMIT 1) ORDER BY email LIMIT 1",
        [email, email],
    ).fetchone()
    return row[0] if row else None


def _request(r: dict[str, Any]) -> ConfirmRequest:
    created = parse_iso(r["created"])
    assert created is not None
    return ConfirmRequest(
        id=r["id"],
        app_key=r["app_key"],
        app_name=r["app_name"],
        owner=r["owner"],
        reason=r["reason"],
        status=r["status"],
        created=created,
        first_sent=parse_iso(r["first_sent"]),
        last_sent=parse_iso(r["last_sent"]),
        reminders=r["reminders"] or 0,
        answered=parse_iso(r["answered"]),
        routed_from=r["routed_from"],
    )


# -- writing ------------------------------------------------------------------------------
def update_requests(
    store: Store,
    closing: Sequence[str],
    expiring: Sequence[str],
    opening: Sequence[NewRequest],
    now: datetime,
) -> None:
    """In one transaction: close and expire those pending requests, open the new ones."""
    stamp = iso(now)
    with store.db.atomic():
        for request_id in closing:
            _set_status(store, request_id, "closed", "pending")
        for request_id in expiring:
            _set_status(store, request_id, "expired", "pending")
        for new in opening:
            _insert_request(store, new, stamp)


def expire_request(store: Store, request_id: str) -> bool:
    """Mark a pending request ``expired``; False when it was not pending."""
    with store.db.atomic():
        return _set_status(store, request_id, "expired", "pending") == 1


def record_delivery(store: Store, request_id: str, reminder: bool, now: datetime) -> None:
    """Record that a request was sent at ``now``; a reminder counts one more reminder."""
    stamp = iso(now)
    with store.db.atomic():
        store.db.execute(
            "UPDATE confirm_requests SET last_sent = ?, first_sent = coalesce(first_sent, ?), "
            "reminders = reminders + ? WHERE id = ?",
            [stamp, stamp, int(reminder), request_id],
        )


def record_attestation(
    store: Store, answer: Attestation, now: datetime, reroute: NewRequest | None = None
) -> bool:
    """Use up a pending request with ``answer`` (answered at ``now``), and open ``reroute``
    if given, in one transaction; False, and nothing written, when it was not pending."""
    stamp = iso(now)
    with store.db.atomic():
        cursor = store.db.execute(
            "UPDATE confirm_requests SET status = 'answered', answered = ? "
            "WHERE id = ? AND status = 'pending'",
            [stamp, answer.request_id],
        )
        if cursor.rowcount != 1:
            return False
        store.db.execute(
            "INSERT INTO attestations (request_id, app_key, app_name, owner, answer, answered, "
            "note, purpose, data_held, renewal, suggested_owner) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                answer.request_id,
                answer.app_key,
                answer.app_name,
                answer.owner,
                answer.answer,
                stamp,
                answer.note,
                answer.purpose,
                answer.data_held,
                answer.renewal,
                answer.suggested_owner,
            ],
        )
        if reroute is not None:
            _insert_request(store, reroute, stamp)
    return True


def _set_status(store: Store, request_id: str, status: str, only_if: str) -> int:
    cursor = store.db.execute(
        "UPDATE confirm_requests SET status = ? WHERE id = ? AND status = ?",
        [status, request_id, only_if],
    )
    return cursor.rowcount


def _insert_request(store: Store, new: NewRequest, created: str | None) -> None:
    store.db.execute(
        "INSERT INTO confirm_requests (id, app_key, app_name, owner, reason, status, created, "
        "reminders, routed_from) VALUES (?, ?, ?, ?, ?, 'pending', ?, 0, ?)",
        [new.id, new.app_key, new.app_name, new.owner, new.reason, created, new.routed_from],
    )
