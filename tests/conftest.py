"""Suite-wide isolation: each test starts with our loggers as Python leaves them."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from scanner.logs import OUR_LOGGERS


@pytest.fixture(autouse=True)
def _reset_our_loggers() -> Iterator[None]:
    """The CLI configures our loggers (level, handler, no propagation) for the process; undo
    it after each test so a later test's caplog sees what it expects."""
    yield
    for name in OUR_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
