"""Browser fixtures: Debian's chromium driven by Playwright, the demo report, a hostile report.

The tests skip, saying why, only when no chromium binary exists (``apt-get install chromium``);
``.ci/run`` installs it. Every request other than the report file itself is counted and
aborted, so a test sees any attempt to reach the network.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reports.html import HtmlReport
from tests.browser.reportdata import build_model, inventory

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output"


def chromium_path() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        pytest.skip(
            "no chromium binary (looked for /usr/bin/chromium): apt-get install -y chromium"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed"
    )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        yield launched
        launched.close()


@dataclass
class Opened:
    """A report page with what it logged and tried to fetch."""

    page: Any
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture()
def open_report(browser: Any) -> Iterator[Any]:
    contexts: list[Any] = []

    def opener(path: Path, width: int = 1440, height: int = 900) -> Opened:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        opened = Opened(page)
        uri = path.as_uri()

        def on_console(message: Any) -> None:
            if message.type == "error":
                opened.console_errors.append(message.text)

        def on_dialog(dialog: Any) -> None:
            opened.dialogs.append(dialog.message)
            dialog.dismiss()

        def on_request(request: Any) -> None:
            if request.url != uri:
                opened.requests.append(request.url)

        page.on("console", on_console)
        page.on("pageerror", lambda error: opened.console_errors.append(str(error)))
        page.on("dialog", on_dialog)
        page.on("request", on_request)
        page.route("**/*", lambda r: r.continue_() if r.request.url == uri else r.abort())
        page.goto(path.as_uri())
        page.wait_for_selector("html[data-ready=true]")
        return opened

    yield opener
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from scanner.app.demo import run_demo

    out = tmp_path_factory.mktemp("demo")
    run_demo(out)
    return out


@pytest.fixture(scope="session")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small inventory whose second scan finds ``<script>alert(1)</script> Insights``."""
    folder = tmp_path_factory.mktemp("hostile")
    model = build_model(inventory(folder))
    (path,) = HtmlReport().render(model, folder / "out")
    return path


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS
