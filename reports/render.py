"""Render a report model to the chosen formats."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reports.base import ReportFormat
from reports.html import HtmlReport
from reports.json_report import JsonReport
from reports.tables import CsvReport, XlsxReport
from scanner.errors import ConfigError

FORMATS: dict[str, ReportFormat] = {
    f.name: f for f in (HtmlReport(), JsonReport(), CsvReport(), XlsxReport())
}


def check_formats(names: Sequence[str]) -> list[str]:
    unknown = [n for n in names if n not in FORMATS]
    if unknown:
        raise ConfigError(
            f"report format {unknown[0]!r} is not one of {', '.join(sorted(FORMATS))}"
        )
    return list(names)


def render(model: Mapping[str, Any], out_dir: Path, formats: Sequence[str]) -> list[Path]:
    written: list[Path] = []
    for name in check_formats(formats):
        written.extend(FORMATS[name].render(model, out_dir))
    return written
