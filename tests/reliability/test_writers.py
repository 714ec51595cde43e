"""Every file shadowit writes, over a target it cannot write, through the CLI.

The writers: the store, its lock file, the report set (refused before the scan, and failing
while it is put in place), the confirmation message files and Datasette's metadata file. The
targets: a path under a regular file and a folder where a file goes (both fail for root too),
and a read-only folder (skipped as root, where chmod stops nothing). Each must end with exactly
one ``Error:`` line naming the setting and the fix, exit 2, no traceback, and the saved data
(scan runs, findings, the previous reports) as it was.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.app.cli import main
from tests.config_text import files_source
from tests.reliability.conftest import Observe
from tests.test_confirm_support import KEY, KEY_ENV, inventory

ROOT = Path(__file__).resolve().parents[2]
EXPENSES = ROOT / "tests" / "data" / "imports" / "expenses-card-2026-10.csv"
CONFIG = """\
[organisation]
name = "Acme"
[store]
path = "{store}"
[report]
out = "{out}"
formats = ["html", "json", "csv"]
""" + files_source()
as_root = pytest.mark.skipif(os.geteuid() == 0, reason="root writes through chmod")


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def error_line(output: str) -> str:
    """The one line of an expected failure, checked to be the whole output."""
    assert "Traceback" not in output, output
    lines = output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), output
    return lines[0].removeprefix("Error: ")


class Home:
    """A config folder with one finished scan and its reports."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config = folder / "config.toml"
        self.store = folder / "shadowit.db"
        self.reports = folder / "reports"

    def configure(self, store: str = "shadowit.db", out: str = "reports") -> Path:
        self.config.write_text(CONFIG.format(store=store, out=out), encoding="utf-8")
        return self.config

    def saved(self) -> tuple[list[tuple[object, ...]], int, dict[str, str]]:
        """Scan runs, findings and the report files' digests: what must survive a failure."""
        with sqlite3.connect(f"file:{self.store}?mode=ro", uri=True) as db:
            runs = list(db.execute("SELECT id, status FROM scan_runs ORDER BY id"))
            findings = db.execute("SELECT count(*) FROM findings").fetchone()[0]
        digests = {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(self.reports.iterdir())
            if p.is_file() and not p.name.startswith(".")
        }
        return runs, findings, digests


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    folder = tmp_path / "etc"
    folder.mkdir()
    shutil.copy(EXPENSES, folder / "expenses.csv")
    h = Home(folder)
    code, output = cli("scan", "--config", str(h.configure()))
    assert code == 0, output
    yield h
    for path in folder.rglob("*"):  # undo any chmod so pytest can clean up
        if path.is_dir():
            path.chmod(0o755)


# -- the store and its lock ------------------------------------------------------------------
def test_store_under_a_regular_file(home: Home, observe: Observe) -> None:
    before = home.saved()
    (home.folder / "data").write_text("in the way\n")
    config = home.configure(store="data/shadowit.db")
    code, output = cli("scan", "--config", str(config))
    assert (code, error_line(output)) == (
        2,
        f"store.path: cannot write the inventory {home.folder / 'data' / 'shadowit.db'}: "
        f"{home.folder / 'data'} is a file, not a folder; set [store] path to a file in a folder "
        "this user can write (the inventory keeps its lock, -wal and -shm files beside it) "
        f"({config})",
    )
    assert (home.folder / "data").read_text() == "in the way\n"
    assert home.saved() == before
    observe("writes", "store path under a regular file", "exit 2 before any source, one line")


def test_sanction_with_the_store_under_a_regular_file(home: Home, observe: Observe) -> None:
    """Commands that open the store without a scan's pre-flight say the same thing."""
    (home.folder / "data").write_text("in the way\n")
    config = home.configure(store="data/shadowit.db")
    code, output = cli("sanction", "Canva", "--config", str(config), "--owner", "ana@example.com")
    store = home.folder / "data" / "shadowit.db"
    assert (code, error_line(output)) == (
        2,
        f"{store}: cannot create the inventory: {home.folder / 'data'} is a file, not a folder; "
        "set [store] path to a file in a folder (or move that file aside)",
    )
    assert (home.folder / "data").read_text() == "in the way\n"
    observe("writes", "sanction with the store path under a regular file", "exit 2, one line")


def test_store_lock_file_is_a_folder(home: Home, observe: Observe) -> None:
    before = home.saved()
    lock = Path(f"{home.store}.lock")
    lock.unlink(missing_ok=True)  # the last scan's lock file, released
    lock.mkdir()
    code, output = cli("scan", "--config", str(home.config))
    assert (code, error_line(output)) == (
        2,
        f"store.path: {lock} is a folder, but the inventory keeps a file there; move that "
        f"folder away ({home.config})",
    )
    assert home.saved() == before
    observe("writes", "the store's lock file is a folder", "exit 2 before any source, one line")


@as_root
def test_store_in_a_read_only_folder(home: Home, observe: Observe) -> None:
    before = home.saved()
    home.folder.chmod(0o555)
    code, output = cli("scan", "--config", str(home.config))
    line = error_line(output)
    assert code == 2
    # The store names the mode or the mount itself when it opens, before any source is read.
    assert f"its folder {home.folder} is not writable for this user" in line, line
    assert "the inventory itself is intact" in line, line
    home.folder.chmod(0o755)
    assert home.saved() == before
    observe("writes", "store folder read-only", "exit 2 before any source, one line")


# -- the report set --------------------------------------------------------------------------
def test_report_folder_under_a_regular_file_refuses_the_scan(home: Home, observe: Observe) -> None:
    before = home.saved()
    (home.folder / "out").write_text("in the way\n")
    config = home.configure(out="out/reports")
    code, output = cli("scan", "--config", str(config))
    assert (code, error_line(output)) == (
        2,
        f"report.out: cannot write the reports to {home.folder / 'out' / 'reports'}: "
        f"{home.folder / 'out'} is a file, not a folder; set [report] out (or --out) to a "
        f"folder this user can write ({config})",
    )
    assert home.saved() == before, "refused before the scan: no new run"
    observe("writes", "report folder under a regular file (scan)", "exit 2 before any source")


def test_report_out_option_under_a_regular_file(home: Home, observe: Observe) -> None:
    before = home.saved()
    blocker = home.folder / "out"
    blocker.write_text("in the way\n")
    code, output = cli("report", "--config", str(home.config), "--out", str(blocker / "x"))
    assert (code, error_line(output)) == (
        2,
        f"report.out: cannot write the reports to {blocker / 'x'}: {blocker} is a file, not a "
        f"folder; set [report] out (or --out) to a folder this user can write ({home.config})",
    )
    assert home.saved() == before
    observe("writes", "report --out under a regular file", "exit 2, one line")


def _folder_in_place_of(home: Home, name: str) -> dict[str, str]:
    """Put a folder where a report file goes; the digests the other files must keep."""
    digests = home.saved()[2]
    (home.reports / name).unlink()
    (home.reports / name).mkdir()
    (home.reports / name / "keep").write_text("x")
    del digests[name]
    return digests


def test_a_report_file_that_is_a_folder_fails_while_publishing(
    home: Home, observe: Observe
) -> None:
    runs, findings, _ = home.saved()
    digests = _folder_in_place_of(home, "report.html")
    code, output = cli("report", "--config", str(home.config))
    assert (code, error_line(output)) == (
        2,
        f"report.out: cannot write the reports to {home.reports}: "
        f"{home.reports / 'report.html'} is a folder, not a file; the previous reports are "
        "unchanged; fix that, or set [report] out (or --out) to another folder",
    )
    assert home.saved() == (runs, findings, digests)
    observe(
        "writes",
        "a report file's name taken by a folder (report)",
        "exit 2, one line; the previous set unchanged",
    )


def test_a_scan_whose_reports_fail_is_saved(home: Home, observe: Observe) -> None:
    runs, _, _ = home.saved()
    digests = _folder_in_place_of(home, "report.html")
    code, output = cli("scan", "--config", str(home.config))
    assert (code, error_line(output)) == (
        2,
        f"report.out: cannot write the reports to {home.reports}: "
        f"{home.reports / 'report.html'} is a folder, not a file; the scan is saved "
        "(`shadowit report` writes the reports again); the previous reports are unchanged; "
        "fix that, or set [report] out (or --out) to another folder",
    )
    after_runs, _, after_digests = home.saved()
    assert after_runs == [*runs, (2, "finished")]
    assert after_digests == digests, "the previous set stays whole"
    observe(
        "writes",
        "a report file's name taken by a folder (scan)",
        "exit 2, one line; the scan's run saved and finished, the previous set unchanged",
    )


@as_root
def test_report_folder_read_only(home: Home, observe: Observe) -> None:
    before = home.saved()
    home.reports.chmod(0o555)
    code, output = cli("report", "--config", str(home.config))
    line = error_line(output)
    assert code == 2
    assert line.startswith(
        f"report.out: cannot write the reports to {home.reports}: {home.reports} is not "
        "writable by this user ("
    ), line
    home.reports.chmod(0o755)
    assert home.saved() == before
    observe("writes", "report folder read-only", "exit 2, one line")


# -- message files -----------------------------------------------------------------------------
def _sent(store: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        return list(db.execute("SELECT id, last_sent FROM confirm_requests ORDER BY id"))


def test_message_files_under_a_regular_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, observe: Observe
) -> None:
    config = inventory(tmp_path)
    monkeypatch.setenv(KEY_ENV, KEY)
    blocker = tmp_path / "mail"
    blocker.write_text("in the way\n")
    out = blocker / "requests"
    code, output = cli("confirm", "send", "--config", str(config.file), "--out", str(out))
    line = error_line(output)
    assert code == 2
    stamp = r"\d{8}T\d{6}Z"
    assert re.fullmatch(
        re.escape(f"confirm.out: cannot create {out}/")
        + stamp
        + re.escape(
            f": {blocker} is a file, not a folder; set [confirm] out (or --out) to a folder "
            "this user can write; nothing was marked sent"
        ),
        line,
    ), line
    assert all(last_sent is None for _id, last_sent in _sent(config.store_path))
    code, output = cli(
        "confirm", "send", "--config", str(config.file), "--out", str(tmp_path / "ok")
    )
    assert code == 0, output
    assert list((tmp_path / "ok").rglob("*.eml")), "the next send delivers what failed"
    assert all(last_sent is not None for _id, last_sent in _sent(config.store_path))
    observe(
        "writes",
        "message folder under a regular file (confirm send)",
        "exit 2, one line; nothing marked sent, the next send delivers",
    )


# -- Datasette's metadata ----------------------------------------------------------------------
@pytest.fixture
def datasette_stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``datasette`` package that is never run: the metadata is written before it starts."""
    package = tmp_path / "stub" / "datasette"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text("raise SystemExit(9)\n")
    monkeypatch.syspath_prepend(str(tmp_path / "stub"))


@pytest.mark.usefixtures("datasette_stub")
def test_datasette_metadata_path_is_a_folder(home: Home, observe: Observe) -> None:
    before = home.saved()
    meta = home.folder / "shadowit.datasette.json"
    meta.mkdir()
    code, output = cli("browse", "--config", str(home.config), "--no-open")
    assert (code, error_line(output)) == (
        2,
        f"{meta}: cannot write the Datasette metadata ({meta} is a folder, not a file); "
        f"shadowit browse writes it beside the inventory, so this user needs write access to "
        f"{home.folder} (or move what is in the way)",
    )
    assert home.saved() == before
    observe("writes", "Datasette metadata path is a folder (browse)", "exit 2, one line")


@as_root
@pytest.mark.usefixtures("datasette_stub")
def test_datasette_metadata_in_a_read_only_folder(home: Home, observe: Observe) -> None:
    before = home.saved()
    home.folder.chmod(0o555)
    code, output = cli("browse", "--config", str(home.config), "--no-open")
    line = error_line(output)
    assert code == 2
    assert line.startswith(
        f"{home.folder / 'shadowit.datasette.json'}: cannot write the Datasette metadata "
        "(Permission denied)"
    ), line
    home.folder.chmod(0o755)
    assert home.saved() == before
    observe("writes", "Datasette metadata folder read-only (browse)", "exit 2, one line")
