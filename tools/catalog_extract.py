"""Refresh the catalog's raw inputs in ``tools/data/catalog/`` from clones of their repositories.

    python -m tools.catalog_extract twofactorauth /path/to/twofactorauth[.git]
    python -m tools.catalog_extract sso-wall-of-shame /path/to/sso-wall-of-shame
    python -m tools.catalog_extract wappalyzer /path/to/wappalyzer --commit aff18ef...
    python -m tools.catalog_extract awesome-generative-ai /path/to/awesome-generative-ai
    python -m tools.catalog_extract awesome-ai-tools /path/to/awesome-ai-tools

Each source keeps only the columns the catalog uses, in one small CSV next to the source's
licence and a ``SOURCE`` file naming the repository, the commit read and the licence. The path
may be a work tree or a bare git directory; the files are read with ``git show <commit>:<path>``
at the commit given (default ``HEAD``), so a snapshot is reproducible from its ``SOURCE``.
Only data is taken: names, domains, categories, second-factor methods, documentation links and
SSO prices. ``python -m tools.build_catalog`` then turns these snapshots into
``scanner/data/catalog.csv``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

RAW_DIR = Path(__file__).parent / "data" / "catalog"


@dataclass(frozen=True)
class Spec:
    """One source: its repository, licence, the file the snapshot is written to and its columns."""

    repository: str
    licence: str
    licence_file: str
    output: str
    columns: tuple[str, ...]
    left_out: str = ""
    """Rows the snapshot leaves out, said in its SOURCE file."""


SPECS: dict[str, Spec] = {
    "twofactorauth": Spec(
        "2factorauth/twofactorauth",
        "MIT",
        "LICENSE.md",
        "entries.csv",
        ("name", "domain", "additional_domains", "categories", "tfa", "documentation", "path"),
        "; the entries of language package registries (LEFT_OUT_DOMAINS) left out",
    ),
    "sso-wall-of-shame": Spec(
        "robchahin/sso-wall-of-shame",
        "Apache-2.0",
        "LICENSE",
        "vendors.csv",
        (
            "name",
            "vendor_url",
            "base_pricing",
            "sso_pricing",
            "percent_increase",
            "pricing_source",
            "updated_at",
            "path",
        ),
    ),
    "wappalyzer": Spec(
        # The last commit before the licence became GPLv3 (eab30f3, 2023-01-25): MIT.
        "HTTPArchive/wappalyzer",
        "MIT",
        "LICENSE",
        "technologies.csv",
        ("name", "website", "categories", "path"),
    ),
    "awesome-generative-ai": Spec(
        "steven2358/awesome-generative-ai",
        "CC0-1.0",
        "LICENSE",
        "tools.csv",
        ("name", "url", "section", "path"),
    ),
    "awesome-ai-tools": Spec(
        "mahseema/awesome-ai-tools",
        "MIT",
        "LICENSE",
        "tools.csv",
        ("name", "url", "section", "path"),
    ),
}


class Repo:
    """Files of one commit of a git repository, read with ``git show``."""

    def __init__(self, path: Path, commit: str) -> None:
        self.path = path
        self.commit = self._git("rev-parse", f"{commit}^{{commit}}").strip()

    def _git(self, *args: str) -> str:
        flag = "--git-dir" if (self.path / "HEAD").is_file() else "-C"
        return subprocess.run(
            ["git", flag, str(self.path), *args], check=True, capture_output=True, text=True
        ).stdout

    def show(self, path: str) -> str:
        return self._git("show", f"{self.commit}:{path}")

    def files(self, folder: str) -> list[str]:
        listing = self._git("ls-tree", "-r", "--name-only", self.commit, "--", folder)
        return sorted(line for line in listing.splitlines() if line)

    def date(self) -> str:
        return self._git("log", "-1", "--format=%cs", self.commit).strip()


LEFT_OUT_DOMAINS = frozenset(
    {
        "3ca29e55be4befa4",
        "a4aa2ac280bb8d1a",
        "71741fe2460a6150",
        "f65219c547f9c032",
        "2c77714df232b07f",
    }
)
"""SHA-256 prefixes of the domains of the language package registries 2factorauth lists:
developer infrastructure, not workplace SaaS, and host names the project's files do not carry."""


def _left_out(domain: str) -> bool:
    return hashlib.sha256(domain.encode()).hexdigest()[:16] in LEFT_OUT_DOMAINS


def twofactorauth_rows(repo: Repo) -> Iterator[dict[str, str]]:
    """One row per entry of ``entries/*/*.json`` (name, domain, categories, 2FA methods, docs)."""
    for path in repo.files("entries"):
        if not path.endswith(".json"):
            continue
        for name, entry in json.loads(repo.show(path)).items():
            if _left_out(entry["domain"]):
                continue
            methods = list(entry.get("tfa", []))
            if entry.get("custom-software"):
                methods.append("custom-software")
            if entry.get("custom-hardware"):
                methods.append("custom-hardware")
            methods = list(dict.fromkeys(methods))  # each method once, in the source's order
            yield {
                "name": name,
                "domain": entry["domain"],
                "additional_domains": ";".join(entry.get("additional-domains", [])),
                "categories": ";".join(entry.get("categories", [])),
                # No "tfa" key: the directory lists the site as not offering 2FA.
                "tfa": ";".join(methods) if methods else "none",
                "documentation": entry.get("documentation", ""),
                "path": path,
            }


def _text(value: object) -> str:
    """A YAML value as one line of text (a list of links becomes space-separated)."""
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(_text(v) for v in value)
    return " ".join(str(value).split())


def sso_wall_rows(repo: Repo) -> Iterator[dict[str, str]]:
    """One row per ``_vendors/*.yaml``: vendor, site, base and SSO prices, where they come from."""
    for path in repo.files("_vendors"):
        if not path.endswith((".yaml", ".yml")):
            continue
        vendor = yaml.safe_load(repo.show(path))
        yield {
            "name": _text(vendor["name"]),
            "vendor_url": _text(vendor["vendor_url"]),
            "base_pricing": _text(vendor.get("base_pricing")),
            "sso_pricing": _text(vendor.get("sso_pricing")),
            "percent_increase": _text(vendor.get("percent_increase")),
            "pricing_source": _text(vendor.get("pricing_source")),
            "updated_at": _text(vendor.get("updated_at")),
            "path": path,
        }


def wappalyzer_rows(repo: Repo) -> Iterator[dict[str, str]]:
    """Technologies marked ``saas``: name, website and category names."""
    names = {k: v["name"] for k, v in json.loads(repo.show("src/categories.json")).items()}
    for path in repo.files("src/technologies"):
        if not path.endswith(".json"):
            continue
        for name, tech in sorted(json.loads(repo.show(path)).items()):
            if not tech.get("saas") or not tech.get("website"):
                continue
            yield {
                "name": name,
                "website": tech["website"],
                "categories": ";".join(names[str(c)] for c in tech.get("cats", [])),
                "path": path,
            }


_HEADING = re.compile(r"^(#{2,3})\s+(.+?)\s*$")
_ITEM = re.compile(r"^[-*]\s+\[([^\]]+)\]\((https?://[^)\s]+)\)")


def markdown_list_rows(repo: Repo) -> Iterator[dict[str, str]]:
    """``- [Name](url) - ...`` items of README.md with their ``##`` / ``###`` section."""
    section = ""
    for line in repo.show("README.md").splitlines():
        heading = _HEADING.match(line)
        if heading:
            title = re.sub(r"[^\w &/+'-]", "", heading.group(2)).strip()
            section = title
            continue
        item = _ITEM.match(line.strip())
        if item and section:
            yield {"name": item.group(1).strip(), "url": item.group(2), "section": section}


READERS: dict[str, Callable[[Repo], Iterator[dict[str, str]]]] = {
    "twofactorauth": twofactorauth_rows,
    "sso-wall-of-shame": sso_wall_rows,
    "wappalyzer": wappalyzer_rows,
    "awesome-generative-ai": markdown_list_rows,
    "awesome-ai-tools": markdown_list_rows,
}


def write_snapshot(source: str, repo: Repo, out_dir: Path = RAW_DIR) -> Path:
    """Write ``<out_dir>/<source>/``: the CSV, the licence and the SOURCE record."""
    spec = SPECS[source]
    folder = out_dir / source
    folder.mkdir(parents=True, exist_ok=True)
    rows = list(READERS[source](repo))
    if spec.columns[-1] == "path" and source.startswith("awesome"):
        rows = [{**r, "path": "README.md"} for r in rows]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=spec.columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (folder / spec.output).write_text(buffer.getvalue(), encoding="utf-8")
    (folder / spec.licence_file).write_text(repo.show(spec.licence_file), encoding="utf-8")
    (folder / "SOURCE").write_text(
        f"repository = {spec.repository}\n"
        f"commit = {repo.commit}\n"
        f"date = {repo.date()}\n"
        f"licence = {spec.licence} ({spec.licence_file})\n"
        f"file = {spec.output}\n"
        f"changes = only the columns {', '.join(spec.columns)} kept, converted to CSV by "
        f"tools/catalog_extract.py{spec.left_out}\n",
        encoding="utf-8",
    )
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", choices=sorted(SPECS))
    parser.add_argument("repo", type=Path, help="a clone (work tree or bare git dir)")
    parser.add_argument("--commit", default="HEAD")
    args = parser.parse_args(argv)
    folder = write_snapshot(args.source, Repo(args.repo, args.commit))
    print(f"wrote {folder}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
