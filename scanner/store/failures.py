"""What an operational failure of the store tells the user.

``InventoryDatabase`` is the inventory's connection: it turns SQLite's full disk, read-only file
or folder, lock held too long and I/O error into one ``StoreError`` naming the file and the fix
(``store_failure``); any other SQLite error is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from scanner.core.errors import StoreError

# SQLite's primary result codes (https://www.sqlite.org/rescode.html); an extended code keeps
# its primary code in the low byte (SQLITE_READONLY_DIRECTORY = 1544 = 8 | 6 << 8).
_BUSY, _LOCKED, _READONLY, _IOERR, _FULL, _CANTOPEN = 5, 6, 8, 10, 13, 14
_BY_TEXT = {
    "database or disk is full": _FULL,
    "attempt to write a readonly database": _READONLY,
    "database is locked": _BUSY,
    "database table is locked": _LOCKED,
    "disk i/o error": _IOERR,
    "unable to open database file": _CANTOPEN,
}


def _primary_code(err: sqlite3.Error) -> int | None:
    code = getattr(err, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF
    text = str(err).lower()
    return next((c for t, c in _BY_TEXT.items() if text.startswith(t)), None)


def store_failure(
    path: Path, err: sqlite3.Error, db: InventoryDatabase | None = None
) -> StoreError | None:
    """The one-line StoreError for an operational failure of the store, None for any other
    error (a bug, which keeps its traceback). Whatever failed was rolled back by SQLite: the
    message says so, and never advises replacing a database that is only unwritable."""
    code = _primary_code(err)
    if code == _FULL:
        return StoreError(
            f"{path}: the disk is full (SQLite: {err}); nothing was written after the last "
            f"commit and the inventory is intact; free space on the filesystem holding "
            f"{path.parent} (a scan also grows {path.name}-wal) and run the command again"
        )
    if code == _READONLY:
        return StoreError(
            f"{path}: the inventory cannot be written ({err}): {_why_read_only(path)}"
        )
    if code in (_BUSY, _LOCKED):
        waited = db.busy_timeout_ms() if db is not None else None
        wait = f"{waited / 1000:g} s (the busy timeout)" if waited is not None else "a while"
        holder = db.lock_holder() if db is not None else None
        unknown = (
            "who holds it is not known (a `shadowit serve`, `sanction` or `accept`, a backup "
            "or a sqlite3 shell may)"
        )
        return StoreError(
            f"{path}: the inventory is locked by another process: {holder or unknown}; waited "
            f"{wait} for it; nothing was written; run the command again when it has finished"
        )
    if code == _IOERR:
        return StoreError(
            f"{path}: disk I/O error ({err}); SQLite rolled back the unfinished write; check "
            f"the disk and the system log, then run the command again"
        )
    if code == _CANTOPEN:
        return StoreError(
            f"{path}: SQLite cannot open the inventory or its {path.name}-wal/-shm files "
            f"({err}); check that {path.parent} exists and that the user running shadowit may "
            "read and write there"
        )
    return None


def _why_read_only(path: Path) -> str:
    """What makes the store unwritable, and the fix; the database itself is fine."""
    intact = "the inventory itself is intact and nothing was written"
    folder = path.parent
    try:
        mounted_read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        mounted_read_only = False
    if mounted_read_only:
        return (
            f"the filesystem holding {folder} is mounted read-only; remount it read-write, or "
            f"copy {path.name} to a writable folder and point [store] path at the copy; {intact}"
        )
    if path.exists() and not os.access(path, os.W_OK):
        return (
            f"the file is read-only for this user (mode {path.stat().st_mode & 0o777:o}); give "
            f"the user running shadowit write access to it (chmod u+w, or run as its owner); "
            f"{intact}"
        )
    if not os.access(folder, os.W_OK):
        return (
            f"its folder {folder} is not writable for this user, and SQLite keeps "
            f"{path.name}-wal and {path.name}-shm next to the database; give the user running "
            f"shadowit write access to {folder}; {intact}"
        )
    return (
        f"check that {path.name}, {path.name}-wal and {path.name}-shm in {folder} are writable "
        f"by the user running shadowit; {intact}"
    )


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    except OSError:
        return True  # cannot tell: never end a scan that may still be running
    return True


class InventoryDatabase(sqlite_utils.Database):
    """The inventory's connection: every write through ``execute`` or ``atomic`` (whoever
    calls them) turns a full disk, a read-only file or folder, a lock held too long or an I/O
    error into one ``StoreError`` naming the file and the fix."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(path)

    def execute(
        self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None
    ) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.OperationalError as err:
            mapped = store_failure(self.path, err, self)
            if mapped is None:
                raise
            raise mapped from None

    @contextlib.contextmanager
    def atomic(self) -> Generator[sqlite_utils.Database, None, None]:
        try:
            with super().atomic() as db:
                yield db
        except sqlite3.OperationalError as err:
            mapped = store_failure(self.path, err, self)
            if mapped is None:
                raise
            raise mapped from None

    def busy_timeout_ms(self) -> int | None:
        try:
            return int(self.conn.execute("PRAGMA busy_timeout").fetchone()[0])
        except sqlite3.Error:
            return None

    def lock_holder(self) -> str | None:
        """A running shadowit scan of another live process on this host, when there is one."""
        try:
            rows = self.conn.execute(
                "SELECT id, pid, host FROM scan_runs WHERE status='running' AND pid IS NOT NULL "
                "ORDER BY id DESC"
            ).fetchall()
        except sqlite3.Error:
            return None
        host = socket.gethostname()
        for scan_id, pid, run_host in rows:
            if run_host == host and pid != os.getpid() and process_alive(pid):
                return f"shadowit scan {scan_id} (pid {pid}) holds it"
        return None
