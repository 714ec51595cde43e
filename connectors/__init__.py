"""Connector registry: source name -> ConnectorSpec.

Built-in connectors are registered like plugins, by module path, and imported only when used
(a scan without Google never imports googleapiclient). The pipeline knows no connector name.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from connectors.base import ConnectorSpec
from scanner.core.models import Capability

_BUILTIN: dict[str, str] = {
    "entra": "connectors.entra",
    "google": "connectors.google",
    "okta": "connectors.okta",
    "files": "connectors.files",
}
_registered: dict[str, ConnectorSpec] = {}


def register(spec: ConnectorSpec) -> None:
    """Add a connector (a third-party plugin, or a test double)."""
    _registered[spec.name] = spec


def names() -> list[str]:
    return sorted(set(_BUILTIN) | set(_registered))


def builtin_names() -> list[str]:
    """The connectors shadowit ships (each has a docs page and an example config section)."""
    return sorted(_BUILTIN)


def get(name: str) -> ConnectorSpec:
    """The spec for ``name``; KeyError if there is no such connector."""
    if name in _registered:
        return _registered[name]
    module = importlib.import_module(_BUILTIN[name])
    spec: ConnectorSpec = module.SPEC
    _registered[name] = spec
    return spec


def with_capability(capability: Capability, sources: Iterable[str]) -> frozenset[str]:
    """Those of ``sources`` whose connector declares ``capability``."""
    return frozenset(name for name in sources if capability in get(name).capabilities)
