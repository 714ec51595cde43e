"""What is checked before any source is read: refuse before work, never half-way through.

``shadowit scan`` runs ``before_scan`` after the config loaded and before a connector is built:
a config with no enabled source (an empty or cut-short file) is refused unless
``--allow-empty``; every file a setting names is readable; the store and the report folder can
be written; ``[confirm]``, when the file has it, has a signing key. ``shadowit doctor`` shows
the same checks as rows (and also tries the SMTP server). Each problem is one line naming the
setting and what to do; nothing here writes anything.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.analysis import confirm
from scanner.core.config import Config
from scanner.core.errors import ConfigError, StoreError
from scanner.core.paths import in_the_way, read_problem, write_problem
from scanner.core.settings import path_settings

SMTP_CHECK_TIMEOUT = 10.0
"""Seconds ``doctor`` waits for the SMTP server's greeting (or for ``smtp_timeout``, if less)."""
STORE_COMPANIONS = (".lock", "-wal", "-shm")
"""Files the inventory keeps beside itself: the scan lock and SQLite's WAL files."""


@dataclass(frozen=True)
class Problem:
    """One thing that stops the scan: the setting, what is wrong, and what to do."""

    setting: str
    detail: str
    fix: str

    def line(self, config: Config) -> str:
        where = f" ({config.file})" if config.file else ""
        return f"{self.detail}; {self.fix}{where}"


def before_scan(config: Config, sources: Mapping[str, Any], *, allow_empty: bool = False) -> None:
    """Raise the first problem that would stop the scan, before any source is read."""
    problem = no_source(config, sources, allow_empty)
    if problem is not None:
        raise ConfigError(problem.line(config))
    for problem in unreadable_files(config, sources):
        raise ConfigError(problem.line(config))
    # What only the scan would stumble on late or word badly: a file or folder in the way.
    # Permissions (a read-only file, folder or mount) the store diagnoses itself when it
    # opens, still before any source is read, naming the mode and the mount.
    problem = store_problem(config, permissions=False)
    if problem is not None:
        raise StoreError(problem.line(config))
    if "confirm" in config.tables:
        problem = confirm_problem(config)
        if problem is not None:
            raise ConfigError(problem.line(config))


def before_reports(config: Config, folder: Path) -> None:
    """Raise if the reports cannot be written into ``folder`` (checked before the scan)."""
    problem = report_problem(config, folder)
    if problem is not None:
        raise ConfigError(problem.line(config))


def no_source(config: Config, sources: Mapping[str, Any], allow_empty: bool) -> Problem | None:
    """A scan that would read nothing: an empty file, no ``[sources.*]``, or all disabled."""
    if sources or allow_empty:
        return None
    if not config.tables:
        return Problem(
            "sources",
            "the config file is empty, nothing to scan",
            "copy config.example.toml and fill in a [sources.<name>] table",
        )
    if config.sources:
        return Problem(
            "sources",
            "sources: every configured source says enabled = false",
            "enable one, or pass --allow-empty to re-analyse the stored inventory without "
            "reading any source",
        )
    return Problem(
        "sources",
        "sources: no [sources.<name>] table, nothing to scan (is the file cut short?)",
        "add one (see config.example.toml), or pass --allow-empty to re-analyse the stored "
        "inventory without reading any source",
    )


def unreadable_files(config: Config, sources: Mapping[str, Any]) -> Iterator[Problem]:
    """Every file a setting names that cannot be read (CA bundles, keys, catalog files, and
    with ``[confirm]`` its key and CA files)."""
    tables: list[tuple[str, Any]] = [("catalog", config.catalog)]
    if "confirm" in config.tables:
        tables.append(("confirm", config.confirm))
    tables += [(f"sources.{name}", settings) for name, settings in sources.items()]
    folder = config.file.parent if config.file else Path.cwd()
    for prefix, settings in tables:
        for key, path, marker in path_settings(settings, prefix):
            problem = read_problem(path) if marker.reads else None
            if problem is not None:
                yield Problem(
                    key,
                    f"{key}: cannot read {path}: {problem}",
                    f"fix the path (a relative one is taken from the config file's folder, "
                    f"{folder}) or the file's owner",
                )


def store_problem(config: Config, *, permissions: bool = True) -> Problem | None:
    """The inventory, its folder and its companion files can be written (or created);
    without ``permissions`` only that nothing stands in their way."""
    path = config.store_path
    fix = (
        "set [store] path to a file in a folder this user can write (the inventory keeps "
        "its lock, -wal and -shm files beside it)"
    )
    problem = (write_problem if permissions else in_the_way)(path, folder=False)
    if problem is not None:
        return Problem(
            "store.path", f"store.path: cannot write the inventory {path}: {problem}", fix
        )
    for suffix in STORE_COMPANIONS:
        companion = Path(f"{path}{suffix}")
        if companion.exists() and companion.is_dir():
            return Problem(
                "store.path",
                f"store.path: {companion} is a folder, but the inventory keeps a file there",
                "move that folder away",
            )
    return None


def report_problem(config: Config, folder: Path) -> Problem | None:
    problem = write_problem(folder, folder=True)
    if problem is None:
        return None
    return Problem(
        "report.out",
        f"report.out: cannot write the reports to {folder}: {problem}",
        "set [report] out (or --out) to a folder this user can write",
    )


def confirm_problem(config: Config) -> Problem | None:
    """``[confirm]`` is usable: its signing key is set and long enough."""
    try:
        confirm.signing_key(config.confirm, config)
    except ConfigError as err:
        return Problem("confirm.secret_env", _without_file(str(err), config), _KEY_FIX)
    return None


_KEY_FIX = "or remove [confirm] if this installation does not ask owners"


def message_folder_problem(config: Config) -> Problem | None:
    """Without an SMTP host, ``confirm send`` writes message files into ``confirm.out``."""
    folder = config.path(config.confirm.out)
    problem = write_problem(folder, folder=True)
    if problem is None:
        return None
    return Problem(
        "confirm.out",
        f"confirm.out: cannot write message files to {folder}: {problem}",
        "set [confirm] out to a folder this user can write, or set smtp_host",
    )


def smtp_problem(config: Config) -> Problem | None:
    """The SMTP server answers with a greeting (TLS first with ``smtp_ssl``); no login."""
    s = config.confirm
    if not s.smtp_host:
        return None
    port = s.smtp_port or (465 if s.smtp_ssl else 587 if s.smtp_starttls else 25)
    timeout = min(s.smtp_timeout, SMTP_CHECK_TIMEOUT)
    try:
        if s.smtp_ssl:
            context = ssl.create_default_context(cafile=s.smtp_ca_file)
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                s.smtp_host, port, timeout=timeout, context=context
            )
        else:
            client = smtplib.SMTP(s.smtp_host, port, timeout=timeout)
    except (smtplib.SMTPException, OSError) as err:
        reason = getattr(err, "strerror", None) or type(err).__name__
        if isinstance(err, socket.timeout):
            reason = f"no answer within {timeout:g} s"
        return Problem(
            "confirm.smtp_host",
            f"confirm.smtp_host: cannot reach {s.smtp_host}:{port} ({reason})",
            "check smtp_host, smtp_port and the firewall",
        )
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()
    return None


def _without_file(message: str, config: Config) -> str:
    """A ConfigError's text without its trailing ``(config file)``, which ``line`` adds."""
    suffix = f" ({config.file})"
    return message.removesuffix(suffix) if config.file else message
