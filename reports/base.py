"""The report-format interface: ``render(model, out_dir) -> written files``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol


class ReportFormat(Protocol):
    name: str

    def render(self, model: Mapping[str, Any], out_dir: Path) -> list[Path]:
        """Write this format's file(s) for the report model; return their paths."""
        ...


def write_private(path: Path, data: bytes) -> Path:
    """Write a report file readable by its owner only (0600): it names people and access."""
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)
    return path
