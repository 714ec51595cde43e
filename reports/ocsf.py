"""``findings.ocsf.jsonl``: each finding of the report model as one OCSF Detection Finding.

One JSON object a line, class_uid 2004 in category 2 Findings, built through py-ocsf-models'
pydantic classes (OCSF 1.5.0), so every event is checked against the class as it is built.
Field names, enums and required attributes: https://schema.ocsf.io/1.5.0/classes/detection_finding
(ocsf/ocsf-schema ``events/findings/detection_finding.json`` and ``finding.json``); times are
OCSF ``timestamp_t``, milliseconds since the epoch (https://schema.ocsf.io/1.5.0/data_types).

``finding_info.uid`` is our stable finding id, so a SIEM that ingests each night's file sees
one finding updated (``activity_id`` 2) or closed (3) instead of a new one each night.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from reports import exports
from reports.base import write_private
from scanner import __version__
from scanner.core.words import label

FILE_NAME = "findings.ocsf.jsonl"
PRODUCT = "shadowit"
VENDOR = "shadowit project"

# OCSF severity_id (base_event ``severity_id``): 1 Informational, 2 Low, 3 Medium, 4 High,
# 5 Critical; 0 Unknown for a severity we do not know.
SEVERITY_IDS: Mapping[str, int] = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
SEVERITY_NAMES: Mapping[int, str] = {
    0: "Unknown",
    1: "Informational",
    2: "Low",
    3: "Medium",
    4: "High",
    5: "Critical",
}

# OCSF finding status_id: 1 New, 2 In Progress, 3 Suppressed, 4 Resolved. An acknowledged
# finding is being worked on; an accepted one was reviewed and its risk taken, so it is
# suppressed until its end date, and open (New) again once that date has passed.
STATUS_IDS: Mapping[str, int] = {"open": 1, "acknowledged": 2, "accepted": 3, "resolved": 4}
STATUS_NAMES: Mapping[int, str] = {
    0: "Unknown",
    1: "New",
    2: "In Progress",
    3: "Suppressed",
    4: "Resolved",
}

# OCSF finding activity_id: 1 Create, 2 Update, 3 Close.
ACTIVITY_NAMES: Mapping[int, str] = {1: "Create", 2: "Update", 3: "Close"}
DETECTION_FINDING = 2004


def severity_id(severity: str) -> int:
    return SEVERITY_IDS.get(severity, 0)


def status_id(finding: Mapping[str, Any]) -> int:
    """Our status as OCSF's; an accepted finding past its end date (``open``) is New again."""
    if finding["status"] == "accepted" and finding["open"]:
        return STATUS_IDS["open"]
    return STATUS_IDS.get(finding["status"], 0)


def activity_id(finding: Mapping[str, Any], scan: Mapping[str, Any]) -> int:
    """Close for a resolved finding, Create for one this scan opened, Update otherwise."""
    if finding["status"] == "resolved":
        return 3
    opened = _millis(finding["opened"])
    started = _millis(scan["started"])
    return 1 if opened is not None and started is not None and opened >= started else 2


def events(model: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """One Detection Finding dict per finding in ``model["findings"]``, in their order."""
    exports.require("ocsf")
    from py_ocsf_models.events.findings.detection_finding import DetectionFinding

    apps = {a["key"]: a for a in model["apps"]}
    for finding in model["findings"]:
        event = _event(model, finding, apps.get(finding["app_key"]))
        # Parsing the dict through the class checks every field name (extra="forbid": a name
        # the class does not know is an error, not dropped), type and enum value.
        checked = DetectionFinding.model_validate(event, extra="forbid")
        yield checked.model_dump(mode="json", exclude_none=True)


def render_lines(model: Mapping[str, Any]) -> bytes:
    """The JSON lines file: one event a line, each line ending in a newline."""
    lines = (json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in events(model))
    return "".join(lines).encode()


class OcsfReport:
    """The ``ocsf`` report format."""

    name = "ocsf"

    def missing(self) -> str | None:
        return exports.unavailable(self.name)

    def render(self, model: Mapping[str, Any], out_dir: Path) -> list[Path]:
        return [write_private(out_dir / FILE_NAME, render_lines(model))]


def _reconciled_suffix(scan: Mapping[str, Any]) -> str:
    reconciled = scan.get("reconciled")
    return f"+{reconciled['changes']}" if reconciled else ""


def _event(
    model: Mapping[str, Any], finding: Mapping[str, Any], app: Mapping[str, Any] | None
) -> dict[str, Any]:
    scan = model["scan"]
    activity = activity_id(finding, scan)
    severity = severity_id(finding["severity"])
    status = status_id(finding)
    title = f"{finding['app']}: {label('finding_kind', finding['kind'])}"
    event: dict[str, Any] = {
        "class_uid": DETECTION_FINDING,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": activity,
        "activity_name": ACTIVITY_NAMES[activity],
        "type_uid": DETECTION_FINDING * 100 + activity,
        "type_name": f"Detection Finding: {ACTIVITY_NAMES[activity]}",
        # When this state of the finding was observed: the end of the scan it comes from, or
        # the last reconciliation by `shadowit report` that changed that scan's findings.
        "time": _millis((scan.get("reconciled") or {}).get("at") or scan["finished"])
        or _millis(model["generated_at"]),
        "severity_id": severity,
        "severity": SEVERITY_NAMES[severity],
        "status_id": status,
        "status": STATUS_NAMES[status],
        "message": title,
        "metadata": {
            "product": {"name": PRODUCT, "vendor_name": VENDOR, "version": __version__},
            # One event per finding and state of a scan (the scan, then each reconciliation
            # that changed its findings), so a re-ingested file is recognised and a new state
            # is not taken for a copy of the old one.
            "uid": f"{finding['id']}@scan-{scan['id']}{_reconciled_suffix(scan)}",
            "log_name": FILE_NAME,
        },
        "finding_info": _finding_info(finding, scan, title),
        "resources": [_resource(finding, app)],
        "observables": _observables(finding, app),
        "unmapped": _unmapped(model, finding),
    }
    if finding["decision"]:
        event["status_detail"] = finding["decision"]
    if finding["remediation"]:
        event["remediation"] = {"desc": finding["remediation"]}
    return event


def _finding_info(
    finding: Mapping[str, Any], scan: Mapping[str, Any], title: str
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "uid": finding["id"],
        "title": title,
        "desc": "; ".join(finding["reasons"]) or title,
        "types": [finding["kind"]],
        "first_seen_time": _millis(finding["opened"]),
        "created_time": _millis(finding["opened"]),
        "data_sources": [s["source"] for s in scan["sources"]],
    }
    if finding["resolved"]:
        info["last_seen_time"] = _millis(finding["resolved"])
    elif not finding["not_rechecked"]:
        # Evaluated by this scan; one kept without a recheck has no newer sighting to give.
        info["last_seen_time"] = _millis(scan["finished"])
    return info


def _resource(finding: Mapping[str, Any], app: Mapping[str, Any] | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "uid": finding["app_key"],
        "name": finding["app"],
        "type": "SaaS application",
    }
    if app is not None:
        resource["labels"] = [app["sanction_status"], f"risk:{app['risk_level']}"]
        resource["data"] = {
            "vendor": app["vendor"],
            "domain": app["domain"],
            "category": app["category"],
            "users": app["users"],
            "sources": app["sources"],
            "owner": app["ownership"]["owner"],
            "owner_source": app["ownership"]["owner_source"],
        }
    return resource


def _observables(finding: Mapping[str, Any], app: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    # Observable type_id 10 Resource UID, 1 Hostname (objects/observable.json).
    found = [{"name": "resources.uid", "type_id": 10, "value": finding["app_key"]}]
    if app is not None and app["domain"]:
        found.append({"name": "resources.data.domain", "type_id": 1, "value": app["domain"]})
    return found


def _unmapped(model: Mapping[str, Any], finding: Mapping[str, Any]) -> dict[str, Any]:
    """What OCSF has no attribute for, under our own names (those without a value left out)."""
    facts = {
        "organisation": model["organisation"],
        "scan_id": model["scan"]["id"],
        "kind": finding["kind"],
        "status": finding["status"],
        "open": finding["open"],
        "decided_by": finding["decided_by"],
        "decision_reason": finding["decision_reason"],
        "decided_until": finding["decided_until"],
        "not_rechecked": finding["not_rechecked"],
    }
    return {name: value for name, value in facts.items() if value is not None}


def _millis(value: str | None) -> int | None:
    if not value:
        return None
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
