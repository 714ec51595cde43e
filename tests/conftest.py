"""Suite-wide isolation: each test starts with our loggers and the libraries' as Python leaves
them."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.core.logs import LIBRARY_LOGGERS, OUR_LOGGERS


@pytest.fixture(autouse=True)
def _reset_our_loggers() -> Iterator[None]:
    """The CLI configures our loggers and the libraries' (level, handler, filters, no
    propagation) for the process; undo it after each test so a later test's caplog sees what it
    expects and no handler writes to a stream a finished test closed."""
    yield
    for name in (*OUR_LOGGERS, *LIBRARY_LOGGERS):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.filters.clear()
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo run's folder (config, store, reports), one per test module: the module's tests
    may change its store (``shadowit report`` reconciles, ``accept`` decides)."""
    from scanner.app.demo import run_demo

    out = tmp_path_factory.mktemp("demo")
    run_demo(out)
    return out


@pytest.fixture(scope="module")
def model(demo: Path) -> dict[str, Any]:
    """The demo's report.json."""
    data: dict[str, Any] = json.loads((demo / "report.json").read_text(encoding="utf-8"))
    return data
