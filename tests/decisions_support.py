"""A small tenant for the decision and policy tests: a config with the in-memory ``feed``
source and a sanctioned-list file, scanned and changed through the command line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner, Result

from scanner.app.cli import main
from scanner.core.models import Checkpoint, Grant, RawApp, SignIn, User
from tests import memory_source

SANCTIONED = """# the technology policy
[[apps]]
app = "HubSpot"
status = "sanctioned"
owner = "ops@example.com"
team = "Marketing ops"
purpose = "CRM"
approved_scopes = ["openid", "Mail.Read"]
review_by = 2099-11-10
"""
"""HubSpot is approved for openid and Mail.Read: the Contacts.Read it also holds (a medium
scope) makes it ``over_scoped`` (medium). The [[apps]] header is on line 2, owner on 5."""


@dataclass
class Tenant:
    folder: Path

    @property
    def config(self) -> str:
        return str(self.folder / "config.toml")

    @property
    def sanctioned(self) -> Path:
        return self.folder / "sanctioned.toml"

    @property
    def store(self) -> Path:
        return self.folder / "shadowit.db"

    def cli(self, *args: str, columns: int | None = None) -> Result:
        """``shadowit COMMAND --config CONFIG REST...`` through click's runner."""
        command, *rest = args
        env = {"COLUMNS": str(columns)} if columns else None
        return CliRunner().invoke(main, [command, "--config", self.config, *rest], env=env)

    def scan(self, *args: str) -> Result:
        return self.cli("scan", "--no-report", *args)


def make_tenant(folder: Path) -> Tenant:
    """Two marketing apps: HubSpot (sanctioned, over-scoped) and Canva (unsanctioned)."""
    (folder / "sanctioned.toml").write_text(SANCTIONED, encoding="utf-8")
    (folder / "config.toml").write_text(
        '[organisation]\nname = "Test"\n[store]\npath = "shadowit.db"\n[sources.feed]\n'
        '[sanctioned]\nfile = "sanctioned.toml"\n',
        encoding="utf-8",
    )
    memory_source.FEED[:] = [
        User("feed", "u1", "ana@example.com", "Ana", "Marketing"),
        Checkpoint("feed", "users", complete=True),
        RawApp("feed", "hs", "HubSpot", publisher="HubSpot, Inc.", publisher_verified=True),
        RawApp("feed", "cv", "Canva", publisher="Canva", publisher_verified=True),
        Checkpoint("feed", "apps", complete=True),
        Grant("feed", "hs", "u1", ("openid", "Mail.Read", "Contacts.Read")),
        Grant("feed", "cv", "u1", ("openid",)),
        Checkpoint("feed", "grants", complete=True),
        # Ana signs in to HubSpot through the identity provider: it is behind SSO (no no_sso).
        SignIn(
            "feed",
            "sso-1",
            "hs",
            datetime.now(UTC) - timedelta(hours=2),
            user_id="u1",
            user_email="ana@example.com",
            app_name="HubSpot",
            kind="sso",
        ),
        Checkpoint("feed", "signins", "sso-1"),
    ]
    return Tenant(folder)


def lines(result: Result) -> list[str]:
    return result.output.strip().splitlines()
