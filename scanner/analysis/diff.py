"""What changed between two finished scans, from their app snapshots (pandas) and the
finding events. SQLite stays the source of truth; pandas only compares the two tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from scanner.core.errors import ShadowitError
from scanner.store import findings as stored_findings
from scanner.store import snapshots
from scanner.store.database import Store, parse_iso


@dataclass
class Diff:
    since_scan: int | None
    scan: int
    new_apps: list[str] = field(default_factory=list)
    gone_apps: list[str] = field(default_factory=list)
    new_users: list[dict[str, Any]] = field(default_factory=list)
    scope_escalations: list[dict[str, Any]] = field(default_factory=list)
    findings_opened: list[str] = field(default_factory=list)
    findings_resolved: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.new_apps,
                self.gone_apps,
                self.new_users,
                self.scope_escalations,
                self.findings_opened,
                self.findings_resolved,
            )
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "since_scan": self.since_scan,
            "scan": self.scan,
            "new_apps": self.new_apps,
            "gone_apps": self.gone_apps,
            "new_users": self.new_users,
            "scope_escalations": self.scope_escalations,
            "findings_opened": self.findings_opened,
            "findings_resolved": self.findings_resolved,
        }


def resolve_since(store: Store, scan: int, since: str | None) -> int | None:
    """``--since`` as a scan id or a date (the last finished scan before that day)."""
    if since is None:
        return store.previous_scan(scan)
    if since.isdigit():
        sid = int(since)
        row = store.scan(sid)
        if row is None or row["status"] != "finished":
            raise ShadowitError(f"--since {since}: no finished scan with that id (shadowit scans)")
        return sid
    try:
        day = datetime.fromisoformat(since).date().isoformat()
    except ValueError:
        raise ShadowitError(
            f"--since {since!r}: give a scan id (e.g. 12) or a date (e.g. 2026-11-01)"
        ) from None
    return snapshots.last_finished_scan_before(store, day)


def diff(store: Store, scan: int, since: int | None) -> Diff:
    result = Diff(since, scan)
    now_df = _snapshot(store, scan)
    if since is None:
        return result
    before = _snapshot(store, since)
    merged = now_df.merge(
        before, on="app_key", how="outer", suffixes=("", "_before"), indicator=True
    )
    result.new_apps = sorted(merged.loc[merged["_merge"] == "left_only", "name"].tolist())
    result.gone_apps = sorted(merged.loc[merged["_merge"] == "right_only", "name_before"].tolist())
    both = merged[merged["_merge"] == "both"]
    for row in both.itertuples():
        added_users = sorted(set(row.users) - set(row.users_before))
        if added_users:
            result.new_users.append({"app": row.name, "users": added_users})
        added_scopes = sorted(set(row.scopes) - set(row.scopes_before))
        if added_scopes:
            result.scope_escalations.append({"app": row.name, "scopes": added_scopes})
    for e in stored_findings.scan_finding_events(store, since, scan):
        label = f"{e.app_name}: {e.kind}"
        if e.event in ("opened", "reopened", "expired"):
            result.findings_opened.append(label)
        elif e.event == "resolved":
            result.findings_resolved.append(label)
    return result


def _snapshot(store: Store, scan: int) -> pd.DataFrame:
    rows = [
        (a.app_key, a.name, list(a.users), list(a.scopes)) for a in snapshots.app_reach(store, scan)
    ]
    return pd.DataFrame(rows, columns=["app_key", "name", "users", "scopes"])


def history(store: Store, limit: int = 30) -> list[dict[str, Any]]:
    """Per finished scan: apps, unsanctioned marketing apps and open findings (for charts)."""
    frame = pd.DataFrame(
        [
            (a.scan_id, a.started, a.is_marketing, a.sanction_status)
            for a in snapshots.finished_app_standings(store)
        ],
        columns=["scan_id", "started", "is_marketing", "sanction_status"],
    )
    if frame.empty:
        return []
    frame["unsanctioned_marketing"] = (frame["is_marketing"] == 1) & (
        frame["sanction_status"] == "unsanctioned"
    )
    grouped = (
        frame.groupby(["scan_id", "started"])
        .agg(
            apps=("is_marketing", "size"), unsanctioned_marketing=("unsanctioned_marketing", "sum")
        )
        .reset_index()
        .sort_values("scan_id")
        .tail(limit)
    )
    opened = _open_findings_per_scan(store, grouped["scan_id"].tolist())
    return [
        {
            "scan_id": int(r.scan_id),
            "started": r.started,
            "apps": int(r.apps),
            "unsanctioned_marketing": int(r.unsanctioned_marketing),
            "open_findings": opened.get(int(r.scan_id), 0),
        }
        for r in grouped.itertuples()
    ]


def _open_findings_per_scan(store: Store, scans: list[int]) -> dict[int, int]:
    return {scan: stored_findings.findings_open_at(store, scan) for scan in scans}


def scan_time(store: Store, scan: int) -> datetime | None:
    row = store.scan(scan)
    return parse_iso(row["started"]) if row else None
