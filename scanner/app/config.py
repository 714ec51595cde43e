"""Load ``config.toml`` into frozen, validated settings.

Every error names the key path and the file, e.g.
``sources.okta.token_env: environment variable OKTA_TOKEN is not set (config.toml)``.
Each connector declares its own settings dataclass (``connectors.<name>.SPEC.settings``);
``[sources.<name>]`` tables are validated against it, so this module knows no provider.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import connectors
from scanner.analysis.risk import WEIGHTS
from scanner.core import names
from scanner.core.config import (
    CatalogSettings,
    Config,
    ConfirmSettings,
    NotifySettings,
    OrganisationSettings,
    PolicySettings,
    ReportSettings,
    StoreSettings,
)
from scanner.core.errors import ConfigError
from scanner.core.names import is_email
from scanner.core.settings import build

__all__ = [
    "CatalogSettings",
    "Config",
    "ConfirmSettings",
    "NotifySettings",
    "OrganisationSettings",
    "PolicySettings",
    "ReportSettings",
    "StoreSettings",
    "enabled_sources",
    "from_dict",
    "load",
]


_SECTIONS = {
    "store": StoreSettings,
    "organisation": OrganisationSettings,
    "policy": PolicySettings,
    "catalog": CatalogSettings,
    "report": ReportSettings,
    "notify": NotifySettings,
}
_RAW_SECTIONS = ("sanctioned",)


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
    known = set(_SECTIONS) | {"sources", "confirm", *_RAW_SECTIONS}
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
    if "policy" in values:
        _check_risk_weights(values["policy"], file)
    if "confirm" in data:
        values["confirm"] = _confirm(data["confirm"], file)
    values["sources"] = _load_sources(data.get("sources", {}), file)
    return Config(file=file, tables=frozenset(data), **values)


def _check_risk_weights(policy: PolicySettings, file: Path | None) -> None:
    """``[policy] risk_weights`` names only known weights, each a whole number 0-100."""
    where = f" ({file})" if file else ""
    for key, value in policy.risk_weights.items():
        if key not in WEIGHTS:
            raise ConfigError(
                f"policy.risk_weights.{key}: unknown weight (known: {', '.join(WEIGHTS)}){where}"
            )
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            raise ConfigError(
                f"policy.risk_weights.{key}: {value!r} must be a whole number 0-100{where}"
            )


def _confirm(table: Any, file: Path | None) -> ConfirmSettings:
    """Validate the config's ``[confirm]`` table; errors name ``confirm.<key>``."""
    where = f" ({file})" if file else ""
    s = build(ConfirmSettings, table, "confirm", file)  # ranges and paths: see its fields
    for key in ("fallback_owner", "from_addr"):
        value = getattr(s, key)
        if value is not None and not is_email(value):
            raise ConfigError(
                f"confirm.{key}: {names.one_line(repr(value), 200)} is not an email address "
                f"({names.email_problem(value)}){where}"
            )
    parts = urlsplit(s.link_base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ConfigError(
            f"confirm.link_base_url: {s.link_base_url!r} is not an http(s) URL like "
            f"https://shadowit.example.com{where}"
        )
    if s.smtp_ssl and s.smtp_starttls and "smtp_starttls" in table:
        raise ConfigError(
            f"confirm.smtp_ssl: choose implicit TLS (smtp_ssl) or STARTTLS, not both{where}"
        )
    if s.smtp_username and not (s.smtp_password_env or s.smtp_password_file):
        raise ConfigError(
            f"confirm.smtp_password_env: smtp_username is set but no password; name the "
            f"environment variable that holds it{where}"
        )
    return s


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
