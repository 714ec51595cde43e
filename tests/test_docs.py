"""Docs are tested: every connector has a setup page whose config block is valid, and every
command is in the README."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import connectors
from scanner.app import config as configuration
from scanner.app.cli import main

ROOT = Path(__file__).parent.parent
DOCUMENTED = connectors.builtin_names()
"""Every connector shadowit ships has a page (test doubles registered by tests have none)."""


@pytest.mark.parametrize("name", DOCUMENTED)
def test_connector_has_a_setup_page_with_a_valid_config_block(name: str) -> None:
    page = ROOT / "docs" / f"{name}.md"
    assert page.exists(), f"docs/{name}.md is missing"
    text = page.read_text(encoding="utf-8")
    headings = [h.lower() for h in re.findall(r"^## (?:\d+\. )?(.+)$", text, re.M)]
    for section in ("prerequisites", "configure", "run", "troubleshooting"):
        assert any(section in h for h in headings), f"docs/{name}.md lacks a {section} section"
    blocks = [b for b in re.findall(r"```toml\n(.*?)```", text, re.S) if f"[sources.{name}" in b]
    assert blocks, f"docs/{name}.md has no [sources.{name}] toml block"
    cfg = configuration.from_dict(tomllib.loads(blocks[0]), page)
    assert name in cfg.sources
    assert connectors.get(name).summary


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in main.commands:
        assert f"shadowit {name}" in readme, f"README.md does not mention `shadowit {name}`"


def test_example_config_enables_nothing_it_cannot_reach() -> None:
    cfg = configuration.load(ROOT / "config.example.toml")
    assert set(cfg.sources) == set(DOCUMENTED)
