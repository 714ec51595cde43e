"""Render a report model to the chosen formats, as one set.

The set (``report.html``, ``report.json``, ``apps.csv``, ``findings.csv``,
``ownership.csv``, ``inventory.xlsx``, ``findings.ocsf.jsonl``, ``saasbom.cdx.json``: the
formats asked for) is first written whole into a staging folder ``.shadowit-tmp-XXXX`` inside
the output folder, each file flushed to disk, and the folder is marked complete; only then is
each file renamed over the previous one (``os.replace``, atomic for each file). What that
guarantees:

- a kill, a full disk or a failing format while the set is rendered (the long part) leaves the
  previous set untouched, and the next run removes the staging folder;
- no file is ever seen half-written;
- a kill during the renames (a few milliseconds) can leave files of two scans side by side
  until the next run, which first finishes the renames of that complete staging folder;
- two runs writing into the same folder publish one after the other (``.shadowit-report.lock``
  in that folder), so their sets never interleave.

What it does not guarantee: a reader opening several files while a new set is being renamed in
can get one file of each set; several files in one folder cannot be swapped in one step.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import filelock

from reports import staging as stage
from reports.base import ReportFormat
from reports.cyclonedx import CycloneDxReport
from reports.html import HtmlReport
from reports.json_report import JsonReport
from reports.ocsf import OcsfReport
from reports.tables import CsvReport, XlsxReport
from scanner.core.errors import ConfigError, ShadowitError

log = logging.getLogger(__name__)

FORMATS: dict[str, ReportFormat] = {
    f.name: f
    for f in (
        HtmlReport(),
        JsonReport(),
        CsvReport(),
        XlsxReport(),
        OcsfReport(),
        CycloneDxReport(),
    )
}
REPORT_FILES = (
    "report.html",
    "report.json",
    "findings.csv",
    "apps.csv",
    "ownership.csv",
    "inventory.xlsx",
    "findings.ocsf.jsonl",
    "saasbom.cdx.json",
)
"""Every file the formats write (a test checks this against what they render)."""


def report_formats(csv_bom: bool = True) -> dict[str, ReportFormat]:
    """``FORMATS`` with the report settings applied (``[report] csv_bom``)."""
    return {**FORMATS, "csv": CsvReport(bom=csv_bom)}


STAGING_LABEL = "report-"
COMPLETE = ".complete"
"""In a staging folder: every file is on disk, and these are their names."""
PUBLISH_LOCK = ".shadowit-report.lock"
PUBLISH_WAIT_SECONDS = 120.0
"""How long a run waits for another run's renames into the same folder (they take ms)."""
_EARLIER_TEMP = re.compile(
    r"^\.(?:" + "|".join(re.escape(name) for name in REPORT_FILES) + r")\.[a-z0-9_]{8}$"
)
"""A temporary file that earlier versions wrote beside a report file (``tempfile.mkstemp``)."""

Replace = Callable[[Path, Path], None]


def check_formats(names: Sequence[str], known: Mapping[str, ReportFormat] = FORMATS) -> list[str]:
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"report format {unknown[0]!r} is not one of {', '.join(sorted(known))}")
    for name in names:
        # A format that needs an optional extra (ocsf, cyclonedx) says so before any work.
        missing = getattr(known[name], "missing", None)
        problem = missing() if missing is not None else None
        if problem:
            raise ConfigError(f"report format {name!r}: {problem}")
    return list(names)


def render(
    model: Mapping[str, Any],
    out_dir: Path,
    formats: Sequence[str],
    known: Mapping[str, ReportFormat] = FORMATS,
    replace: Replace = os.replace,
) -> list[Path]:
    """Write the set into ``out_dir`` (see the module docstring); return the files' paths."""
    names = check_formats(formats, known)
    started = time.time()
    out_dir.mkdir(parents=True, exist_ok=True)
    with _publishing(out_dir):
        tidy(out_dir, started)
    staging = stage.create(out_dir, STAGING_LABEL)
    keep = False
    try:
        staged = [path for name in names for path in known[name].render(model, staging.path)]
        _mark_complete(staging.path, staged)
        with _publishing(out_dir):
            tidy(out_dir, started)
            # From the first rename on, the only safe way out is to finish the set: a set
            # whose renames failed half-way stays, complete, for the next run to finish.
            keep = True
            written = _publish(staging.path, out_dir, replace)
            keep = False
        return written
    finally:
        if keep:
            staging.release()
        else:
            staging.discard()


def tidy(out_dir: Path, started: float) -> None:
    """Remove what killed runs left in ``out_dir``: their staging folders (first finishing the
    renames of a complete one) and temporary files of earlier versions older than ``started``.
    Only our own names, and never a staging folder whose run is alive."""
    with stage.abandoned(out_dir, STAGING_LABEL) as folders:
        for folder in folders:
            _finish(folder, out_dir)
    for entry in sorted(out_dir.iterdir()):
        if _EARLIER_TEMP.match(entry.name) and entry.is_file() and not entry.is_symlink():
            with contextlib.suppress(OSError):
                if entry.stat().st_mtime < started:
                    entry.unlink()


@contextlib.contextmanager
def _publishing(out_dir: Path) -> Iterator[None]:
    lock = filelock.FileLock(str(out_dir / PUBLISH_LOCK))
    try:
        lock.acquire(timeout=PUBLISH_WAIT_SECONDS)
    except filelock.Timeout:
        raise ShadowitError(
            f"{out_dir}: another shadowit run has been writing reports here for "
            f"{PUBLISH_WAIT_SECONDS:.0f} s; wait for it to finish or choose another --out"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _mark_complete(staging: Path, staged: Sequence[Path]) -> None:
    for path in staged:
        if path.parent != staging or path.name.startswith("."):
            raise ValueError(f"a report format wrote {path} outside its staging folder")
    # Each file was fsynced as it was written; the folder entries and the marker follow.
    stage.fsync_dir(staging)
    stage.write_durable(staging / COMPLETE, "".join(f"{p.name}\n" for p in staged).encode())
    stage.fsync_dir(staging)


def _pending(staging: Path) -> list[str]:
    """The names of a complete staging folder not yet renamed into place."""
    listed = (staging / COMPLETE).read_text(encoding="utf-8").split()
    return [name for name in listed if (staging / name).exists()]


def _publish(staging: Path, out_dir: Path, replace: Replace) -> list[Path]:
    listed = (staging / COMPLETE).read_text(encoding="utf-8").split()
    for name in _pending(staging):
        replace(staging / name, out_dir / name)
    stage.fsync_dir(out_dir)
    return [out_dir / name for name in listed]


def _finish(folder: Path, out_dir: Path) -> None:
    """A dead run's staging folder: finish its renames if its set was complete, then drop it."""
    try:
        if (folder / COMPLETE).exists():
            _publish(folder, out_dir, os.replace)
            log.info("finished putting in place the report set a stopped run left in %s", folder)
    except OSError as err:
        log.warning("cannot finish the report set in %s (%s); remove it", folder, err.strerror)
        return
    shutil.rmtree(folder, ignore_errors=True)
