"""Staging folders: where a set of output files is written before it is put in place.

A staging folder is a hidden ``.shadowit-tmp-<label>-XXXX`` folder (owner-only) beside the
output. The run that writes it holds its ``.owner.lock`` (an OS file lock, released by the OS
when the process dies, even by SIGKILL), so a later run can tell a dead run's leftovers from a
live run's folder without guessing from ages or process ids.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import filelock

PREFIX = ".shadowit-tmp-"
OWNER_LOCK = ".owner.lock"
CREATING_SECONDS = 60.0
"""A staging folder without its lock file yet is a run being born, for this long."""


@dataclass(frozen=True)
class Staging:
    """One live staging folder and the lock that says its run is alive."""

    path: Path
    owner: filelock.BaseFileLock

    def release(self) -> None:
        self.owner.release()

    def discard(self) -> None:
        self.owner.release()
        shutil.rmtree(self.path, ignore_errors=True)

    def rename_to(self, target: Path) -> None:
        """Put the whole folder in place as ``target`` (which must not exist) in one step,
        without its lock file. Removing that file makes the folder's mtime "now", so for
        ``CREATING_SECONDS`` no other run takes it for a dead run's."""
        (self.path / OWNER_LOCK).unlink()
        os.rename(self.path, target)
        fsync_dir(target.parent)


def create(parent: Path, label: str = "") -> Staging:
    """A new staging folder in ``parent`` (which must exist), its lock held."""
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{label}", dir=parent))
    owner = filelock.FileLock(str(path / OWNER_LOCK))
    owner.acquire(timeout=0)
    return Staging(path, owner)


@contextlib.contextmanager
def abandoned(parent: Path, label: str = "") -> Iterator[list[Path]]:
    """The staging folders in ``parent`` made with ``label`` whose runs are gone, locked for
    the caller while it tidies them (so no second run tidies them at the same time)."""
    held: list[filelock.BaseFileLock] = []
    found: list[Path] = []
    try:
        for folder in sorted(parent.iterdir()):
            ours = folder.name.startswith(PREFIX + label)
            if not ours or folder.is_symlink() or not folder.is_dir():
                continue
            lock_path = folder / OWNER_LOCK
            with contextlib.suppress(OSError):
                if (
                    not lock_path.exists()
                    and time.time() - folder.stat().st_mtime < CREATING_SECONDS
                ):
                    continue  # created this minute, its run has not taken its lock yet
                owner = filelock.FileLock(str(lock_path))
                try:
                    owner.acquire(timeout=0)
                except filelock.Timeout:
                    continue  # a live run's
                held.append(owner)
                found.append(folder)
        yield found
    finally:
        for lock in held:
            lock.release()


def write_durable(path: Path, data: bytes, mode: int = 0o600) -> Path:
    """Write ``data`` to a new file and flush it to disk (for a file in a staging folder)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return path


def fsync_dir(folder: Path) -> None:
    """Make new entries and renames in ``folder`` durable (POSIX; a no-op where a folder
    cannot be opened, as on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
