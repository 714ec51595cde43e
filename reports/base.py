"""The report-format interface: ``render(model, out_dir) -> written files``."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol


class ReportFormat(Protocol):
    name: str

    def render(self, model: Mapping[str, Any], out_dir: Path) -> list[Path]:
        """Write this format's file(s) for the report model; return their paths."""
        ...


def write_private(path: Path, data: bytes) -> Path:
    """Write a report file readable by its owner only (0600): it names people and access.

    The bytes go to a temporary file beside it that replaces the report in one step, so a
    crash mid-write leaves the previous report, never a truncated one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path
