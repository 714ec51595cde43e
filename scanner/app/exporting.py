"""``shadowit export``: the report model of one scan as an OCSF or CycloneDX file.

The same model every report format renders (``reports.model.build``, pseudonymised when
asked), turned into findings as OCSF Detection Finding events (``reports.ocsf``) or the
inventory as a CycloneDX SaaSBOM (``reports.cyclonedx``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from reports import cyclonedx, exports, ocsf
from reports import model as report_model
from reports.base import write_private
from scanner.app.config import Config
from scanner.app.operations import open_store
from scanner.core.errors import ShadowitError
from scanner.core.paths import os_reason

RENDERERS: Mapping[str, Callable[[Mapping[str, Any]], bytes]] = {
    "ocsf": ocsf.render_lines,
    "cyclonedx": lambda model: cyclonedx.render_json(model).encode(),
}
FILE_NAMES: Mapping[str, str] = {"ocsf": ocsf.FILE_NAME, "cyclonedx": cyclonedx.FILE_NAME}


def export(
    config: Config,
    fmt: str,
    scan_id: int | None = None,
    redact: bool = False,
    now: datetime | None = None,
) -> bytes:
    """The export of ``scan_id`` (default: the latest finished scan) in ``fmt``."""
    exports.require(fmt)  # before the store is opened: the fix is an install, not a scan
    with open_store(config) as store:
        model = report_model.build(store, config, scan_id, redact_users=redact, now=now)
    return RENDERERS[fmt](model)


def write(data: bytes, path: Path) -> Path:
    """Write the export to ``path`` (owner-only, as the reports: it names people and access)."""
    try:
        return write_private(path, data)
    except OSError as err:
        raise ShadowitError(
            f"{path}: cannot write the export ({os_reason(err, path)}); choose another --out"
        ) from None
