"""What ``shadowit scan`` prints, line by line, through the CLI: the scan labelled full or
incremental as it was, each source's first warnings with a count of the rest, provider text
cut and escaped, and counts with the right plural."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from scanner.app.cli import main
from scanner.core.models import Checkpoint, SourceWarning, User
from scanner.core.names import ELLIPSIS, LINE_WIDTH
from tests.memory_source import FEED
from tests.test_operations_env import feed_config, feed_of


def scan(config: Path, *extra: str) -> Result:
    result = CliRunner().invoke(main, ["scan", "--config", str(config), *extra])
    assert result.exit_code == 0, result.output
    return result


def lines(result: Result) -> list[str]:
    return result.output.splitlines()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return feed_config(tmp_path)


def warn(*messages: str) -> None:
    """The feed yields these warnings (stream ``grants``) after its records."""
    FEED.extend(SourceWarning("feed", "grants", m) for m in messages)


def test_first_scan_of_a_new_inventory_is_full_then_incremental_then_full_again(
    config: Path,
) -> None:
    feed_of("Canva")
    FEED.append(Checkpoint("feed", "signins", cursor="2026-11-20T00:00:00Z"))
    first = scan(config, "--no-report")
    assert lines(first)[0] == "shadowit scan 1 (full) of Test Co"
    second = scan(config, "--no-report")
    assert lines(second)[0] == "shadowit scan 2 (incremental) of Test Co"
    third = scan(config, "--no-report", "--full")
    assert lines(third)[0] == "shadowit scan 3 (full) of Test Co"
    fourth = scan(config)  # and the report says the same
    assert lines(fourth)[0] == "shadowit scan 4 (incremental) of Test Co"
    report = json.loads((config.parent / "reports" / "report.json").read_text("utf-8"))
    assert (report["scan"]["id"], report["scan"]["full"]) == (4, False)
    html = (config.parent / "reports" / "report.html").read_text("utf-8")
    assert "<b>#4</b> (incremental)" in html


def test_a_source_without_cursors_is_swept_in_full_every_time(config: Path) -> None:
    feed_of("Canva")  # its checkpoints carry no cursor: nothing to resume from
    scan(config, "--no-report")
    assert lines(scan(config, "--no-report"))[0] == "shadowit scan 2 (full) of Test Co"


def test_the_first_five_warnings_are_shown_and_the_rest_counted(config: Path) -> None:
    feed_of("Canva")
    warn(*(f"grant g{n} names service principal sp{n}, which no longer exists" for n in range(12)))
    out = lines(scan(config, "--no-report"))
    assert out[1:8] == [
        "  source feed: ok, 5 records, 12 warnings",
        "    warning: grants: grant g0 names service principal sp0, which no longer exists",
        "    warning: grants: grant g1 names service principal sp1, which no longer exists",
        "    warning: grants: grant g2 names service principal sp2, which no longer exists",
        "    warning: grants: grant g3 names service principal sp3, which no longer exists",
        "    warning: grants: grant g4 names service principal sp4, which no longer exists",
        "    ... and 7 more warnings",
    ]
    assert out[8].startswith("  apps found: ")


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (1, ["  source feed: ok, 5 records, 1 warning", "    warning: grants: w0"]),
        (
            6,
            ["  source feed: ok, 5 records, 6 warnings"]
            + [f"    warning: grants: w{n}" for n in range(5)]
            + ["    ... and 1 more warning"],
        ),
    ],
)
def test_plurals(config: Path, count: int, expected: list[str]) -> None:
    feed_of("Canva")
    warn(*(f"w{n}" for n in range(count)))
    out = lines(scan(config, "--no-report"))
    assert out[1 : 1 + len(expected)] == expected
    assert out[1 + len(expected)].startswith("  apps found: ")


def test_one_record_is_singular_and_no_warning_prints_no_warning_line(config: Path) -> None:
    FEED[:] = [User("feed", "u1", "ana@example.com"), Checkpoint("feed", "users", complete=True)]
    out = lines(scan(config, "--no-report"))
    assert out[1] == "  source feed: ok, 1 record"
    assert out[2].startswith("  apps found: ")


def test_a_long_hostile_name_in_a_warning_is_escaped_and_cut(config: Path) -> None:
    feed_of("Canva")
    hostile = "Zoom\x1b[2J\x1b]0;pwned\x07" + "A" * 5000
    warn(f"app {hostile} vanished during the scan")
    out = lines(scan(config, "--no-report"))
    line = out[2]
    assert line.startswith("    warning: grants: app Zoom\\x1b[2J\\x1b]0;pwned\\x07AAAA")
    assert line.endswith("A" + ELLIPSIS)
    assert len(line) == len("    warning: ") + LINE_WIDTH
    assert not any("\x1b" in printed or "\x07" in printed for printed in out)
