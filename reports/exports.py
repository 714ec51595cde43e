"""The SIEM and GRC exports (``shadowit export``, report formats ``ocsf`` and ``cyclonedx``):
which libraries they need, and the one line that says how to install them.

Both are built through their standard's own library (py-ocsf-models, cyclonedx-python-lib),
which checks every event and the BOM as it is built; those libraries are the optional
``exports`` extra (``pip install -e '.[exports]'`` in a source checkout, ``pip install
'shadow-it-scanner[exports]'`` where the package was installed from a wheel).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from typing import Any

from reports.browse import DISTRIBUTION, source_checkout
from scanner.core.errors import ConfigError

EXTRA = "exports"
NEEDS: Mapping[str, tuple[str, str]] = {
    "ocsf": ("py_ocsf_models", "py-ocsf-models"),
    "cyclonedx": ("cyclonedx", "cyclonedx-python-lib"),
}
"""Export format -> (the module it imports, the distribution that ships it)."""

Installed = Callable[[str], bool]


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def missing(fmt: str, is_installed: Installed = installed) -> str | None:
    """The distribution ``fmt`` needs that is not installed, or None when it can run."""
    module, distribution = NEEDS[fmt]
    return None if is_installed(module) else distribution


def install_hint(distribution: str, **where: Any) -> str:
    """How to add the ``exports`` extra to this copy of shadowit (see ``browse.install_hint``;
    ``where`` passes its ``distributions`` and ``here`` through for tests)."""
    checkout = source_checkout(**where)
    if checkout is not None:
        return f"{distribution} is not installed; in {checkout} run: pip install -e '.[{EXTRA}]'"
    return f"{distribution} is not installed: pip install '{DISTRIBUTION}[{EXTRA}]'"


def unavailable(fmt: str, is_installed: Installed = installed) -> str | None:
    """Why ``fmt`` cannot run here and how to fix it, or None when it can."""
    distribution = missing(fmt, is_installed)
    return install_hint(distribution) if distribution else None


def require(fmt: str, is_installed: Installed = installed) -> None:
    """Raise the one-line ConfigError (exit 2) when ``fmt``'s library is not installed."""
    distribution = missing(fmt, is_installed)
    if distribution is not None:
        raise ConfigError(f"format {fmt!r} needs the {EXTRA} extra: {install_hint(distribution)}")
