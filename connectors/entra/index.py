"""What a scan learns as it goes: the service principal index and the first consent times."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.entra.graph import MICROSOFT_TENANTS


@dataclass
class _SpEntry:
    app_id: str
    name: str | None
    owner_tenant: str | None
    sp_type: str | None

    @property
    def third_party(self) -> bool:
        """Not Microsoft's own, and an application (not a managed identity)."""
        return (
            self.owner_tenant not in MICROSOFT_TENANTS
            and (self.sp_type or "Application") == "Application"
        )


class _SpIndex:
    """Service principal object id -> appId, name, owner; thread-safe for the lookups."""

    def __init__(self) -> None:
        self._entries: dict[str, _SpEntry] = {}
        self._lock = threading.Lock()

    def add(self, raw: Mapping[str, Any]) -> None:
        entry = _SpEntry(
            raw["appId"],
            raw.get("displayName") or raw.get("appDisplayName"),
            raw.get("appOwnerOrganizationId"),
            raw.get("servicePrincipalType"),
        )
        with self._lock:
            self._entries[raw["id"]] = entry

    def get(self, object_id: str) -> _SpEntry | None:
        with self._lock:
            return self._entries.get(object_id)

    def __contains__(self, object_id: object) -> bool:
        with self._lock:
            return object_id in self._entries

    def known(self) -> set[str]:
        with self._lock:
            return set(self._entries)

    def third_party(self) -> list[str]:
        """Object ids of non-Microsoft application service principals, in listing order."""
        with self._lock:
            return [object_id for object_id, e in self._entries.items() if e.third_party]


@dataclass
class _Consents:
    """Earliest 'Consent to application' time per service principal (and per consenting user)."""

    by_app: dict[str, datetime] = field(default_factory=dict)
    by_user: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def add(self, sp_id: str, user_id: str | None, at: datetime) -> None:
        if sp_id not in self.by_app or at < self.by_app[sp_id]:
            self.by_app[sp_id] = at
        if user_id:
            key = (sp_id, user_id)
            if key not in self.by_user or at < self.by_user[key]:
                self.by_user[key] = at

    def first(self, sp_id: str, user_id: str | None = None) -> datetime | None:
        if user_id and (sp_id, user_id) in self.by_user:
            return self.by_user[(sp_id, user_id)]
        return self.by_app.get(sp_id)
