"""A small real inventory for the report tests: two scans of an in-memory source through the
real pipeline, with hostile app names, a dormant grant and a risky organisation-wide consent."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import connectors
from connectors.base import ConnectorContext, ConnectorSpec, Probe
from reports import model as report_model
from scanner.app import config as configuration
from scanner.app.pipeline import run_scan
from scanner.core.models import Checkpoint, Grant, RawApp, SignIn, User
from scanner.store.database import Store

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
SCRIPT_APP = "<script>alert(1)</script> Insights"
FORMULA_APP = '=HYPERLINK("http://evil.example/x","Click me")'
DORMANT_APP = "Dusty Forms"
RISKY_APP = "Mail Blaster"
SUMMARY_METRICS = (
    "apps",
    "marketing_apps",
    "unsanctioned",
    "unsanctioned_marketing",
    "open_findings",
)
"""The summary cards' ``data-metric`` names, each a key of the model's summary."""
EMAILS = ("ana@example.com", "bo@example.com", "cy@example.com", "ops@example.com")


@dataclass(frozen=True)
class ReportSourceSettings:
    enabled: bool = True


class ReportSource:
    """Night 1: HubSpot, the formula app, a dormant app, a risky app. Night 2 adds SCRIPT_APP."""

    name: ClassVar[str] = "reportmem"
    night: ClassVar[int] = 1

    def __init__(self, settings: ReportSourceSettings, context: ConnectorContext) -> None:
        self.settings = settings

    def collect(self, since: Mapping[str, str]) -> Iterator[object]:
        yield User("reportmem", "u1", EMAILS[0], "Ana", "Marketing")
        yield User("reportmem", "u2", EMAILS[1], "Bo", "Marketing")
        yield User("reportmem", "u3", EMAILS[2], "Cy", "Engineering")
        yield Checkpoint("reportmem", "users", complete=True)
        yield RawApp(
            "reportmem", "hs", "HubSpot", publisher="HubSpot, Inc.", publisher_verified=True
        )
        yield RawApp("reportmem", "fx", FORMULA_APP)
        yield RawApp("reportmem", "df", DORMANT_APP)
        yield RawApp("reportmem", "mb", RISKY_APP)
        if ReportSource.night >= 2:
            yield RawApp("reportmem", "xs", SCRIPT_APP)
        yield Checkpoint("reportmem", "apps", complete=True)
        yield Grant("reportmem", "hs", "u1", ("openid", "Mail.Read"), user_email=EMAILS[0])
        yield Grant("reportmem", "fx", "u1", ("openid",), user_email=EMAILS[0])
        yield Grant("reportmem", "fx", "u2", ("openid",), user_email=EMAILS[1])
        long_ago = NOW - timedelta(days=400)
        yield Grant(
            "reportmem",
            "df",
            "u3",
            ("openid", "profile"),
            granted_at=long_ago,
            user_email=EMAILS[2],
        )
        yield Grant("reportmem", "mb", None, ("Mail.Send", "Mail.Read"), consent_type="admin")
        if ReportSource.night >= 2:
            yield Grant("reportmem", "xs", "u1", ("openid",), user_email=EMAILS[0])
            yield Grant("reportmem", "xs", "u2", ("openid",), user_email=EMAILS[1])
        yield Checkpoint("reportmem", "grants", complete=True)
        yield SignIn(
            "reportmem",
            f"e{ReportSource.night}",
            "hs",
            NOW - timedelta(hours=2),
            user_id="u1",
            user_email=EMAILS[0],
        )
        yield Checkpoint("reportmem", "signins")

    def check(self) -> Iterator[Probe]:
        yield Probe("reportmem", "token", True, "ok")


connectors.register(
    ConnectorSpec("reportmem", ReportSourceSettings, ReportSource, "report test source")  # type: ignore[arg-type]
)

CONFIG = """
[organisation]
name = "Test & Co <QA>"
[sources.reportmem]
[[sanctioned.apps]]
app = "HubSpot"
status = "sanctioned"
owner = "ops@example.com"
approved_scopes = ["openid", "Mail.Read"]
"""


def inventory(folder: Path) -> configuration.Config:
    """Two finished scans (NOW - 1 day, NOW) into ``folder``; returns the config."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    cfg = configuration.load(path)
    for night, when in ((1, NOW - timedelta(days=1)), (2, NOW)):
        ReportSource.night = night
        run_scan(cfg, now=when)
    return cfg


def build_model(cfg: configuration.Config, redact: bool = False) -> dict[str, Any]:
    store = Store.open(cfg.store_path)
    try:
        return report_model.build(store, cfg, redact_users=redact, now=NOW)
    finally:
        store.close()
