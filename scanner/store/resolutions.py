"""The ``resolutions`` table: the resolution cache of the inventory build.

One row per raw app (source, client id): the digest of the raw app's fields, the digest of
the resolution context it was resolved under (catalog, organisation settings, connector
capabilities, resolution rules) and the canonical ``App`` it resolved to, as JSON. The rows
are only a cache: a row is used only when both digests match (``scanner.analysis.
resolution_cache``), so any row, stale or missing, is at worst resolved again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from scanner.core.models import App, Evidence
from scanner.store.database import Store


@dataclass(frozen=True, slots=True)
class StoredResolution:
    """One cached resolution: the raw app's digest and the app it resolved to (JSON text,
    decoded with ``app_from_json`` only when it is used)."""

    raw_digest: str
    app: str


@dataclass(frozen=True, slots=True)
class Resolution:
    """A resolution to keep: which raw app, its digest, and the app it resolved to."""

    source: str
    client_id: str
    raw_digest: str
    app: App


def cached(store: Store, context: str) -> dict[tuple[str, str], StoredResolution]:
    """(source, client id) -> the cached resolution, for rows resolved under ``context``."""
    return {
        (source, client_id): StoredResolution(digest, app)
        for source, client_id, digest, app in store.db.execute(
            "SELECT source, client_id, raw_digest, app FROM resolutions WHERE context = ?",
            [context],
        )
    }


def save(
    store: Store,
    context: str,
    fresh: Iterable[Resolution],
    stale: Iterable[tuple[str, str]],
    *,
    everything: bool = False,
) -> None:
    """Keep the ``fresh`` resolutions under ``context`` and drop the ``stale`` keys and every
    row of another context (``everything``: every row before), in one transaction."""
    with store.db.atomic():
        if everything:
            store.db.execute("DELETE FROM resolutions")
        else:
            store.db.execute("DELETE FROM resolutions WHERE context != ?", [context])
        store.db.conn.executemany(
            "DELETE FROM resolutions WHERE source = ? AND client_id = ?", list(stale)
        )
        store.db.conn.executemany(
            "INSERT INTO resolutions (source, client_id, raw_digest, context, app) "
            "VALUES (?,?,?,?,?) ON CONFLICT (source, client_id) DO UPDATE SET "
            "raw_digest=excluded.raw_digest, context=excluded.context, app=excluded.app",
            ((r.source, r.client_id, r.raw_digest, context, app_to_json(r.app)) for r in fresh),
        )


def app_to_json(app: App) -> str:
    """The app as compact JSON, every field in order (``app_from_json`` reads it back)."""
    return orjson.dumps(
        [
            app.key,
            app.name,
            app.vendor,
            app.category,
            app.domain,
            app.first_party,
            app.internal,
            app.lookalike_of,
            [[e.rule, e.value, e.score] for e in app.evidence],
        ]
    ).decode()


def app_from_json(text: str) -> App:
    key, name, vendor, category, domain, first_party, internal, lookalike_of, evidence = (
        orjson.loads(text)
    )
    return App(
        key=key,
        name=name,
        vendor=vendor,
        category=category,
        domain=domain,
        first_party=first_party,
        internal=internal,
        lookalike_of=lookalike_of,
        evidence=tuple(Evidence(rule, value, score) for rule, value, score in evidence),
    )
