"""The demo's ownership answers: one app in each confirmation state, then the re-check.

Answers go through the same functions the confirmation page uses; then the latest scan's
analysis and reports run again, as the next nightly scan would.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from reports import model as report_model
from reports.render import check_formats, render
from scanner.analysis import sanctions
from scanner.analysis.catalog import Catalog
from scanner.analysis.confirm import (
    Answer,
    FormAnswer,
    Plan,
    apply_plan,
    mark_sent,
    plan,
    record_answer,
    request,
    settings,
    validate_answer,
)
from scanner.app import pipeline
from scanner.app.operations import summary_of
from scanner.core.config import Config
from scanner.store import confirmations as stored
from scanner.store.database import Store


def seed_demo(store: Store, config: Config, now: datetime) -> dict[str, Any] | None:
    """Give the demo inventory one app in each confirmation state, then re-check and report.

    Answers go through the same ``record_answer`` the page uses. Then the latest scan's
    analysis runs again (as the next nightly scan would) so owner_unconfirmed resolves for the
    confirmed app, and the reports are written again. Returns the new summary, or None when
    the inventory already has confirmation data (the demo ran before).
    """
    if stored.any_request(store):
        return None
    s = settings(config)
    p = plan(store, config, s, now)
    new = [d for d in p.deliveries if d.kind == "new"]
    if len(new) < 8:
        return None
    review = timedelta(days=config.policy.review_period_days)
    script: list[tuple[Answer | None, timedelta, dict[str, Any]]] = [
        ("mine", timedelta(days=2), {"purpose": "Campaign copy drafts", "data_held": "none"}),
        ("mine", review + timedelta(days=20), {"purpose": "Keyword research"}),
        ("stopped", timedelta(days=1), {"note": "Replaced by the sanctioned tool last quarter"}),
        ("sanction_request", timedelta(days=3), {"purpose": "Event registration forms"}),
        ("not_ours", timedelta(days=1), {"suggest": True}),
        ("not_ours", timedelta(days=4), {"note": "Not marketing's; ask the web team"}),
        (None, timedelta(days=1), {}),  # asked, no answer yet
        (None, timedelta(days=s.expiry_days + 10), {"expire": True}),
    ]
    for delivery, (answer, ago, extra) in zip(new, script, strict=False):
        when = now - ago
        [(_, request_id)] = apply_plan(store, Plan((delivery,)), when - timedelta(hours=2))
        mark_sent(store, request_id, False, when - timedelta(hours=1))
        if extra.pop("expire", False):
            for _ in range(s.max_reminders):
                mark_sent(store, request_id, True, when)
            stored.expire_request(store, request_id)
            continue
        if answer is None:
            continue
        asked = request(store, request_id)
        assert asked is not None
        suggest = extra.pop("suggest", 0)
        suggested = stored.first_colleague(store, delivery.owner) if suggest else None
        form = FormAnswer(answer, suggested_owner=suggested, **extra)
        record_answer(store, validate_answer(form, asked, config.organisation), when)
    return _recheck(store, config, now)


def _recheck(store: Store, config: Config, now: datetime) -> dict[str, Any]:

    scan_id = store.latest_scan()
    assert scan_id is not None
    base = config.file.parent if config.file else None
    catalog = Catalog.load(config.catalog, base)
    entries = sanctions.load(config.sanctioned, base, catalog)
    statuses = store.source_runs(scan_id)
    seen = {s.source: {s.source} for s in statuses}
    pipeline.analyse(store, config, scan_id, now, statuses, seen, catalog, entries)
    model = report_model.build(
        store, config, scan_id, redact_users=config.report.redact_users, now=now
    )
    formats = check_formats(config.report.formats)
    written = render(model, config.path(config.report.out), formats)
    summary = summary_of(model)
    summary.update(written=[str(p) for p in written], new_apps=model["changes"]["new_apps"])
    return summary
