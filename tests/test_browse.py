"""``shadowit browse`` runs Datasette as its child and never leaves it behind: SIGTERM or
SIGINT to ``shadowit browse`` stops the child and exits 0; a child that ignores SIGTERM is
killed after the grace period. Datasette itself is an optional extra, so a stand-in
``datasette`` package (first on PYTHONPATH) records its pid and arguments and waits to be
stopped; ``shadowit browse`` runs it exactly as it would run the real one
(``python -m datasette serve ...``). And the missing-extra hint fits how shadowit was
installed."""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from reports import browse
from scanner.app.cli import main
from tests.test_confirm_support import inventory
from tests.test_serve_stop import processes_naming, shadowit

FAKE_DATASETTE = """\
import json, os, signal, sys, time
from pathlib import Path

record = Path(os.environ["FAKE_DATASETTE_RECORD"])


def stop(signum, frame):
    record.with_suffix(".stopped").write_text(signal.Signals(signum).name)
    sys.exit(0)


signal.signal(signal.SIGINT, stop)
signal.signal(
    signal.SIGTERM, signal.SIG_IGN if os.environ.get("FAKE_DATASETTE_STUBBORN") else stop
)
record.write_text(json.dumps({"pid": os.getpid(), "argv": sys.argv[1:]}))
while True:
    time.sleep(0.05)
"""


@pytest.fixture
def fake_datasette(tmp_path: Path) -> Path:
    """A folder holding a ``datasette`` package that stands in for the real one."""
    package = tmp_path / "fakes" / "datasette"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "__main__.py").write_text(FAKE_DATASETTE, encoding="utf-8")
    return package.parent


def wait_for(path: Path, timeout: float = 30) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text(encoding="utf-8"):
            data: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
            return data
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_browse_stops_datasette_and_leaves_no_process(
    tmp_path: Path, fake_datasette: Path, signum: signal.Signals
) -> None:
    config = inventory(tmp_path)
    record = tmp_path / "datasette.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(fake_datasette), os.environ.get("PYTHONPATH", "")]),
        "FAKE_DATASETTE_RECORD": str(record),
    }
    process = subprocess.Popen(
        [*shadowit(), "browse", "--config", str(config.file), "--no-open", "--port", "8125"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        child = wait_for(record)
        argv = child["argv"]
        assert isinstance(argv, list) and argv[:2] == ["serve", "--immutable"]
        assert argv[argv.index("--port") + 1] == "8125" and "--open" not in argv
        process.send_signal(signum)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert (process.returncode, out, err) == (0, "", "")
    assert record.with_suffix(".stopped").read_text() == "SIGTERM", "stopped once, by SIGTERM"
    assert processes_naming(str(config.store_path)) == [], "datasette was left running"


def test_a_child_ignoring_sigterm_is_killed_after_the_grace_period(
    tmp_path: Path, fake_datasette: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = tmp_path / "stubborn.json"
    monkeypatch.setenv("PYTHONPATH", str(fake_datasette))
    monkeypatch.setenv("FAKE_DATASETTE_RECORD", str(record))
    monkeypatch.setenv("FAKE_DATASETTE_STUBBORN", "1")
    seen: dict[str, object] = {}

    def stop_us() -> None:
        seen.update(wait_for(record))
        seen["signalled"] = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)  # handled by run_until_stopped (main thread)

    before = signal.getsignal(signal.SIGTERM)
    stopper = threading.Thread(target=stop_us)
    stopper.start()
    code = browse.run_until_stopped([sys.executable, "-m", "datasette", "serve"], grace=0.5)
    ended = time.monotonic()
    stopper.join(10)
    assert code == 0
    assert 0.5 <= ended - float(str(seen["signalled"])) < 5
    assert not record.with_suffix(".stopped").exists(), "it ignored SIGTERM"
    assert processes_naming(str(record.parent)) == [], "the stubborn child was killed"
    assert signal.getsignal(signal.SIGTERM) == before, "the previous handler is back"


def test_a_child_that_ends_by_itself_gives_its_exit_code() -> None:
    assert browse.run_until_stopped([sys.executable, "-c", "raise SystemExit(3)"]) == 3


# -- the missing-extra hint ---------------------------------------------------------------
def dist(folder: Path, direct_url: dict[str, object] | None) -> importlib.metadata.Distribution:
    """An installed distribution's metadata folder, as pip leaves it."""
    info = folder / "shadow_it_scanner-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: shadow-it-scanner\nVersion: 0.1.0\n", encoding="utf-8"
    )
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url), encoding="utf-8")
    [found] = importlib.metadata.distributions(name="shadow-it-scanner", path=[str(folder)])
    return found


WHEEL_HINT = "datasette is not installed: pip install 'shadow-it-scanner[browse]'"
SITE = Path("/usr/lib/python3/site-packages/reports/browse.py")
"""Where the module lies in an installed wheel: no pyproject.toml above it."""


def test_hint_names_the_checkout_for_an_editable_install(tmp_path: Path) -> None:
    editable = dist(
        tmp_path, {"url": "file:///srv/src/shadow%20it", "dir_info": {"editable": True}}
    )
    assert browse.install_hint([editable], SITE) == (
        "datasette is not installed; in /srv/src/shadow it run: pip install -e '.[browse]'"
    )


@pytest.mark.parametrize(
    "direct_url",
    [
        None,  # a wheel from a package index
        {"url": "file:///tmp/shadow_it_scanner-0.1.0-py3-none-any.whl", "archive_info": {}},
        {"url": "file:///srv/src/shadowit", "dir_info": {}},  # `pip install <folder>`: a copy
    ],
)
def test_hint_names_the_package_for_an_install_from_a_wheel(
    tmp_path: Path, direct_url: dict[str, object] | None
) -> None:
    assert browse.install_hint([dist(tmp_path, direct_url)], SITE) == WHEEL_HINT


def test_hint_for_a_tree_run_without_an_install_record(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\n", encoding="utf-8")
    assert browse.install_hint([], tmp_path / "reports" / "browse.py") == (
        f"datasette is not installed; in {tmp_path} run: pip install -e '.[browse]'"
    )
    assert browse.install_hint([], SITE) == WHEEL_HINT


def test_browse_in_this_checkout_says_how_to_install_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(browse, "datasette_installed", lambda: False)
    config = inventory(tmp_path)
    result = CliRunner().invoke(main, ["browse", "--config", str(config.file)])
    root = Path(__file__).resolve().parents[1]
    assert result.exit_code == 2
    assert result.output == (
        f"Error: datasette is not installed; in {root} run: pip install -e '.[browse]'\n"
    )
