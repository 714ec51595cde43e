"""The inventory store when its disk is full, it is read-only, or another process locks it.

Each case drives the real command line, ``shadowit scan`` (or ``sanction`` / ``scans``), on an
inventory built by a real scan of a usage export, and checks what a user sees: the exit code,
exactly one line on stderr with the fix and no traceback, every table's row count unchanged,
and no scan left ``running``. Read-only cases run the installed ``shadowit`` in a subprocess,
as an unprivileged user when the tests run as root (root writes through any file mode); the
full disk (``PRAGMA max_page_count``) and the short busy timeout are set on the command's own
connection, so those run in-process through click's runner.

The retention case scans the same export, with events older than the retention, five times
and checks that each event is counted once in the inventory.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from scanner.app.cli import main
from scanner.store import database as store_module
from scanner.store.database import Store, store_failure, utcnow
from tests.reliability.conftest import Observe

SHADOWIT = Path(sys.executable).parent / "shadowit"
NOBODY = 65534
AS_ROOT = os.geteuid() == 0
FORBIDDEN_ADVICE = ("delete", "remove", "replace", "move it aside", "restore", "start a new")
NOW = datetime.now(UTC).replace(microsecond=0)

CONFIG = """\
[store]
path = "shadowit.db"
signin_retention_days = {retention}
[report]
out = "reports"
formats = ["json"]
[sources.files]
enabled = true
[[sources.files.imports]]
path = "usage.csv"
kind = "usage"
source_name = "casb"
[sources.files.imports.columns]
app = "Application"
user = "User"
last_used = "Last Seen"
id = "Event"
"""


def usage_csv(path: Path, events: list[tuple[str, str, datetime]]) -> None:
    lines = ["Event,Application,User,Last Seen"]
    lines += [f"{e},{app},ana@example.com,{at:%Y-%m-%dT%H:%M:%SZ}" for e, app, at in events]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


EVENTS = [
    ("e-today", "Zephyr Notes", NOW - timedelta(hours=2)),
    ("e-3d", "Zephyr Notes", NOW - timedelta(days=3)),
    ("e-10d", "Zephyr Notes", NOW - timedelta(days=10)),
    ("e-400d", "Zephyr Notes", NOW - timedelta(days=400)),
    ("k-1d", "Kite Forms", NOW - timedelta(days=1)),
]


@pytest.fixture
def home() -> Iterator[Path]:
    """A folder another user can reach (pytest's own tmp folders are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="shadowit-store-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in [folder, *folder.rglob("*")]:
            if not path.is_symlink():
                path.chmod(0o700 if path.is_dir() else 0o600)
        shutil.rmtree(folder)


def inventory(folder: Path, retention: int = 90) -> Path:
    """A config and an inventory made by one real scan; returns the config path."""
    config = folder / "config.toml"
    config.write_text(CONFIG.format(retention=retention), encoding="utf-8")
    usage_csv(folder / "usage.csv", EVENTS)
    result = cli("scan", "--config", str(config), "--no-report")
    assert result.exit_code == 0, result.output
    return config


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def run_shadowit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed command, as an unprivileged user when the tests run as root."""
    if not SHADOWIT.exists():
        pytest.skip(f"{SHADOWIT} is not installed")
    command = [str(SHADOWIT), *args]
    if AS_ROOT:
        # setpriv drops to nobody and clears the groups; the command then runs without any
        # capability (it cannot write through file modes as root can).
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root and setpriv is not there to drop privileges")
        closed = _closed_to_others(SHADOWIT)
        if closed is not None:
            pytest.skip(
                f"{closed} is closed to other users: the unprivileged run cannot reach {SHADOWIT}"
            )
        ids = [f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        command = [setpriv, *ids, *command]
    return subprocess.run(
        command,
        cwd=cwd,
        env={"PATH": os.defpath, "HOME": str(cwd), "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _closed_to_others(path: Path) -> Path | None:
    """The first folder above ``path`` that other users cannot enter (a checkout in a 0700
    temporary folder), or None."""
    for folder in path.absolute().parents:
        if not folder.stat().st_mode & stat.S_IXOTH:
            return folder
    return None


def give_away(folder: Path) -> None:
    """Make ``folder`` belong to the user the subprocess runs as."""
    if AS_ROOT:
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, NOBODY, NOBODY)


def counts(db_path: Path) -> dict[str, int]:
    db = sqlite3.connect(db_path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        tables = [
            r[0]
            for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        ]
        return {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        db.close()


def runs(db_path: Path) -> list[tuple[int, str, str | None]]:
    db = sqlite3.connect(db_path)
    try:
        return db.execute("SELECT id, status, error FROM scan_runs ORDER BY id").fetchall()
    finally:
        db.close()


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def no_harmful_advice(line: str) -> None:
    lowered = line.lower()
    assert not [word for word in FORBIDDEN_ADVICE if word in lowered], line


# -- read-only ------------------------------------------------------------------------------
def test_read_only_file(home: Path, observe: Observe) -> None:
    config = inventory(home)
    db_path = home / "shadowit.db"
    before = counts(db_path)
    give_away(home)
    db_path.chmod(0o444)

    scan = run_shadowit("scan", "--config", str(config), "--no-report", cwd=home)
    listing = run_shadowit("scans", "--config", str(config), cwd=home)

    db_path.chmod(0o600)
    line = one_error_line(scan.stderr)
    assert scan.returncode == 2
    assert "the file is read-only for this user (mode 444)" in line
    assert "give the user running shadowit write access" in line
    assert "the inventory itself is intact" in line
    no_harmful_advice(line)
    assert counts(db_path) == before
    assert [status for _id, status, _e in runs(db_path)] == ["finished"]
    assert listing.returncode == 0 and "finished" in listing.stdout, listing.stderr
    observe(
        "store",
        "shadowit scan on an inventory file chmod 0444"
        + (" (run as an unprivileged user)" if AS_ROOT else ""),
        f"exit 2, one line: {line.removeprefix('Error: ').replace(str(home), '<dir>')}; "
        "every row count unchanged, no scan row added; `shadowit scans` still reads it (exit 0)",
    )


def test_read_only_folder(home: Path, observe: Observe) -> None:
    config = inventory(home)
    db_path = home / "shadowit.db"
    before = counts(db_path)
    give_away(home)
    home.chmod(0o555)

    scan = run_shadowit("scan", "--config", str(config), "--no-report", cwd=home)

    home.chmod(0o755)
    line = one_error_line(scan.stderr)
    assert scan.returncode == 2
    assert f"its folder {home} is not writable for this user" in line
    assert "shadowit.db-wal and shadowit.db-shm" in line
    assert "the inventory itself is intact" in line
    no_harmful_advice(line)
    assert counts(db_path) == before
    assert [status for _id, status, _e in runs(db_path)] == ["finished"]
    observe(
        "store",
        "shadowit scan with the inventory's folder chmod 0555 (the lock file already there)",
        f"exit 2, one line: {line.removeprefix('Error: ').replace(str(home), '<dir>')}; "
        "every row count unchanged",
    )


def test_read_only_folder_without_a_lock_file(home: Path, observe: Observe) -> None:
    config = inventory(home)
    db_path = home / "shadowit.db"
    before = counts(db_path)
    (home / "shadowit.db.lock").unlink(missing_ok=True)
    give_away(home)
    home.chmod(0o555)

    scan = run_shadowit("scan", "--config", str(config), "--no-report", cwd=home)

    home.chmod(0o755)
    line = one_error_line(scan.stderr)
    assert scan.returncode == 2
    assert "cannot create or open the scan lock file (Permission denied)" in line
    assert f"needs write access to {home}" in line
    no_harmful_advice(line)
    assert counts(db_path) == before
    observe(
        "store",
        "shadowit scan with the inventory's folder chmod 0555 and no lock file yet",
        f"exit 2, one line: {line.removeprefix('Error: ').replace(str(home), '<dir>')}; "
        "every row count unchanged",
    )


def test_read_only_filesystem_advice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only mount cannot be made here: its diagnosis is checked on a faked statvfs."""
    path = tmp_path / "shadowit.db"
    path.touch()
    real = os.statvfs(tmp_path)

    class ReadOnlyMount:
        f_flag = real.f_flag | os.ST_RDONLY

    monkeypatch.setattr(store_module.os, "statvfs", lambda _p: ReadOnlyMount())
    err = store_failure(path, sqlite3.OperationalError("attempt to write a readonly database"))
    assert err is not None
    assert "mounted read-only; remount it read-write" in str(err)
    assert "the inventory itself is intact" in str(err)
    no_harmful_advice(str(err).replace("point [store] path at the copy", ""))


# -- disk full ------------------------------------------------------------------------------
def limit_pages(monkeypatch: pytest.MonkeyPatch, spare: int = 0) -> None:
    """Every store the command opens may not grow beyond its size: the disk is full."""
    original = Store.open

    def full_disk(
        path: Path | str, clock: Callable[[], datetime] = utcnow, raw_signin_days: int = 0
    ) -> Store:
        store = original(path, clock, raw_signin_days)
        pages = store.db.execute("PRAGMA page_count").fetchone()[0]
        store.db.execute(f"PRAGMA max_page_count={pages + spare}")
        return store

    monkeypatch.setattr(Store, "open", full_disk)


def test_disk_full_during_a_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, observe: Observe
) -> None:
    config = inventory(tmp_path)
    db_path = tmp_path / "shadowit.db"
    before = counts(db_path)
    many = [(f"n{i}", f"App {i % 50}", NOW - timedelta(minutes=i)) for i in range(3000)]
    usage_csv(tmp_path / "usage.csv", EVENTS + many)

    with monkeypatch.context() as patch:
        limit_pages(patch)
        result = cli("scan", "--config", str(config), "--no-report")

    line = one_error_line(result.stderr)
    assert result.exit_code == 2
    assert "the disk is full (SQLite: database or disk is full)" in line
    assert "nothing was written after the last commit and the inventory is intact" in line
    assert f"free space on the filesystem holding {tmp_path}" in line
    no_harmful_advice(line)
    after = counts(db_path)
    assert {t: n for t, n in after.items() if t not in ("scan_runs", "source_runs")} == {
        t: n for t, n in before.items() if t not in ("scan_runs", "source_runs")
    }
    assert after["scan_runs"] == before["scan_runs"] + 1
    failed = runs(db_path)[-1]
    assert failed[1] == "failed" and failed[2] and "disk is full" in failed[2]
    with sqlite3.connect(db_path) as db:
        sources = db.execute(
            "SELECT status FROM source_runs WHERE scan_id = ?", [failed[0]]
        ).fetchall()
    assert sources == [("failed",)]

    again = cli("scan", "--config", str(config), "--no-report")
    assert again.exit_code == 0, again.output
    assert counts(db_path)["signin_daily"] > before["signin_daily"]
    observe(
        "store",
        "disk full during a scan (PRAGMA max_page_count on the scan's connection; 3,000 new "
        "usage rows)",
        f"exit 2, one line: {line.removeprefix('Error: ').replace(str(tmp_path), '<dir>')}; "
        "the page's transaction rolled back, every data table's row count unchanged; the scan "
        "and its source end `failed` with the error; the next scan (space freed) finishes",
    )


# -- locked ---------------------------------------------------------------------------------
def hold_write_lock(db_path: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def test_locked_by_another_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, observe: Observe
) -> None:
    config = inventory(tmp_path)
    db_path = tmp_path / "shadowit.db"
    before = counts(db_path)
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 300)
    holder = hold_write_lock(db_path)
    try:
        result = cli("scan", "--config", str(config), "--no-report")
    finally:
        holder.rollback()
        holder.close()

    line = one_error_line(result.stderr)
    assert result.exit_code == 2
    assert "the inventory is locked by another process: who holds it is not known" in line
    assert "waited 0.3 s (the busy timeout) for it; nothing was written" in line
    no_harmful_advice(line)
    assert counts(db_path) == before
    assert [status for _id, status, _e in runs(db_path)] == ["finished"]
    assert cli("scan", "--config", str(config), "--no-report").exit_code == 0
    observe(
        "store",
        "another connection holds BEGIN EXCLUSIVE on the inventory during `shadowit scan` "
        "(busy timeout 0.3 s)",
        f"exit 2 after the busy timeout, one line: "
        f"{line.removeprefix('Error: ').replace(str(tmp_path), '<dir>')}; every row count "
        "unchanged, no scan row added; the next scan finishes",
    )


def test_locked_by_a_running_scan_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, observe: Observe
) -> None:
    config = inventory(tmp_path)
    db_path = tmp_path / "shadowit.db"
    scanner_process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with sqlite3.connect(db_path) as db:
            db.execute(
                "INSERT INTO scan_runs (started, status, full, pid, host) "
                "VALUES (?, 'running', 0, ?, ?)",
                [NOW.isoformat(), scanner_process.pid, socket.gethostname()],
            )
        before = counts(db_path)
        monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 200)
        holder = hold_write_lock(db_path)
        try:
            result = cli("sanction", "--config", str(config), "HubSpot", "--status", "banned")
        finally:
            holder.rollback()
            holder.close()
        line = one_error_line(result.stderr)
        assert result.exit_code == 2
        assert f"shadowit scan 2 (pid {scanner_process.pid}) holds it" in line
        assert "waited 0.2 s (the busy timeout)" in line
        assert counts(db_path) == before
        listing = cli("scans", "--config", str(config))
        assert "running" in listing.stdout, "a live scan is never ended by another command"
    finally:
        scanner_process.kill()
        scanner_process.wait()
    pid = scanner_process.pid

    # Its process is gone: the next command that opens the store ends the run.
    listing = cli("scans", "--config", str(config))
    assert listing.exit_code == 0
    assert [status for _id, status, _e in runs(db_path)] == ["finished", "interrupted"]
    observe(
        "store",
        "`shadowit sanction` while a running scan of another live process holds the write lock",
        f"exit 2, one line naming it: "
        f"{line.removeprefix('Error: ').replace(str(tmp_path), '<dir>').replace(str(pid), 'N')}"
        "; the live scan stays "
        "`running`; once its process is gone the next command marks it `interrupted`",
    )


def test_a_scan_whose_process_died_is_not_running_forever(tmp_path: Path, observe: Observe) -> None:
    """A scan that could not even record its failure (still locked, still full) and exited."""
    config = inventory(tmp_path)
    db_path = tmp_path / "shadowit.db"
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    with sqlite3.connect(db_path) as db:
        for host in (socket.gethostname(), "another-host"):
            db.execute(
                "INSERT INTO scan_runs (started, status, full, pid, host) "
                "VALUES (?, 'running', 0, ?, ?)",
                [NOW.isoformat(), int(gone.stdout), host],
            )
        db.execute(
            "INSERT INTO source_runs (scan_id, source, status, records, warning_count, started) "
            "VALUES (2, 'files', 'running', 0, 0, ?)",
            [NOW.isoformat()],
        )
    listing = cli("scans", "--config", str(config))
    assert listing.exit_code == 0
    assert [status for _id, status, _e in runs(db_path)] == ["finished", "interrupted", "running"]
    assert cli("scan", "--config", str(config), "--no-report").exit_code == 0
    statuses = [status for _id, status, _e in runs(db_path)]
    assert statuses == ["finished", "interrupted", "interrupted", "finished"]
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT status FROM source_runs WHERE scan_id = 2").fetchall() == [
            ("interrupted",)
        ]
    observe(
        "store",
        "a scan row left `running` by a process of this host that has exited",
        "the next command that opens the store (here `shadowit scans`) marks it and its "
        "sources `interrupted`; the same row from another host is left `running` (the next "
        "scan, holding the scan lock, ends it)",
    )


# -- retention ------------------------------------------------------------------------------
def test_events_older_than_the_retention_are_counted_once(tmp_path: Path, observe: Observe) -> None:
    config = inventory(tmp_path, retention=1)
    db_path = tmp_path / "shadowit.db"
    for _ in range(4):
        result = cli("scan", "--config", str(config), "--full", "--no-report")
        assert result.exit_code == 0, result.output
    report = cli("report", "--config", str(config), "--format", "json")
    assert report.exit_code == 0, report.output

    apps = {
        a["name"]: a for a in json.loads((tmp_path / "reports" / "report.json").read_text())["apps"]
    }
    assert apps["Zephyr Notes"]["sign_ins_30d"] == 3
    assert apps["Kite Forms"]["sign_ins_30d"] == 1
    with sqlite3.connect(db_path) as db:
        daily = dict(db.execute("SELECT client_id, sum(count) FROM signin_daily GROUP BY 1"))
        keys = db.execute("SELECT count(*) FROM signin_keys").fetchone()[0]
        floors = db.execute("SELECT source, day FROM signin_floors").fetchall()
    assert daily == {"Zephyr Notes": 4, "Kite Forms": 1}
    assert keys < len(EVENTS), "the keys of events older than the retention were pruned"
    days = {(at - timedelta(days=1)).date().isoformat() for at in (NOW, datetime.now(UTC))}
    assert len(floors) == 1 and floors[0][0] == "casb" and floors[0][1] in days
    observe(
        "store",
        "the same usage export, with events 2 h to 400 days old, imported 5 times "
        "(`scan --full`) with signin_retention_days = 1",
        "raw events older than a day pruned; each event counted once (report sign_ins_30d 3 "
        "and 1, daily totals 4 and 1), not once per scan",
    )


# -- the error line itself ------------------------------------------------------------------
def test_error_line_escapes_control_characters(tmp_path: Path, observe: Observe) -> None:
    hostile = tmp_path / "inv\x1b]0;owned\x07\u202e\ncfg.toml"
    result = cli("scan", "--config", str(hostile))
    line = one_error_line(result.stderr)
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr
    assert "inv\\x1b]0;owned\\x07\\u202e\\x0acfg.toml" in line
    observe(
        "hostile",
        "an error message carrying ESC, BEL, a bidi override and a newline (a config path)",
        "printed as one `Error:` line with each character a visible escape",
    )
