"""Build the shipped catalog, ``scanner/data/catalog.csv``, from the reviewed entries and the
open-data snapshots in ``tools/data/catalog/``.

    python -m tools.build_catalog            # writes scanner/data/catalog.csv
    python -m tools.build_catalog --check    # exit 1 when the shipped file is stale

Inputs, each snapshot with its licence and a ``SOURCE`` file naming repository and commit
(refresh them with ``python -m tools.catalog_extract``):

1. ``curated.csv``: reviewed entries (name, vendor, category, domains, aliases, client IDs, the
   page each comes from). They come first and keep fuzzy name matching.
2. ``awesome-generative-ai`` (CC0) and ``awesome-ai-tools`` (MIT): generative-AI products by
   section (writing, image, video, audio, coding, assistants).
3. ``wappalyzer`` (MIT snapshot): SaaS technologies with their category and website.
4. ``twofactorauth`` (MIT): services with their domains, categories, 2FA methods and the page
   documenting them; ``tfa`` "none" when the directory lists the service without 2FA.
5. ``sso-wall-of-shame`` (Apache-2.0): vendors that charge extra for SSO, with both prices;
   ``reviewed_sso_vendors.csv`` (ours) gives a category to those not yet in the catalog.

Rules, applied in that order so the output is the same on every run: a source row whose domain
(or a parent of it) is already an entry's enriches that entry (2FA methods and docs from
``twofactorauth``, the SSO tier from ``sso-wall-of-shame``) and never adds a second entry; a row
is left out when its link is a repository, paper or store page (``PLATFORM_HOSTS``), an identity
provider's own domain (``IDP_DOMAINS``), not a valid domain, or when its name is already another
entry's spelling. Imported entries match raw apps by domain or exact name only (``match`` =
``exact``); fuzzy matching stays with the reviewed ones.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from scanner.analysis.catalog_files import CATALOG_FILE, COLUMNS
from scanner.analysis.text import normalise_name, slug
from tools.catalog_sources import (
    AI_LIST_SECTIONS,
    IDP_DOMAINS,
    PLATFORM_HOSTS,
    RAW_DIR,
    TWOFACTORAUTH_CATEGORIES,
    WAPPALYZER_CATEGORIES,
    snapshot,
)

DOMAIN_RE = re.compile(
    r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}$"
)
"""A host name: dot-separated labels of letters, digits and inner hyphens, a letter-led TLD."""
REVIEWED_SSO_VENDORS = "reviewed_sso_vendors.csv"
"""Our review of the SSO wall's vendors whose site is no catalog entry's domain: the category of
the entry to add, or the existing entry they are (``atlassian.com`` is Jira)."""


@dataclass
class Row:
    """One entry being built; ``csv_row`` writes it in ``COLUMNS`` order."""

    name: str
    vendor: str
    category: str
    domains: list[str]
    source: str
    aliases: list[str] = field(default_factory=list)
    client_ids: list[str] = field(default_factory=list)
    match: str = "exact"
    mfa: str = ""
    mfa_docs: str = ""
    mfa_source: str = ""
    sso: str = ""
    sso_note: str = ""
    sso_source: str = ""

    def csv_row(self) -> dict[str, str]:
        return {
            "name": self.name,
            "vendor": self.vendor,
            "category": self.category,
            "domains": ";".join(self.domains),
            "aliases": ";".join(self.aliases),
            "client_ids": ";".join(self.client_ids),
            "match": self.match,
            "mfa": self.mfa,
            "mfa_docs": self.mfa_docs,
            "mfa_source": self.mfa_source,
            "sso": self.sso,
            "sso_note": self.sso_note,
            "sso_source": self.sso_source,
            "source": self.source,
        }


def host_of_url(value: str) -> str | None:
    """``https://www.Jasper.ai/x`` -> ``jasper.ai``; None when it is not a usable domain."""
    text = value.strip()
    if "://" not in text:
        text = "https://" + text
    host = (urlsplit(text).hostname or "").lower().rstrip(".").removeprefix("www.")
    return host if DOMAIN_RE.match(host) else None


def _under(host: str, domains: tuple[str, ...] | list[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


class Builder:
    """The catalog so far, with the indexes the rules need (domains, spellings, keys)."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self._by_domain: dict[str, Row] = {}
        self._spellings: set[str] = set()
        self._keys: set[str] = set()
        self.skipped: dict[str, int] = {}

    def owner(self, host: str) -> Row | None:
        """The entry owning ``host`` or a parent domain of it."""
        labels = host.split(".")
        for start in range(len(labels) - 1):
            found = self._by_domain.get(".".join(labels[start:]))
            if found is not None:
                return found
        return None

    def add(self, row: Row) -> None:
        self.rows.append(row)
        self._keys.add(slug(row.name))
        for spelling in (row.name, *row.aliases):
            self._spellings.add(normalise_name(spelling))
        for domain in row.domains:
            self._by_domain.setdefault(domain, row)

    def add_new(self, name: str, category: str, host: str | None, source: str, why: str) -> bool:
        """Add an imported entry unless a rule leaves it out; ``why`` counts what was left out."""
        name = " ".join(name.split())
        key = normalise_name(name)
        if host is None or _under(host, PLATFORM_HOSTS) or _under(host, IDP_DOMAINS):
            return self._skip(f"{why}: no product domain")
        if self.owner(host) is not None:
            return self._skip(f"{why}: domain already in the catalog")
        if len(key) < 2 or key in self._spellings or slug(name) in self._keys:
            return self._skip(f"{why}: name already in the catalog")
        self.add(Row(name=name, vendor=name, category=category, domains=[host], source=source))
        return True

    def _skip(self, reason: str) -> bool:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        return False


def _read(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def add_curated(builder: Builder, raw_dir: Path) -> None:
    for row in _read(raw_dir / "curated.csv"):
        builder.add(
            Row(
                name=row["name"],
                vendor=row["vendor"],
                category=row["category"],
                domains=[d for d in row["domains"].split(";") if d],
                aliases=[a for a in row["aliases"].split(";") if a],
                client_ids=[c for c in row["client_ids"].split(";") if c],
                source=row["source"],
                match="fuzzy",
            )
        )


def add_ai_lists(builder: Builder, raw_dir: Path) -> None:
    for folder in ("awesome-generative-ai", "awesome-ai-tools"):
        snap = snapshot(folder, raw_dir)
        for row in _read(raw_dir / folder / "tools.csv"):
            category = AI_LIST_SECTIONS.get(row["section"])
            if category is None:
                continue
            source = snap.cite(row["path"], f"section {row['section']!r}")
            builder.add_new(row["name"], category, host_of_url(row["url"]), source, folder)


def add_wappalyzer(builder: Builder, raw_dir: Path) -> None:
    snap = snapshot("wappalyzer", raw_dir)
    for row in _read(raw_dir / "wappalyzer" / "technologies.csv"):
        names = [c for c in row["categories"].split(";") if c]
        mapped = [WAPPALYZER_CATEGORIES[c] for c in names if c in WAPPALYZER_CATEGORIES]
        category = mapped[0] if mapped else "other"
        host = host_of_url(row["website"])
        builder.add_new(row["name"], category, host, snap.cite(row["path"]), "wappalyzer")


def add_twofactorauth(builder: Builder, raw_dir: Path) -> None:
    snap = snapshot("twofactorauth", raw_dir)
    for row in _read(raw_dir / "twofactorauth" / "entries.csv"):
        hosts = [host_of_url(row["domain"])]
        hosts += [host_of_url(d) for d in row["additional_domains"].split(";") if d]
        known = [h for h in hosts if h is not None]
        owner = next((builder.owner(h) for h in known if builder.owner(h) is not None), None)
        if owner is None:
            mapped = [TWOFACTORAUTH_CATEGORIES.get(c) for c in row["categories"].split(";")]
            category = next((c for c in mapped if c), None)
            if category is None or not known:
                builder._skip("twofactorauth: consumer service")
                continue
            if not builder.add_new(row["name"], category, known[0], snap.cite(row["path"]), "2fa"):
                continue
            owner = builder.rows[-1]
        if not owner.mfa:
            owner.mfa = row["tfa"]
            owner.mfa_docs = row["documentation"]
            owner.mfa_source = snap.cite(row["path"])


def _sso_wall_owner(
    builder: Builder, row: dict[str, str], source: str, raw_dir: Path
) -> Row | None:
    """The entry a vendor of the wall enriches: by domain, else as ``reviewed_sso_vendors.csv``
    says (an existing entry by name, or a new entry with the reviewed category)."""
    host = host_of_url(row["vendor_url"])
    owner = builder.owner(host) if host else None
    if owner is not None or host is None:
        return owner
    reviewed = {r["domain"]: r for r in _read(raw_dir / REVIEWED_SSO_VENDORS)}.get(host)
    if reviewed is None:
        return None
    if reviewed["entry"]:
        return next((r for r in builder.rows if r.name == reviewed["entry"]), None)
    if builder.add_new(row["name"], reviewed["category"], host, source, "sso-wall-of-shame"):
        return builder.rows[-1]
    return None


def add_sso_wall(builder: Builder, raw_dir: Path) -> None:
    snap = snapshot("sso-wall-of-shame", raw_dir)
    for row in _read(raw_dir / "sso-wall-of-shame" / "vendors.csv"):
        owner = _sso_wall_owner(builder, row, snap.cite(row["path"]), raw_dir)
        if owner is None:
            builder._skip("sso-wall-of-shame: vendor not in the catalog")
            continue
        if owner.sso:
            continue
        owner.sso = "paid"
        increase = f" (+{row['percent_increase']})" if row["percent_increase"] else ""
        owner.sso_note = (
            f"SSO only on a pricier plan: {row['sso_pricing']} vs {row['base_pricing']}"
            f"{increase}; {row['pricing_source']} as of {row['updated_at']}"
        )
        owner.sso_source = snap.cite(row["path"])


def build(raw_dir: Path = RAW_DIR) -> tuple[list[Row], dict[str, int]]:
    """The catalog's rows, in order, and how many source rows each rule left out."""
    builder = Builder()
    add_curated(builder, raw_dir)
    add_ai_lists(builder, raw_dir)
    add_wappalyzer(builder, raw_dir)
    add_twofactorauth(builder, raw_dir)
    add_sso_wall(builder, raw_dir)
    return [replace(r) for r in builder.rows], dict(sorted(builder.skipped.items()))


def render(rows: list[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(r.csv_row() for r in rows)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build scanner/data/catalog.csv")
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    args = parser.parse_args(argv)
    rows, skipped = build()
    text = render(rows)
    if args.check:
        stale = CATALOG_FILE.read_text(encoding="utf-8") != text
        print(f"{CATALOG_FILE}: {'stale' if stale else 'up to date'}", file=sys.stderr)
        return 1 if stale else 0
    CATALOG_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {len(rows)} entries to {CATALOG_FILE}", file=sys.stderr)
    for reason, count in skipped.items():
        print(f"  left out {count}: {reason}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
