"""Load ``config.toml`` into frozen, validated settings.

Every error names the key path and the file, e.g.
``sources.okta.token_env: environment variable OKTA_TOKEN is not set (config.toml)``.
Each connector declares its own settings dataclass (``connectors.<name>.SPEC.settings``);
``[sources.<name>]`` tables are validated against it, so this module knows no provider.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import connectors
from scanner.core.errors import ConfigError
from scanner.core.settings import build


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


_SECTIONS = {
    "store": StoreSettings,
    "organisation": OrganisationSettings,
    "policy": PolicySettings,
    "catalog": CatalogSettings,
    "report": ReportSettings,
    "notify": NotifySettings,
}
_RAW_SECTIONS = ("sanctioned", "confirm")


def load(path: str | Path) -> Config:
    """Read and validate a config file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{file}: config file not found; copy config.example.toml and edit it"
        ) from None
    except OSError as err:
        raise ConfigError(f"{file}: cannot read the config file: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{file}: not UTF-8 (byte {err.start}); save the config file as UTF-8"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{file}: not valid TOML: {err}") from None
    return from_dict(data, file)


def from_dict(data: dict[str, Any], file: Path | None = None) -> Config:
    where = f" ({file})" if file else ""
    known = set(_SECTIONS) | {"sources", *_RAW_SECTIONS}
    for key in data:
        if key not in known:
            raise ConfigError(f"{key}: unknown section (known: {', '.join(sorted(known))}){where}")
    values: dict[str, Any] = {
        name: build(cls, data[name], name, file) for name, cls in _SECTIONS.items() if name in data
    }
    for name in _RAW_SECTIONS:
        if name in data:
            if not isinstance(data[name], dict):
                raise ConfigError(f"{name}: expected a table{where}")
            values[name] = data[name]
    values["sources"] = _load_sources(data.get("sources", {}), file)
    return Config(file=file, **values)


def _load_sources(table: Any, file: Path | None) -> dict[str, Any]:
    where = f" ({file})" if file else ""
    if not isinstance(table, dict):
        raise ConfigError(f"sources: expected a table{where}")
    loaded: dict[str, Any] = {}
    for name, settings in table.items():
        if name not in connectors.names():
            raise ConfigError(
                f"sources.{name}: unknown source (known: {', '.join(connectors.names())}){where}"
            )
        spec = connectors.get(name)
        loaded[name] = build(spec.settings, settings, f"sources.{name}", file)
    return loaded


def enabled_sources(config: Config, only: Sequence[str] | None = None) -> dict[str, Any]:
    """The configured sources whose settings do not say ``enabled = false``.

    ``only`` narrows them to the named ones (``--source``); naming one that is not configured
    and enabled is a ConfigError.
    """
    sources = {n: s for n, s in config.sources.items() if getattr(s, "enabled", True)}
    if only:
        unknown = [s for s in only if s not in sources]
        if unknown:
            raise ConfigError(
                f"sources.{unknown[0]}: not configured or not enabled in {config.file}"
            )
        sources = {k: v for k, v in sources.items() if k in only}
    return sources
