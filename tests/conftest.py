"""Suite-wide isolation: each test starts with our loggers and the libraries' as Python leaves
them."""

from __future__ import annotations

import logging
from collections.abc import Iterator

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
