"""The snapshot extractor reads a real git repository at a pinned commit, data only."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

from tools.catalog_extract import Repo, markdown_list_rows, write_snapshot


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def _commit(repo: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "x")
    return _git(repo, "rev-parse", "HEAD").strip()


def test_twofactorauth_snapshot_at_a_pinned_commit(tmp_path: Path) -> None:
    repo = tmp_path / "src"
    repo.mkdir()
    _git(repo, "init", "-q")
    acme = {"Acme": {"domain": "acme.example", "tfa": ["totp", "u2f"], "categories": ["task"]}}
    first = _commit(
        repo, {"LICENSE.md": "MIT " * 80, "entries/a/acme.example.json": json.dumps(acme)}
    )
    bare = {"Bare": {"domain": "bare.example", "categories": ["other"], "custom-software": ["x"]}}
    _commit(repo, {"entries/b/bare.example.json": json.dumps(bare)})

    folder = write_snapshot("twofactorauth", Repo(repo, first), tmp_path / "out")
    with (folder / "entries.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["name"], r["domain"], r["tfa"], r["path"]) for r in rows] == [
        ("Acme", "acme.example", "totp;u2f", "entries/a/acme.example.json")
    ]
    assert f"commit = {first}" in (folder / "SOURCE").read_text(encoding="utf-8")
    assert (folder / "LICENSE.md").read_text(encoding="utf-8").startswith("MIT")

    latest = write_snapshot("twofactorauth", Repo(repo, "HEAD"), tmp_path / "out2")
    text = (latest / "entries.csv").read_text(encoding="utf-8")
    assert "Bare,bare.example,,other,custom-software," in text


def test_markdown_lists_keep_name_link_and_section(tmp_path: Path) -> None:
    repo = tmp_path / "list"
    repo.mkdir()
    _git(repo, "init", "-q")
    readme = (
        "# Awesome\n\n## Text\n\n### Writing assistants\n\n"
        "- [Wordy](https://www.wordy.example/) - writes.\n"
        "* [Second](https://second.example) - also.\n"
        "Not a list item [x](https://x.example)\n\n"
        "### 🎨 Graphic design\n\n- [Painty](https://painty.example/app) - draws.\n"
    )
    _commit(repo, {"README.md": readme})
    rows = list(markdown_list_rows(Repo(repo, "HEAD")))
    assert [(r["name"], r["url"], r["section"]) for r in rows] == [
        ("Wordy", "https://www.wordy.example/", "Writing assistants"),
        ("Second", "https://second.example", "Writing assistants"),
        ("Painty", "https://painty.example/app", "Graphic design"),
    ]
