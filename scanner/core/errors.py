"""The errors shadowit raises for expected failures, each with a message for the user.

    ShadowitError            message for the user, with the fix
    ├── ConfigError          a setting is wrong: names the key path and the file       exit 2
    ├── InputError           an input file is wrong: names the file and line           exit 2
    ├── ConnectorError       names the source
    │   ├── AuthError        which credential or consent failed                        exit 2
    │   ├── PermissionMissing  which permission or scope; the stream is Skipped, source partial
    │   ├── RetryableError   429/5xx/reset after bounded retries; source failed
    │   ├── DeadlineExceeded the source ran past its deadline; what it stored is kept, failed
    │   └── ResponseShapeError  a required field missing; nothing half-stored
    ├── StoreError           the inventory cannot be used: disk full, read-only, locked    exit 2
    └── LockedError          another scan holds the store's lock                       exit 2

Only ``scanner.app.cli`` turns these into exit codes; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations


class ShadowitError(Exception):
    """Base class: ``str(err)`` is a complete, actionable message for the user."""

    exit_code = 2


class ConfigError(ShadowitError):
    """A configuration value is missing, of the wrong type, or unknown."""


class InputError(ShadowitError):
    """A user-supplied file (sanctioned list, import) cannot be read."""


class ConnectorError(ShadowitError):
    """A source could not be read. ``source`` names the connector."""

    exit_code = 3

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source_label(source)}: {message}")
        self.source = source


class AuthError(ConnectorError):
    """The credential was rejected or consent is missing; the scan cannot go on for it."""

    exit_code = 2


class PermissionMissing(ConnectorError):
    """One stream needs a permission the app does not have; other streams still run."""

    def __init__(self, source: str, stream: str, permission: str, message: str) -> None:
        super().__init__(source, message)
        self.stream = stream
        self.permission = permission


class RetryableError(ConnectorError):
    """Throttling or a transient server error that outlasted the retry budget."""


class DeadlineExceeded(ConnectorError):
    """The source ran past its configured deadline; what it collected so far is kept."""


class ResponseShapeError(ConnectorError):
    """The provider answered with a body that lacks a field we require."""


class StoreError(ShadowitError):
    """The SQLite inventory cannot be opened or written (corrupt, disk full, read-only file or
    folder, locked past the busy timeout); the message names the file and the fix."""


class LockedError(ShadowitError):
    """Another shadowit process is scanning into the same store."""


_LABELS = {"entra": "Entra", "google": "Google", "okta": "Okta", "files": "Files"}


def source_label(source: str) -> str:
    """Human label for a source name: ``entra`` -> ``Entra``."""
    return _LABELS.get(source, source)
