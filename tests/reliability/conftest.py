"""Shared fixtures of the reliability suite and the hook that writes docs/reliability.md.

``observe(area, case, behaviour)`` records one fault or hostile input and what shadowit did;
with ``SHADOWIT_WRITE_RELIABILITY=1`` the rows of a session become docs/reliability.md. Rows
of a failing test are kept and marked FAIL, so the table never hides a regression.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

from tests.reliability import make_table

Observe = Callable[[str, str, str], None]

_OBSERVED: list[tuple[str, make_table.Observation]] = []
_FAILED: set[str] = set()


@pytest.fixture()
def observe(request: pytest.FixtureRequest) -> Iterator[Observe]:
    """Record ``(area, case, observed behaviour)`` rows for the reliability table."""
    test = request.node.name

    def record(area: str, case: str, behaviour: str) -> None:
        if area not in make_table.AREAS:
            raise ValueError(f"unknown reliability area {area!r}")
        _OBSERVED.append((request.node.nodeid, make_table.Observation(area, case, behaviour, test)))

    yield record


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        _FAILED.add(item.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get(make_table.ENV) != "1" or not _OBSERVED:
        return
    rows = [
        make_table.Observation(o.area, o.case, o.behaviour, o.test, node not in _FAILED)
        for node, o in _OBSERVED
    ]
    make_table.write(rows)
