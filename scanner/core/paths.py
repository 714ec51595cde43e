"""Paths from settings: where a relative one points, and why one cannot be read or written.

``resolve`` is the one rule for every path setting (the store, the report folder, a CA bundle,
a key file, an import): ``~`` is expanded and a relative path is taken from the config file's
folder, never from the working directory, so a nightly job started elsewhere reads the same
files. ``write_problem`` and ``read_problem`` say, without writing anything, why a target
cannot be used; ``os_reason`` turns an OSError into the same words. ``doctor``, the scan's
pre-flight and every writer use them, so a message about a path reads the same everywhere.
"""

from __future__ import annotations

import errno
import getpass
import os
from pathlib import Path


def resolve(value: str, config_file: Path | None) -> Path:
    """A path setting as it is used: ``~`` expanded, relative to the config file's folder."""
    path = Path(value).expanduser()
    if not path.is_absolute() and config_file is not None:
        path = config_file.parent / path
    return path


def write_problem(target: Path, *, folder: bool) -> str | None:
    """Why ``target`` (a folder to write files into, or a file to create or rewrite) cannot
    be written by this user, or None. A missing target may be created: then the nearest
    existing folder above it must be writable. Nothing is created."""
    problem = in_the_way(target, folder=folder)
    if problem is not None:
        return problem
    if target.exists():
        if not folder and not os.access(target, os.R_OK | os.W_OK):
            return f"{target} is not writable by this user ({_user()})"
        container = target if folder else target.parent
    else:
        container = _nearest_existing(target.parent)
    if not os.access(container, os.W_OK | os.X_OK):
        return f"{container} is not writable by this user ({_user()})"
    return None


def in_the_way(target: Path, *, folder: bool) -> str | None:
    """What stands where ``target`` should be, whoever runs shadowit: a regular file where a
    folder goes (the target or one above it), or a folder where a file goes; else None."""
    if target.exists():
        if target.is_dir() == folder:
            return None
        if target.is_dir():
            return f"{target} is a folder, not a file"
        return f"{target} is a file, not a folder"
    above = _nearest_existing(target.parent)
    if not above.is_dir():
        return f"{above} is a file, not a folder"
    return None


def read_problem(path: Path) -> str | None:
    """Why the file ``path`` cannot be read by this user, or None."""
    if not path.exists():
        above = _nearest_existing(path.parent)
        if above.exists() and not above.is_dir():
            return f"{above} is a file, not a folder"
        return "no such file"
    if path.is_dir():
        return "it is a folder, not a file"
    if not os.access(path, os.R_OK):
        return f"not readable by this user ({_user()})"
    return None


def os_reason(err: OSError, path: Path | None = None) -> str:
    """An OSError in words that name the fix; for a path under a regular file (which the OS
    reports as "Not a directory", or "File exists" from mkdir) the file in the way."""
    target = Path(err.filename) if err.filename else path
    if err.errno == errno.ENOTDIR and target is not None:
        blocker = _file_in_the_way(target.parent)
        if blocker is not None:
            return f"{blocker} is a file, not a folder"
    if err.errno == errno.EEXIST and target is not None and target.is_file():
        return f"{target} is a file, not a folder"
    if err.errno == errno.EISDIR and target is not None:
        # A rename onto a folder names the folder second (os.replace(src, dst)).
        folder = Path(err.filename2) if err.filename2 else target
        return f"{folder} is a folder, not a file"
    if err.errno == errno.ENOSPC:
        return "the disk is full"
    if err.errno == errno.EROFS:
        return "the file system is read-only"
    return err.strerror or str(err)


def _file_in_the_way(path: Path) -> Path | None:
    """The regular file that stands where ``path`` or one of its folders should be."""
    for candidate in (path, *path.parents):
        try:
            if candidate.exists() and not candidate.is_dir():
                return candidate
        except OSError:
            return None
    return None


def _nearest_existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
