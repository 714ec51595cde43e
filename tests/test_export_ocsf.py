"""Findings as OCSF Detection Finding events: on the demo tenant every line parses through
py-ocsf-models' class (no unknown field, every enum value known), one line per finding, our
severities, statuses and lifecycle mapped to OCSF's; the CLI to stdout and to a file; the
report format; the one line when the extra is missing."""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from py_ocsf_models.events.findings.detection_finding import DetectionFinding
from pydantic import ValidationError

from reports import ocsf
from scanner.app.cli import main

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def lines(data: bytes) -> list[dict[str, Any]]:
    text = data.decode()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def one(model: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The event for the model's first finding with ``changes`` applied to that finding."""
    single = copy.deepcopy(model)
    single["findings"] = [{**single["findings"][0], **changes}]
    (event,) = ocsf.events(single)
    return event


def test_every_finding_is_one_valid_detection_finding_line(model: dict[str, Any]) -> None:
    events = lines(ocsf.render_lines(model))
    assert model["findings"] and len(events) == len(model["findings"])
    assert [e["finding_info"]["uid"] for e in events] == [f["id"] for f in model["findings"]]
    for event, finding in zip(events, model["findings"], strict=True):
        DetectionFinding.model_validate(event, extra="forbid")
        assert event["class_uid"] == 2004 and event["category_uid"] == 2
        assert event["type_uid"] == 2004 * 100 + event["activity_id"]
        assert event["metadata"]["product"] == {
            "name": "shadowit",
            "vendor_name": "shadowit project",
            "version": "0.1.0",
        }
        assert event["finding_info"]["types"] == [finding["kind"]]
        assert event["finding_info"]["title"].startswith(f"{finding['app']}: ")
        assert event["resources"][0]["uid"] == finding["app_key"]
        assert event["remediation"]["desc"] == finding["remediation"]
        assert event["time"] >= event["finding_info"]["first_seen_time"]


def test_events_name_the_app_and_its_domain(model: dict[str, Any]) -> None:
    by_uid = {e["finding_info"]["uid"]: e for e in ocsf.events(model)}
    buffer = by_uid["cat:buffer:banned"]
    assert buffer["resources"][0]["name"] == "Buffer"
    assert buffer["resources"][0]["data"]["domain"] == "buffer.com"
    assert {"name": "resources.data.domain", "type_id": 1, "value": "buffer.com"} in buffer[
        "observables"
    ]
    assert "banned" in buffer["resources"][0]["labels"]
    assert buffer["unmapped"]["organisation"] == model["organisation"]


@pytest.mark.parametrize(
    ("severity", "severity_id", "caption"),
    [
        ("critical", 5, "Critical"),
        ("high", 4, "High"),
        ("medium", 3, "Medium"),
        ("low", 2, "Low"),
        ("info", 1, "Informational"),
    ],
)
def test_severity_maps_to_ocsf(
    model: dict[str, Any], severity: str, severity_id: int, caption: str
) -> None:
    event = one(model, severity=severity)
    assert (event["severity_id"], event["severity"]) == (severity_id, caption)


@pytest.mark.parametrize(
    ("status", "is_open", "status_id", "caption"),
    [
        ("open", True, 1, "New"),
        ("acknowledged", True, 2, "In Progress"),
        ("accepted", False, 3, "Suppressed"),
        # An acceptance whose end date has come is open again.
        ("accepted", True, 1, "New"),
        ("resolved", False, 4, "Resolved"),
    ],
)
def test_status_maps_to_ocsf(
    model: dict[str, Any], status: str, is_open: bool, status_id: int, caption: str
) -> None:
    event = one(model, status=status, open=is_open)
    assert (event["status_id"], event["status"]) == (status_id, caption)
    assert event["unmapped"]["status"] == status


def test_activity_follows_the_lifecycle(model: dict[str, Any]) -> None:
    started = model["scan"]["started"]
    assert one(model, opened=started)["activity_id"] == 1  # opened by this scan: Create
    assert one(model, opened="2020-01-01T00:00:00Z")["activity_id"] == 2  # older: Update
    closed = one(model, status="resolved", open=False, resolved="2026-11-20T06:00:00Z")
    assert (closed["activity_id"], closed["activity_name"]) == (3, "Close")
    assert closed["type_uid"] == 200403
    assert closed["finding_info"]["last_seen_time"] == 1795154400000


def test_a_decision_is_the_status_detail(model: dict[str, Any]) -> None:
    event = one(
        model,
        status="accepted",
        open=False,
        decided_by="ana@larkspur.example",
        decision_reason="contract signed",
        decided_until="2027-06-30",
        decision="accepted by ana@larkspur.example until 2027-06-30: contract signed",
    )
    assert event["status_detail"].startswith("accepted by ana@larkspur.example")
    assert event["unmapped"]["decided_until"] == "2027-06-30"


def test_a_finding_kept_without_a_recheck_has_no_new_sighting(model: dict[str, Any]) -> None:
    event = one(model, not_rechecked="okta sign-ins were not read")
    assert "last_seen_time" not in event["finding_info"]
    assert event["unmapped"]["not_rechecked"] == "okta sign-ins were not read"


def test_a_field_the_class_does_not_know_fails_the_export(
    model: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ocsf._finding_info
    monkeypatch.setattr(ocsf, "_finding_info", lambda *a: {**real(*a), "first_seen": "yesterday"})
    with pytest.raises(ValidationError, match="first_seen"):
        list(ocsf.events(model))


def test_cli_writes_stdout_and_a_file(demo: Path, model: dict[str, Any], tmp_path: Path) -> None:
    config = str(demo / "config.toml")
    result = CliRunner().invoke(main, ["export", "--config", config, "--format", "ocsf"])
    assert result.exit_code == 0, result.output
    assert len(lines(result.stdout_bytes)) == len(model["findings"])
    target = tmp_path / "siem" / "findings.ocsf.jsonl"
    args = ["export", "--config", config, "--format", "ocsf", "--out", str(target)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert result.output == f"{target}\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert len(lines(target.read_bytes())) == len(model["findings"])


def test_cli_redacts_users(demo: Path) -> None:
    args = ["export", "--config", str(demo / "config.toml"), "--format", "ocsf"]
    plain = CliRunner().invoke(main, args)
    redacted = CliRunner().invoke(main, [*args, "--redact-users"])
    assert redacted.exit_code == 0, redacted.output
    assert EMAIL.search(plain.output), "the demo's events name people"
    assert not EMAIL.search(redacted.output)
    assert "user-" in redacted.output


def test_report_format_writes_the_file(demo: Path, tmp_path: Path) -> None:
    args = ["report", "--config", str(demo / "config.toml"), "--format", "ocsf"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == str(tmp_path / "findings.ocsf.jsonl")
    for event in lines((tmp_path / "findings.ocsf.jsonl").read_bytes()):
        DetectionFinding.model_validate(event, extra="forbid")


def test_without_the_extra_export_and_report_say_how_to_install_it(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "py_ocsf_models", None)
    config = str(demo / "config.toml")
    for args in (
        ["export", "--config", config, "--format", "ocsf"],
        ["report", "--config", config, "--format", "json,ocsf", "--out", str(tmp_path)],
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert len(result.output.splitlines()) == 1, result.output
        assert "py-ocsf-models is not installed" in result.output
        assert "pip install -e '.[exports]'" in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "report.json").exists(), "nothing is written before the check"


def test_the_hint_names_the_package_when_installed_from_a_wheel(tmp_path: Path) -> None:
    from reports import exports

    site = tmp_path / "site-packages" / "reports" / "exports.py"
    hint = exports.install_hint("py-ocsf-models", distributions=[], here=site)
    assert hint == "py-ocsf-models is not installed: pip install 'shadow-it-scanner[exports]'"
    root = tmp_path / "checkout"
    (root / "reports").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\n", encoding="utf-8")
    here = root / "reports" / "exports.py"
    assert exports.install_hint("py-ocsf-models", distributions=[], here=here) == (
        f"py-ocsf-models is not installed; in {root} run: pip install -e '.[exports]'"
    )


def test_decisions_made_with_the_cli_reach_the_events(demo: Path, tmp_path: Path) -> None:
    import shutil

    copy_of = tmp_path / "demo"
    shutil.copytree(demo, copy_of)
    config = str(copy_of / "config.toml")
    runner = CliRunner()
    first, second = "cat:buffer:banned", "cat:copy-ai:new_app"
    decided = [
        ["acknowledge", "--config", config, first, "--reason", "blocking it", "--by", "ana"],
        ["accept", "--config", config, second, "--reason", "pilot", "--until", "2099-01-31"],
    ]
    for args in decided:
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["export", "--config", config, "--format", "ocsf"])
    assert result.exit_code == 0, result.output
    by_uid = {e["finding_info"]["uid"]: e for e in lines(result.stdout_bytes)}
    assert (by_uid[first]["status_id"], by_uid[first]["status"]) == (2, "In Progress")
    assert (by_uid[second]["status_id"], by_uid[second]["status"]) == (3, "Suppressed")
    assert by_uid[second]["unmapped"]["decided_until"] == "2099-01-31"
    assert "pilot" in by_uid[second]["status_detail"]


def test_the_example_line_in_the_docs_is_a_valid_event() -> None:
    page = (Path(__file__).parent.parent / "docs" / "reports.md").read_text(encoding="utf-8")
    section = page.split("## Exports for a SIEM or GRC tool", 1)[1]
    example = section.split("```json\n", 1)[1].split("\n```", 1)[0]
    event = json.loads(example)
    DetectionFinding.model_validate(event, extra="forbid")
    assert event["class_uid"] == 2004
