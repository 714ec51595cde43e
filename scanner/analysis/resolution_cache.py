"""Resolve only what changed: a cache of ``Resolver.resolve`` results kept in the store.

The canonical app a raw app resolves to is a pure function of the raw app's fields, the
catalog (shipped files, the config's catalog file, aliases and category overrides), the
organisation's own domains and tenant ids, the connector capabilities given to the
``Resolver`` (``first_party_by_name``, ``first_party_ids``) and the resolution rules
themselves. So each result is kept with two fingerprints:

- the **context**: a digest of the catalog's content (every entry and first-party list, as
  loaded with the config's overrides applied), the resolver's settings, the source of the
  modules that implement the rules and the version of the fuzzy matcher;
- the **raw app**: a digest of all its fields.

A raw app whose cached row has both fingerprints equal to this build's reuses the cached app;
anything else is resolved as without a cache. A full build (``shadowit scan --full``)
resolves every raw app again and rewrites the cache.
"""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path

import scanner
from scanner.analysis import catalog as catalog_module
from scanner.analysis import catalog_files, text
from scanner.analysis import resolve as resolve_module
from scanner.analysis.catalog import Catalog
from scanner.analysis.resolve import Resolver
from scanner.core.models import App, RawApp
from scanner.store import resolutions as stored
from scanner.store.database import Store

_RULE_MODULES = (resolve_module, text, catalog_module, catalog_files)
"""The modules whose code decides a resolution: a change to any of them resolves again."""

_catalog_digests: weakref.WeakKeyDictionary[Catalog, str] = weakref.WeakKeyDictionary()
"""A catalog's content digest, computed once per loaded catalog (about 25 ms)."""


def raw_digest(raw: RawApp) -> str:
    """A digest of every field of ``raw``: any change to the raw app resolves it again."""
    return hashlib.blake2b(repr(raw).encode(), digest_size=16).hexdigest()


def context_digest(resolver: Resolver) -> str:
    """A digest of everything but the raw app that ``resolver.resolve`` depends on."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (
        _rules_digest(),
        catalog_digest(resolver.catalog),
        repr(resolver.own_domains),
        repr(sorted(resolver.own_tenant_ids)),
        repr(sorted(resolver.first_party_by_name)),
        repr(sorted(resolver.first_party_ids)),
    ):
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def catalog_digest(catalog: Catalog) -> str:
    """A digest of the catalog's content as loaded (shipped and configured entries with the
    config's aliases and categories applied, the first-party lists, configured internal names
    and aliases)."""
    known = _catalog_digests.get(catalog)
    if known is not None:
        return known
    digest = hashlib.blake2b(digest_size=16)
    for part in (
        repr(catalog.entries),
        repr(sorted(catalog.microsoft_apps.items())),
        repr(catalog.google_first_party),
        repr(catalog.provider_apps),
        repr(sorted(catalog.internal_names)),
        repr(sorted(catalog.config_aliases.items())),
    ):
        digest.update(part.encode())
        digest.update(b"\x00")
    found = _catalog_digests[catalog] = digest.hexdigest()
    return found


@cache
def _rules_digest() -> str:
    """The rules' source and the fuzzy matcher's version; where a module's source cannot be
    read (a frozen install), the scanner's version stands for it."""
    digest = hashlib.blake2b(digest_size=16)
    for module in _RULE_MODULES:
        try:
            digest.update(Path(module.__file__ or "").read_bytes())
        except OSError:
            digest.update(f"{module.__name__} {scanner.__version__}".encode())
    digest.update(metadata.version("rapidfuzz").encode())
    return digest.hexdigest()


@dataclass
class CachedResolver:
    """A ``Resolver`` that reuses the store's cached results whose fingerprints match."""

    resolver: Resolver
    context: str
    cached: dict[tuple[str, str], stored.StoredResolution]
    fresh: list[stored.Resolution] = field(default_factory=list)
    used: set[tuple[str, str]] = field(default_factory=set)
    hits: int = 0
    full: bool = False
    """Every raw app resolved again: the cache is rewritten from this build alone."""

    @classmethod
    def open(cls, store: Store, resolver: Resolver, full: bool = False) -> CachedResolver:
        """The cache of ``store`` for ``resolver``'s context; ``full``: start from nothing."""
        context = context_digest(resolver)
        return cls(resolver, context, {} if full else stored.cached(store, context), full=full)

    def resolve(self, raw: RawApp) -> App:
        """The canonical app for ``raw``: the cached one when both fingerprints match."""
        key = (raw.source, raw.client_id)
        digest = raw_digest(raw)
        self.used.add(key)
        row = self.cached.get(key)
        if row is not None and row.raw_digest == digest:
            self.hits += 1
            return stored.app_from_json(row.app)
        app = self.resolver.resolve(raw)
        self.fresh.append(stored.Resolution(raw.source, raw.client_id, digest, app))
        return app

    @property
    def misses(self) -> int:
        return len(self.fresh)

    def save(self, store: Store) -> None:
        """Keep this build's new resolutions; drop the rows of raw apps it did not see."""
        stale = [key for key in self.cached if key not in self.used]
        stored.save(store, self.context, self.fresh, stale, everything=self.full)
