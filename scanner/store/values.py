"""Python values to and from the inventory's columns: UTC timestamps as ISO text, JSON text,
and a ``raw_apps`` row back into a ``RawApp``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from scanner.core.models import RawApp


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is UTC:
        return value.isoformat(timespec="seconds")[:19] + "Z"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def loads(value: str | None, default: Any = None) -> Any:
    if value is None:
        return default
    return json.loads(value)


def raw_app_from_row(r: dict[str, Any]) -> RawApp:
    return RawApp(
        source=r["source"],
        client_id=r["client_id"],
        name=r["name"],
        kind=r["kind"] or "oauth",
        publisher=r["publisher"],
        publisher_verified=bool(r["publisher_verified"]),
        publisher_tenant=r["publisher_tenant"],
        homepage=r["homepage"],
        reply_urls=tuple(loads(r["reply_urls"], [])),
        domains=tuple(loads(r["domains"], [])),
        enabled=bool(r["enabled"]),
        created=parse_iso(r["created"]),
        object_id=r["object_id"],
        tags=tuple(loads(r["tags"], [])),
    )
