"""The inventory as a CycloneDX 1.6 SaaSBOM: on the demo tenant it validates with
cyclonedx-python-lib's strict validator and has one service per app with provider, endpoint,
trust boundary and zone, the data its permissions reach and our facts as properties; the CLI
to stdout and to a file; the report format; the one line when the extra is missing."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from reports import cyclonedx, data_reach
from scanner.app.cli import main


@pytest.fixture(scope="module")
def bom(model: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cyclonedx.render_json(model))
    return data


def services(bom: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["bom-ref"]: s for s in bom["services"]}


def props(service: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in service.get("properties", [])}


def assert_valid(text: str) -> None:
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None


def test_the_saasbom_validates_and_has_one_service_per_app(
    model: dict[str, Any], bom: dict[str, Any]
) -> None:
    assert_valid(json.dumps(bom))
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"
    assert model["apps"]
    assert {s["bom-ref"] for s in bom["services"]} == {a["key"] for a in model["apps"]}
    assert len(bom["services"]) == len(model["apps"])


def test_metadata_names_the_tool_and_the_organisation(
    model: dict[str, Any], bom: dict[str, Any]
) -> None:
    meta = bom["metadata"]
    assert meta["tools"]["components"][0]["name"] == "shadowit"
    assert meta["supplier"]["name"] == model["organisation"]
    assert meta["component"]["name"] == model["organisation"]
    assert meta["timestamp"].startswith(model["generated_at"][:19])
    again = json.loads(cyclonedx.render_json(model))
    assert again["serialNumber"] == bom["serialNumber"], "the same scan gives the same BOM"


def test_a_third_party_app_is_a_service_across_the_trust_boundary(
    model: dict[str, Any], bom: dict[str, Any]
) -> None:
    app = next(a for a in model["apps"] if a["key"] == "cat:jasper")
    jasper = services(bom)["cat:jasper"]
    assert jasper["name"] == "Jasper"
    assert jasper["provider"] == {"name": app["vendor"]}
    assert jasper["endpoints"] == [f"https://{app['domain']}"]
    assert jasper["authenticated"] is True
    assert jasper["x-trust-boundary"] is True and jasper["trustZone"] == "third-party"
    facts = props(jasper)
    assert facts["shadowit:sanction_status"] == app["sanction_status"]
    assert facts["shadowit:risk_level"] == app["risk_level"]
    assert facts["shadowit:users"] == str(app["users"])
    assert facts["shadowit:sources"] == ",".join(app["sources"])


def test_first_party_and_internal_apps_stay_inside(
    model: dict[str, Any], bom: dict[str, Any]
) -> None:
    by_ref = services(bom)
    zones = {a["key"]: by_ref[a["key"]]["trustZone"] for a in model["apps"]}
    for app in model["apps"]:
        service = by_ref[app["key"]]
        expected = "internal" if app["internal"] else "first-party" if app["first_party"] else None
        assert zones[app["key"]] == (expected or "third-party")
        assert service["x-trust-boundary"] is (expected is None)
    assert {"internal", "first-party", "third-party"} <= set(zones.values())


def test_an_app_without_a_domain_has_no_endpoint(
    model: dict[str, Any], bom: dict[str, Any]
) -> None:
    nameless = [a for a in model["apps"] if not a["domain"]]
    assert nameless
    for app in nameless:
        assert "endpoints" not in services(bom)[app["key"]]


def test_data_is_what_the_granted_permissions_reach(
    model: dict[str, Any], bom: dict[str, Any]
) -> None:
    app = next(a for a in model["apps"] if a["name"] == "Q4 Bonus Statement")
    data = {d["classification"]: d["flow"] for d in services(bom)[app["key"]]["data"]}
    # Mail.Send + Mail.Read: mail goes in and out; Contacts.Read: contacts only go in.
    assert data["mail (critical sensitivity)"] == "bi-directional"
    assert data["contacts (medium sensitivity)"] == "inbound"
    assert data["sign-in identity (low sensitivity)"] == "inbound"
    unheld = [a for a in model["apps"] if not a["scopes"]]
    assert unheld and all("data" not in services(bom)[a["key"]] for a in unheld)


@pytest.mark.parametrize(
    ("scope", "kind", "writes"),
    [
        ("Mail.Read", "mail", False),
        ("Mail.Send", "mail", True),
        ("Contacts.Read", "contacts", False),
        ("Calendars.ReadWrite", "calendar", True),
        ("Files.Read.All", "files", False),
        ("Sites.Read.All", "files", False),
        ("Directory.Read.All", "directory", False),
        ("User.Read", "sign-in identity", False),
        ("openid", "sign-in identity", False),
        ("email", "sign-in identity", False),
        ("https://www.googleapis.com/auth/gmail.readonly", "mail", False),
        ("https://www.googleapis.com/auth/drive.file", "files", True),
        ("https://www.googleapis.com/auth/calendar", "calendar", True),
        ("https://www.googleapis.com/auth/userinfo.email", "sign-in identity", False),
        ("okta.users.read", "directory", False),
        ("Something.Unheard.Of", "other data", False),
    ],
)
def test_a_permission_names_a_kind_of_data(scope: str, kind: str, writes: bool) -> None:
    assert data_reach.kind_of(scope) == kind
    assert data_reach.writes(scope) is writes


def test_the_most_sensitive_permission_classifies_the_data() -> None:
    held = [
        {"scope": "Files.Read", "level": "medium"},
        {"scope": "Files.ReadWrite.All", "level": "critical"},
        {"scope": "openid", "level": "low"},
    ]
    reaches = data_reach.reach(held)
    assert [(r.kind, r.flow, r.level) for r in reaches] == [
        ("files", "bi-directional", "critical"),
        ("sign-in identity", "inbound", "low"),
    ]
    assert reaches[0].scopes == ("Files.Read", "Files.ReadWrite.All")


def test_a_bom_that_does_not_validate_is_never_returned(
    model: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cyclonedx, "trust_zone", lambda app: 3)
    with pytest.raises(cyclonedx.SaasBomInvalid, match="trustZone|3 is not of type"):
        cyclonedx.render_json(model)


def test_cli_writes_stdout_and_a_file(demo: Path, model: dict[str, Any], tmp_path: Path) -> None:
    config = str(demo / "config.toml")
    result = CliRunner().invoke(main, ["export", "--config", config, "--format", "cyclonedx"])
    assert result.exit_code == 0, result.output
    assert_valid(result.stdout_bytes.decode())
    assert len(json.loads(result.stdout_bytes)["services"]) == len(model["apps"])
    target = tmp_path / "saasbom.cdx.json"
    args = ["export", "--config", config, "--format", "cyclonedx", "--out", str(target)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert result.output == f"{target}\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert_valid(target.read_text(encoding="utf-8"))


def test_cli_redacts_owners(demo: Path) -> None:
    args = ["export", "--config", str(demo / "config.toml"), "--format", "cyclonedx"]
    plain = CliRunner().invoke(main, args)
    redacted = CliRunner().invoke(main, [*args, "--redact-users"])
    assert redacted.exit_code == 0, redacted.output
    assert "@larkspur.example" in plain.output
    assert "@larkspur.example" not in redacted.output


def test_report_format_writes_the_file(demo: Path, tmp_path: Path) -> None:
    args = ["report", "--config", str(demo / "config.toml"), "--format", "cyclonedx,json"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report.json").exists()
    assert_valid((tmp_path / "saasbom.cdx.json").read_text(encoding="utf-8"))


def test_without_the_extra_export_says_how_to_install_it(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "cyclonedx", None)
    args = ["export", "--config", str(demo / "config.toml"), "--format", "cyclonedx"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: format 'cyclonedx' needs the exports extra: ")
    assert len(result.output.splitlines()) == 1
    assert "cyclonedx-python-lib is not installed" in result.output
    assert "pip install -e '.[exports]'" in result.output
