"""Connector registry: source name -> ConnectorSpec.

Built-in connectors are registered like plugins, by module path, and imported only when used
(a scan without Google never imports googleapiclient). The pipeline knows no connector name.
"""

from __future__ import annotations

import importlib

from connectors.base import ConnectorSpec

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


def get(name: str) -> ConnectorSpec:
    """The spec for ``name``; KeyError if there is no such connector."""
    if name in _registered:
        return _registered[name]
    module = importlib.import_module(_BUILTIN[name])
    spec: ConnectorSpec = module.SPEC
    _registered[name] = spec
    return spec
