"""Tell a channel what is new after a scan: new findings and source problems, through apprise.

``[notify] urls_env`` names an environment variable holding one or more apprise URLs
(Slack, Microsoft Teams, email, a JSON webhook...; https://github.com/caronc/apprise/wiki),
separated by spaces or commas. After each scan, findings opened or reopened since the last
*notified* scan, at or above ``min_severity``, and sources that failed (every time) or turned
partial (when the reason is new) are sent once. The ``notifications`` table records what each
message covered, so the next scan sends only what is new; a delivery that failed is retried
with the next scan. ``digest = true`` sends at most one message per UTC day, summarising every
scan since the last message.

Message text is plain: app names, reasons and errors come from providers and users, so every
dynamic piece goes through ``safe_text`` (no markup, mentions, links or control characters),
and apprise's own logger is silenced while sending because it logs target URLs, which carry
webhook tokens.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import apprise

from scanner.app.config import Config
from scanner.core import names
from scanner.core.errors import ConfigError
from scanner.core.models import SEVERITIES, finding_label
from scanner.core.words import plural
from scanner.store import notifications as stored
from scanner.store.database import Store

log = logging.getLogger(__name__)

MAX_FINDINGS = 25
"""Findings listed in one message; the rest are counted, and the report has them all."""
NEW_EVENTS = ("opened", "reopened", "expired")
"""Lifecycle events that make a finding news (scanner.analysis.findings): first seen, came back
after being resolved, or its risk acceptance ran out."""

Deliver = Callable[[Sequence[str], "Message"], "Delivery"]


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    level: str = "info"
    """apprise notify type: info, warning or failure."""


@dataclass(frozen=True)
class Delivery:
    delivered: int
    failures: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What the notification step did after a scan."""

    status: str
    """off (no urls_env), empty (nothing new), deferred (digest already sent today),
    sent, or failed (retried with the next scan)."""
    findings: int = 0
    sources: int = 0
    detail: str = ""

    def line(self) -> str:
        if self.status == "off":
            return ""
        if self.status == "empty":
            return "notifications: nothing new to send"
        if self.status == "deferred":
            return f"notifications: {self.detail}"
        what = f"{plural(self.findings, 'new finding')}, {plural(self.sources, 'source problem')}"
        if self.status == "failed":
            return (
                f"notifications: not delivered ({what}; retried after the next scan): {self.detail}"
            )
        extra = f" ({self.detail})" if self.detail else ""
        return f"notifications: sent {what}{extra}"


@dataclass(frozen=True)
class NewFinding:
    id: str
    app_name: str
    kind: str
    severity: str
    reason: str
    event: str


@dataclass(frozen=True)
class SourceProblem:
    source: str
    status: str
    detail: str
    failed_scans: int = 0
    scans: int = 1


@dataclass
class News:
    since_scan: int
    scan_id: int
    findings: list[NewFinding] = field(default_factory=list)
    sources: list[SourceProblem] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)
    open_by_severity: dict[str, int] = field(default_factory=dict)
    scans: int = 1

    @property
    def empty(self) -> bool:
        return not self.findings and not self.sources


# -- configuration ---------------------------------------------------------------------------
def notification_urls(config: Config, environ: dict[str, str] | None = None) -> list[str]:
    """The apprise URLs named by ``[notify] urls_env``; [] when notifications are off.

    Raises ConfigError (before any scan starts) for an unset variable, an unknown severity or a
    URL apprise cannot use. Messages never echo a URL: webhook URLs are secrets.
    """
    settings = config.notify
    where = f" ({config.file})" if config.file else ""
    if settings.min_severity not in SEVERITIES:
        raise ConfigError(
            f"notify.min_severity: {settings.min_severity!r} is not one of "
            f"{', '.join(SEVERITIES)}{where}"
        )
    if not settings.urls_env:
        return []
    env = os.environ if environ is None else environ
    value = env.get(settings.urls_env, "").strip()
    if not value:
        raise ConfigError(
            f"notify.urls_env: environment variable {settings.urls_env} is not set; export "
            f"it with one or more apprise URLs, or remove urls_env to turn notifications "
            f"off{where}"
        )
    urls = [u for u in re.split(r"[\s,]+", value) if u]
    with _quiet_apprise():
        for number, url in enumerate(urls, start=1):
            if apprise.Apprise.instantiate(url) is None:
                raise ConfigError(
                    f"notify.urls_env: entry {number} of {settings.urls_env} is not a URL "
                    f"apprise supports (see the apprise wiki for Slack, Teams, email and "
                    f"json:// formats){where}"
                )
    return urls


# -- after a scan ------------------------------------------------------------------------------
def after_scan(
    config: Config,
    scan_id: int,
    *,
    urls: Sequence[str] | None = None,
    now: datetime | None = None,
    deliver: Deliver | None = None,
) -> Outcome:
    """Send what is new since the last notified scan; record what was covered."""
    targets = notification_urls(config) if urls is None else list(urls)
    if not targets:
        return Outcome("off")
    store = Store.open(config.store_path)
    try:
        return notify_store(
            store, config, scan_id, targets, now or datetime.now(UTC), deliver or send
        )
    finally:
        store.close()


def notify_store(
    store: Store,
    config: Config,
    scan_id: int,
    urls: Sequence[str],
    now: datetime,
    deliver: Deliver,
) -> Outcome:
    mode = "digest" if config.notify.digest else "scan"
    day = now.astimezone(UTC).date().isoformat()
    if mode == "digest" and stored.digest_sent_on(store, day):
        return Outcome("deferred", detail=f"today's digest ({day}) was already sent")
    news = gather(store, scan_id, config.notify.min_severity)
    if news.empty:
        log.debug("nothing new since scan %d; no notification", news.since_scan)
        _record(store, news, mode, "empty", day, now, 0)
        return Outcome("empty")
    message = compose(news, config, digest=mode == "digest")
    log.debug(
        "sending %d new findings and %d source problems (scans %d to %d) to %d target(s)",
        len(news.findings),
        len(news.sources),
        news.since_scan + 1,
        news.scan_id,
        len(urls),
    )
    result = deliver(urls, message)
    status = "sent" if result.delivered else "failed"
    error = "; ".join(result.failures) or None
    _record(store, news, mode, status, day, now, result.delivered, error)
    for failure in result.failures:
        log.warning("notification %s", names.one_line(failure))
    detail = error or ""
    return Outcome(status, len(news.findings), len(news.sources), detail)


def gather(store: Store, scan_id: int, min_severity: str) -> News:
    """Findings and source problems new since the last notified scan, up to ``scan_id``."""
    covered = stored.last_coverage(store)
    since = covered.scan_id
    news = News(since_scan=since, scan_id=scan_id)
    news.findings = list(_new_findings(store, since, scan_id, min_severity, covered.at))
    news.states, news.sources, news.scans = _source_news(
        store, since, scan_id, covered.source_states
    )
    news.open_by_severity = stored.open_findings_by_severity(store)
    return news


def _new_findings(
    store: Store, since: int, scan_id: int, min_severity: str, covered_at: str | None = None
) -> Iterator[NewFinding]:
    rank: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}
    limit = rank[min_severity]
    rows = stored.open_finding_events(store, NEW_EVENTS, since, scan_id, covered_at)
    chosen = [r for r in rows if rank.get(r.severity, len(rank)) <= limit]
    chosen.sort(key=lambda r: (rank.get(r.severity, len(rank)), r.app_name or "", r.id))
    for r in chosen:
        yield NewFinding(
            r.id,
            r.app_name or r.id,
            r.kind,
            r.severity,
            r.reasons[0] if r.reasons else "",
            r.event,
        )


def _source_news(
    store: Store, since: int, scan_id: int, previous: dict[str, str]
) -> tuple[dict[str, str], list[SourceProblem], int]:
    """Each source's latest state, and which of them to report.

    A failure is reported after every scan it happens in (the inventory of that source is
    stale until it is fixed); a partial source only when its reason is new; a source that
    failed or was partial when last notified, or in an earlier scan of this range, but works
    now is reported once as recovered.
    """
    latest: dict[str, str] = {}
    failed: dict[str, int] = {}
    seen: dict[str, int] = {}
    scans: set[int] = set()
    for r in stored.source_run_ends(store, since, scan_id):
        scans.add(r.scan_id)
        source = r.source
        seen[source] = seen.get(source, 0) + 1
        if r.status == "failed":
            failed[source] = failed.get(source, 0) + 1
            latest[source] = f"failed: {r.error or 'no detail'}"
        elif r.status == "partial":
            latest[source] = "partial: " + "; ".join(r.skipped)
        else:
            latest[source] = "ok"
    problems = []
    for source, state in sorted(latest.items()):
        status, _, detail = state.partition(": ")
        if status == "failed" or (status == "partial" and previous.get(source) != state):
            problems.append(
                SourceProblem(source, status, detail, failed.get(source, 0), seen[source])
            )
        elif status == "ok" and (failed.get(source) or previous.get(source, "ok") != "ok"):
            problems.append(
                SourceProblem(
                    source, "recovered", "works again", failed.get(source, 0), seen[source]
                )
            )
    return latest, problems, max(len(scans), 1)


def _record(
    store: Store,
    news: News,
    mode: str,
    status: str,
    day: str,
    now: datetime,
    targets: int,
    error: str | None = None,
) -> None:
    stored.record_notification(
        store,
        scan_id=news.scan_id,
        mode=mode,
        status=status,
        day=day,
        at=now,
        finding_ids=[f.id for f in news.findings],
        source_states=news.states,
        targets=targets,
        error=error,
    )


# -- the message -------------------------------------------------------------------------------
_LOOKALIKES = str.maketrans(
    {
        "<": "\u2039",  # single angle quotes: no HTML tag, no Slack <!channel> or <url|text>
        ">": "\u203a",
        "&": "\uff06",  # fullwidth ampersand: no HTML entity
        "*": "\u2217",  # asterisk operator: no bold/italic
        "_": "\uff3f",  # fullwidth low line: no italic
        "~": "\u223c",  # tilde operator: no strike-through
        "`": "\u2019",  # no code spans
        "[": "(",  # no Markdown links or images
        "]": ")",
        "|": "\u00a6",  # broken bar: no table cells, no Slack link labels
        "@": "\uff20",  # fullwidth at: no @channel / @here mentions
        "#": "\uff03",  # no headings or channel links
        "\\": "\u2216",  # set minus: no escapes
        "!": "\u01c3",  # Latin retroflex click: no ![image] or <!here>
    }
)
_SPACES = re.compile(r"\s+")


def safe_text(value: object, limit: int = 160) -> str:
    """One line of inert text: no markup, mentions or links; line breaks become spaces and
    every other control, bidi or zero-width character shows as ``⟨U+202E⟩``
    (``scanner.core.names.visible``), so a disguised name is seen to be one."""
    text = _SPACES.sub(" ", names.visible(str(value))).strip().translate(_LOOKALIKES)
    text = text.replace("://", ":\u2044\u2044")  # fraction slashes: no auto-linked URL
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "\u2026"
    return text


def compose(news: News, config: Config, digest: bool = False) -> Message:
    org = safe_text(config.organisation.name, 80)
    counts = plural(len(news.findings), "new finding")
    problems = [p for p in news.sources if p.status != "recovered"]
    title = f"shadowit {'daily digest' if digest else 'scan'} for {org}: {counts}"
    if problems:
        title += f", {plural(len(problems), 'source problem')}"
    lines: list[str] = []
    if digest:
        lines.append(
            f"Summary of {plural(news.scans, 'scan')} since the last message "
            f"(up to scan {news.scan_id})."
        )
    if news.findings:
        lines.append(
            f"New findings (severity {config.notify.min_severity} or higher) since the last "
            "notification:"
        )
        for f in news.findings[:MAX_FINDINGS]:
            again = {"reopened": " (again)", "expired": " (acceptance expired)"}.get(f.event, "")
            why = f": {safe_text(f.reason)}" if f.reason else ""
            lines.append(
                f"- {f.severity.upper()} {safe_text(f.app_name, 80)}: "
                f"{finding_label(f.kind)}{again}{why}"
            )
        if len(news.findings) > MAX_FINDINGS:
            lines.append(f"- and {len(news.findings) - MAX_FINDINGS:,} more in the report")
    if news.sources:
        lines.append("Sources:")
        for p in news.sources:
            lines.append(f"- {safe_text(p.source, 40)} {p.status}: {_source_detail(p)}")
    if digest or news.findings:
        by_severity = ", ".join(
            f"{news.open_by_severity[s]:,} {s}" for s in SEVERITIES if news.open_by_severity.get(s)
        )
        lines.append(f"Open findings now: {by_severity or 'none'}.")
    lines.append(_next_step(config.file))
    level = "info"
    if any(f.severity in ("critical", "high") for f in news.findings):
        level = "warning"
    if any(p.status == "failed" for p in news.sources):
        level = "failure"
    return Message(title, "\n".join(lines), level)


def _source_detail(problem: SourceProblem) -> str:
    detail = safe_text(problem.detail, 240)
    if problem.scans > 1 and problem.failed_scans:
        detail += f" (failed in {problem.failed_scans} of {plural(problem.scans, 'scan')})"
    return detail


def _next_step(config_file: Path | None) -> str:
    where = (
        f" --config {config_file}" if config_file and _PLAIN_PATH.match(str(config_file)) else ""
    )
    return f"Details: shadowit findings{where} --status open, or the HTML report."


_PLAIN_PATH = re.compile(r"^[\w./-]+$", re.ASCII)


# -- delivery ----------------------------------------------------------------------------------
_NOTIFY_TYPES = {
    "info": apprise.NotifyType.INFO,
    "warning": apprise.NotifyType.WARNING,
    "failure": apprise.NotifyType.FAILURE,
}


def send(urls: Sequence[str], message: Message) -> Delivery:
    """Deliver ``message`` to each URL through apprise, as plain text; never raise."""
    delivered = 0
    failures: list[str] = []
    asset = apprise.AppriseAsset(storage_mode="memory")
    with _quiet_apprise():
        for number, url in enumerate(urls, start=1):
            target = apprise.Apprise(asset=asset)
            if not target.add(url):
                failures.append(f"target {number}: not a URL apprise supports")
                continue
            service = _service_name(target)
            ok = target.notify(
                body=message.body,
                title=message.title,
                body_format=apprise.NotifyFormat.TEXT,
                notify_type=_NOTIFY_TYPES[message.level],
            )
            if ok:
                delivered += 1
            else:
                failures.append(f"target {number} ({service}): delivery failed")
    return Delivery(delivered, tuple(failures))


def _service_name(target: apprise.Apprise) -> str:
    try:
        return str(getattr(target[0], "service_name", "apprise"))
    except (IndexError, TypeError):
        return "apprise"


@contextmanager
def _quiet_apprise() -> Iterator[None]:
    """apprise logs target URLs (webhook tokens) at debug level and in some warnings."""
    logger = logging.getLogger("apprise")
    saved = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = saved


def as_dict(outcome: Outcome) -> dict[str, Any]:
    return {
        "status": outcome.status,
        "findings": outcome.findings,
        "sources": outcome.sources,
        "detail": outcome.detail,
    }
