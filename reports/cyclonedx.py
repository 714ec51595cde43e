"""``saasbom.cdx.json``: the inventory as a CycloneDX 1.6 SaaSBOM, one service per app.

Built with cyclonedx-python-lib, written by its JSON serializer and checked with its strict
JSON Schema validator before it is returned, so a file that does not validate is never
written. Field names: CycloneDX 1.6 ``services`` (https://cyclonedx.org/docs/1.6/json/#services)
and ``metadata`` (https://cyclonedx.org/docs/1.6/json/#metadata). The library has no
``trustZone`` yet (a 1.6 field, "the name of the trust zone the service resides in"), so it
is added to the serialized services and the validator checks the result.

Per app: ``provider`` is the vendor, ``endpoints`` the app's domain as an https URL when it is
known, ``authenticated`` true when people reach it through the identity provider (SSO or an
OAuth grant) and unknown otherwise, ``x-trust-boundary`` true for a third-party app, ``data``
what its permissions reach (``reports.data_reach``), and ``properties`` (namespace
``shadowit:``, https://cyclonedx.org/docs/1.6/json/#services_items_properties) our facts:
sanction status, risk, people, sources, owner.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reports import data_reach, exports
from reports.base import write_private
from scanner import __version__

if TYPE_CHECKING:
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.service import Service
    from cyclonedx.validation.json import JsonStrictValidator

FILE_NAME = "saasbom.cdx.json"
TOOL = "shadowit"
NAMESPACE = "shadowit"
SERIAL_NAMESPACE = uuid.UUID("6d0b7f5e-2f4c-4f39-9a57-3c1d2b8e5a10")
"""Serial numbers are uuid5(this, organisation + scan): the same scan gives the same BOM."""


class SaasBomInvalid(Exception):
    """The BOM we built does not validate: a bug in this module, never the user's doing."""


def trust_zone(app: Mapping[str, Any]) -> str:
    if app["internal"]:
        return "internal"
    return "first-party" if app["first_party"] else "third-party"


def bom(model: Mapping[str, Any]) -> Bom:
    """The SaaSBOM for the report model (the library's ``Bom``)."""
    exports.require("cyclonedx")
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.contact import OrganizationalEntity
    from cyclonedx.model.tool import ToolRepository

    organisation = model["organisation"]
    tool = Component(type=ComponentType.APPLICATION, name=TOOL, version=__version__)
    metadata = BomMetaData(
        tools=ToolRepository(components=[tool]),
        timestamp=_time(model["generated_at"]),
        component=Component(
            type=ComponentType.PLATFORM,
            bom_ref="organisation",
            name=organisation,
            description=f"the SaaS apps {organisation} uses, from shadowit scan "
            f"{model['scan']['id']}",
        ),
        supplier=OrganizationalEntity(name=organisation),
    )
    # A reconciliation by `shadowit report` that changed the scan's findings is a new BOM.
    reconciled = model["scan"].get("reconciled")
    state = f"\n{reconciled['changes']}" if reconciled else ""
    serial = uuid.uuid5(SERIAL_NAMESPACE, f"{organisation}\n{model['scan']['id']}{state}")
    return Bom(serial_number=serial, metadata=metadata, services=list(_services(model)))


def render_json(model: Mapping[str, Any]) -> str:
    """The BOM as CycloneDX 1.6 JSON, validated; raise SaasBomInvalid if it does not."""
    from cyclonedx.output.json import JsonV1Dot6

    built = bom(model)
    document = json.loads(JsonV1Dot6(built).output_as_string())
    zones = {app["key"]: trust_zone(app) for app in model["apps"]}
    for service in document.get("services", []):
        service["trustZone"] = zones[service["bom-ref"]]
    text = json.dumps(document, indent=2, ensure_ascii=False)
    error = _validator().validate_str(text)
    if error is not None:
        raise SaasBomInvalid(f"the SaaSBOM does not validate against CycloneDX 1.6: {error}")
    return text + "\n"


class CycloneDxReport:
    """The ``cyclonedx`` report format."""

    name = "cyclonedx"

    def missing(self) -> str | None:
        return exports.unavailable(self.name)

    def render(self, model: Mapping[str, Any], out_dir: Path) -> list[Path]:
        return [write_private(out_dir / FILE_NAME, render_json(model).encode())]


def _services(model: Mapping[str, Any]) -> Iterator[Service]:
    from cyclonedx.model import DataClassification, DataFlow, XsUri
    from cyclonedx.model.contact import OrganizationalEntity
    from cyclonedx.model.service import Service

    for app in model["apps"]:
        reaches = data_reach.reach(app["scopes"])
        yield Service(
            bom_ref=app["key"],
            name=app["name"],
            provider=OrganizationalEntity(name=app["vendor"]) if app["vendor"] else None,
            group=app["category"],
            endpoints=[XsUri(f"https://{app['domain']}")] if app["domain"] else None,
            # Reached through the identity provider (SSO or an OAuth grant); otherwise we do not
            # know, and say nothing rather than "false".
            authenticated=True if app["sso"] or app["scopes"] else None,
            x_trust_boundary=trust_zone(app) == "third-party",
            data=[
                DataClassification(flow=DataFlow(r.flow), classification=r.classification)
                for r in reaches
            ],
            properties=list(_properties(app)),
        )


def _properties(app: Mapping[str, Any]) -> Iterator[Any]:
    from cyclonedx.model import Property

    ownership = app["ownership"]
    facts: list[tuple[str, Any]] = [
        ("key", app["key"]),
        ("sanction_status", app["sanction_status"]),
        ("risk_level", app["risk_level"]),
        ("risk_score", app["risk_score"]),
        ("users", "unknown" if app["users_unknown"] and not app["users"] else app["users"]),
        ("sources", ",".join(app["sources"])),
        ("sso", ",".join(app["sso"])),
        ("access", app["access"]),
        ("owner", ownership["owner"]),
        ("owner_source", ownership["owner_source"]),
        ("first_seen", app["first_seen"]),
        ("last_seen", app["last_seen"]),
        ("ai_tool", "true" if app["ai_tool"] else "false"),
        ("open_findings", sum(1 for f in app["findings"] if f["open"])),
    ]
    for name, value in facts:
        if value is not None and value != "":
            yield Property(name=f"{NAMESPACE}:{name}", value=str(value))


@cache
def _validator() -> JsonStrictValidator:
    """Loading the 1.6 schema and its referenced schemas is the slow part: once a process."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    return JsonStrictValidator(SchemaVersion.V1_6)


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
