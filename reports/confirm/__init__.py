"""Ownership confirmation requests: plan them, deliver them, serve the page they link to.

``scanner.analysis.confirm`` keeps the state; this package turns it into messages with signed links
(``links``), delivers them (``mail``) and answers them (``server``). The CLI calls
``plan_requests``, ``send_requests`` and ``make_app``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from reports.confirm.links import LinkSigner, link_url
from reports.confirm.mail import Delivered, LinkItem, Outgoing, compose, send_smtp, write_files
from scanner.analysis import confirm, sanctions
from scanner.analysis.confirm_notes import request_notes
from scanner.core.config import Config
from scanner.core.settings import secret
from scanner.core.words import plural
from scanner.store.database import Store

if TYPE_CHECKING:
    from reports.confirm.server import ConfirmApp

__all__ = ["SendResult", "plan_requests", "send_requests", "plan_lines", "send_lines", "make_app"]


@dataclass
class SendResult:
    """What ``confirm send`` did."""

    delivered: list[Delivered] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    closed: int = 0
    expired: int = 0
    unowned: list[str] = field(default_factory=list)
    by_smtp: bool = False

    @property
    def failed(self) -> list[Delivered]:
        return [d for d in self.delivered if d.error]


def plan_requests(store: Store, config: Config, now: datetime | None = None) -> confirm.Plan:
    """What ``confirm send`` would do now (nothing is changed or sent)."""
    s = confirm.settings(config)
    return confirm.plan(store, config, s, now or datetime.now(UTC))


def send_requests(
    store: Store,
    config: Config,
    now: datetime | None = None,
    out: Path | None = None,
) -> SendResult:
    """Create the planned requests, sign their links and deliver them by SMTP or as files.

    Only delivered requests are marked as sent, so a failed delivery is retried next time.
    """
    now = now or datetime.now(UTC)
    s = confirm.settings(config)
    key = confirm.signing_key(s, config)
    password = None
    if s.smtp_host and (s.smtp_password_env or s.smtp_password_file):
        password = secret(
            s.smtp_password_env, s.smtp_password_file, "confirm.smtp_password", config.file
        )
    p = confirm.plan(store, config, s, now)
    result = SendResult(closed=len(p.closing), expired=len(p.expiring), unowned=list(p.unowned))
    created = confirm.apply_plan(store, p, now)
    notes = request_notes(confirm.latest_apps(store), sanctions.current_policy(config, store))
    signer = LinkSigner(key, s.expiry_days, clock=lambda: now)
    by_owner: dict[str, list[LinkItem]] = {}
    for delivery, request_id in created:
        token = signer.token(request_id, delivery.app_key, delivery.owner)
        by_owner.setdefault(delivery.owner, []).append(
            LinkItem(
                request_id,
                delivery.app_name,
                link_url(s.link_base_url, token),
                signer.expires(),
                delivery.reason,
                delivery.kind,
                delivery.reminder,
                notes.get(delivery.app_key, ()),
            )
        )
    outgoing = [
        compose(owner, items, s.from_addr, config.organisation.name, s.max_reminders, now)
        for owner, items in sorted(by_owner.items())
    ]
    if not outgoing:
        return result
    if s.smtp_host:
        result.by_smtp = True
        result.delivered = send_smtp(outgoing, s, password)
    else:
        folder = (out or config.path(s.out)) / now.strftime("%Y%m%dT%H%M%SZ")
        result.files = write_files(outgoing, folder)
        result.delivered = [_as_delivered(o) for o in outgoing]
    _mark(store, outgoing, result.delivered, now)
    return result


def _as_delivered(out: Outgoing) -> Delivered:
    return Delivered(out.owner, tuple(i.request_id for i in out.items))


def _mark(
    store: Store, outgoing: list[Outgoing], delivered: list[Delivered], now: datetime
) -> None:
    ok = {d.owner for d in delivered if not d.error}
    for out in outgoing:
        if out.owner not in ok:
            continue
        for item in out.items:
            confirm.mark_sent(store, item.request_id, item.kind == "reminder", now)


def make_app(config: Config, clock: Callable[[], datetime] | None = None) -> ConfirmApp:
    """The confirmation page as a WSGI app (see ``reports.confirm.server``)."""
    from reports.confirm.server import ConfirmApp

    return ConfirmApp.from_config(config, clock=clock)


def plan_lines(p: confirm.Plan) -> list[str]:
    """``confirm plan`` output: one line per message that would go out."""
    if not (p.deliveries or p.closing or p.expiring or p.unowned):
        return ["Nothing to send: every marketing app is confirmed or already asked."]
    lines = []
    labels = {"new": "ask", "rerouted": "ask (rerouted)", "reminder": "remind"}
    for d in p.deliveries:
        extra = f" #{d.reminder}" if d.kind == "reminder" else ""
        lines.append(f"{labels[d.kind]}{extra}: {d.owner} about {d.app_name} ({d.reason})")
    for r in p.expiring:
        lines.append(f"expire: {r.owner} about {r.app_name} (no answer; ask the next owner)")
    for r in p.closing:
        why = "has left; the next owner is asked" if r in p.left else "no longer needed"
        lines.append(f"close: {r.owner} about {r.app_name} ({why})")
    for name in p.unowned:
        lines.append(f"no one to ask about {name}: set confirm.fallback_owner")
    return lines


def send_lines(result: SendResult) -> list[str]:
    """``confirm send`` output: who got what, where the files are; never a link."""
    lines = []
    for d in result.delivered:
        what = plural(len(d.request_ids), "request")
        if d.error:
            lines.append(f"NOT sent to {d.owner} ({what}): {d.error}")
        elif result.by_smtp:
            lines.append(f"sent to {d.owner}: {what}")
        else:
            lines.append(f"wrote a message for {d.owner}: {what}")
    lines.extend(f"wrote {path}" for path in result.files)
    if result.expired:
        lines.append(
            f"{plural(result.expired, 'unanswered request')} expired; next owners asked next time"
        )
    if result.closed:
        lines.append(f"{plural(result.closed, 'request')} closed: no longer needed")
    lines.extend(f"no one to ask about {n}: set confirm.fallback_owner" for n in result.unowned)
    return lines or ["Nothing to send: every marketing app is confirmed or already asked."]
