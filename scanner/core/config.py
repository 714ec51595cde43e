"""The validated configuration every layer reads: one frozen dataclass per config section.

``scanner.app.config`` builds these from ``config.toml`` (naming the key path and the file on
every error); analysis, store and reports only read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StoreSettings:
    path: str = "shadowit.db"
    """The SQLite inventory; relative to the config file."""
    signin_retention_days: int = 90
    """Raw sign-in events older than this are pruned after aggregation (daily counts stay)."""


@dataclass(frozen=True)
class OrganisationSettings:
    name: str = "Our company"
    marketing_departments: tuple[str, ...] = ("Marketing",)
    """Departments (IdP ``department``) whose people count as marketing users."""
    marketing_groups: tuple[str, ...] = ()
    """Groups or org units (e.g. Google ``/Marketing``) whose members count as marketing."""
    marketing_share: float = 0.5
    """An app counts as marketing when more than this share of its users are marketing users."""
    own_domains: tuple[str, ...] = ()
    """The company's domains: apps served from them are internal."""
    own_tenant_ids: tuple[str, ...] = ()
    """Entra tenant ids of the company: apps registered there are internal."""


@dataclass(frozen=True)
class PolicySettings:
    dormant_days: int = 90
    """A grant with no sign-in for this many days is dormant."""
    new_app_days: int = 7
    """An app stays "new" (a new_app finding) for this many days after it was first seen."""
    review_period_days: int = 180
    """An owner's confirmation older than this is asked again."""
    severity: dict[str, str] = field(default_factory=dict)
    """Overrides of the severity table, e.g. ``unsanctioned_marketing = "high"``."""


@dataclass(frozen=True)
class CatalogSettings:
    file: str | None = None
    """A CSV or TOML file of extra or overriding catalog entries (the shipped columns)."""
    scopes_file: str | None = None
    """A CSV of extra or overriding scope sensitivities (scope, level, meaning)."""
    aliases: dict[str, str] = field(default_factory=dict)
    """Extra spellings: ``"Hubspot CRM Sync" = "HubSpot"``."""
    categories: dict[str, str] = field(default_factory=dict)
    """Category overrides: ``"Notion" = "collaboration"``."""


@dataclass(frozen=True)
class ReportSettings:
    out: str = "reports"
    formats: tuple[str, ...] = ("html", "json", "csv", "xlsx")
    redact_users: bool = False


@dataclass(frozen=True)
class NotifySettings:
    urls_env: str | None = None
    """Environment variable holding apprise URLs (space separated), e.g. a Slack webhook."""
    digest: bool = False
    """Send one daily digest instead of a message after every scan."""
    min_severity: str = "medium"


@dataclass(frozen=True)
class Config:
    file: Path | None
    store: StoreSettings = field(default_factory=StoreSettings)
    organisation: OrganisationSettings = field(default_factory=OrganisationSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    catalog: CatalogSettings = field(default_factory=CatalogSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    sources: dict[str, Any] = field(default_factory=dict)
    """Source name -> that connector's validated settings."""
    sanctioned: dict[str, Any] = field(default_factory=dict)
    """The raw ``[sanctioned]`` table; ``scanner.analysis.sanctions`` validates it."""
    confirm: dict[str, Any] = field(default_factory=dict)
    """The raw ``[confirm]`` table; the ownership-confirmation module validates it."""

    def path(self, value: str) -> Path:
        """Resolve a path setting relative to the config file's folder."""
        p = Path(value).expanduser()
        if not p.is_absolute() and self.file is not None:
            p = self.file.parent / p
        return p

    @property
    def store_path(self) -> Path:
        return self.path(self.store.path)
