"""Write docs/reliability.md from what the reliability suite observed.

Every test in ``tests/reliability`` reports each fault or hostile input it tried, and what
shadowit did about it, through the ``observe`` fixture (see ``conftest.py``). With
``SHADOWIT_WRITE_RELIABILITY=1`` the session writes those rows here as a Markdown table, so the
page always shows the behaviour of the code as it is, never a hand-written claim.

Regenerate the page::

    SHADOWIT_WRITE_RELIABILITY=1 .venv/bin/python -m pytest -q tests/reliability
    # or simply
    .venv/bin/python tests/reliability/make_table.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "reliability.md"
ENV = "SHADOWIT_WRITE_RELIABILITY"

AREAS = {
    "http": "HTTP client and paging (scanner.net.http, scanner.net.paging)",
    "connector": "Connectors against their local fake providers",
    "crash": "Crash safety (SIGKILL during a scan)",
    "hostile": "Hostile input rendered through every output",
    "property": "Property-based tests (any input: records or a typed error)",
    "secrets": "Secrets and file permissions",
    "confirm": "Confirmation links: forged, foreign, replayed, expired and tampered tokens",
    "serve": "The confirmation server (shadowit serve) under hostile or stuck clients",
    "servers": "Hostile and broken servers: foreign links and redirects, endless, trickling and "
    "silent answers, loops that change their link",
    "tokens": "Token endpoints answering HTML, the wrong JSON or nothing (Entra, Google, Okta)",
    "writes": "Report sets and message files when a run is killed or a write fails",
    "store": "The inventory store: disk full, read-only, locked, and retention",
}


@dataclass(frozen=True)
class Observation:
    """One row: the area, what was tried, what shadowit did, and the test that saw it."""

    area: str
    case: str
    behaviour: str
    test: str
    passed: bool = True


def _cell(text: str) -> str:
    flat = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", " ".join(text.split()))
    if len(flat) > 300:
        flat = flat[:297] + "..."
    return flat.replace("|", "\\|")


def render(observations: Iterable[Observation]) -> str:
    rows = sorted(set(observations), key=lambda o: (list(AREAS).index(o.area), o.test, o.case))
    lines = [
        "# Reliability: faults and hostile input tried, and what shadowit did",
        "",
        "Generated from the test run of `tests/reliability` (do not edit by hand):",
        "`SHADOWIT_WRITE_RELIABILITY=1 .venv/bin/python -m pytest -q tests/reliability`.",
        "Each row is one fault injected or one hostile input rendered, and the behaviour the",
        "test observed and asserted. The crash suite runs 4 seeded kills in `make test` and 20",
        "under `make test-long`.",
        "",
    ]
    for area, title in AREAS.items():
        chosen = [o for o in rows if o.area == area]
        if not chosen:
            continue
        lines += [f"## {title}", "", "| Fault or input | Observed behaviour | Test | Result |"]
        lines.append("|---|---|---|---|")
        for o in chosen:
            result = "pass" if o.passed else "FAIL"
            lines.append(
                f"| {_cell(o.case)} | {_cell(o.behaviour)} | `{_cell(o.test)}` | {result} |"
            )
        lines.append("")
    return "\n".join(lines)


def write(observations: Iterable[Observation], path: Path = TABLE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(observations), encoding="utf-8")
    return path


def main() -> int:
    env = {**os.environ, ENV: "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/reliability"]
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
