"""Thread machinery: the background sign-in listing (its clock comes from
``scanner.net.pacing.clock_for``).

The paced report listings (sign-ins, sign-in activity) run on a background thread from the start
of ``collect()`` while the directory streams are read; their pages wait in a bounded queue.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Generator, Iterator
from typing import Any

from scanner.core.models import Checkpoint, SourceRecord

log = logging.getLogger(__name__)


class _Cancelled(Exception):
    """The consumer stopped the scan: the background listing ends at its next wait or page."""


class _Failure:
    """An exception raised on the background thread, re-raised to the consumer as it was."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


_DONE = object()


class _Background:
    """Runs a record generator on a thread and hands its pages over through a bounded queue.

    A page is the records up to and including a Checkpoint. The consumer iterates the reader to
    get the records in order; an exception on the thread reaches the consumer unchanged, after
    the records yielded before it. ``close()`` (also when the consumer stops early) cancels the
    thread: it stops at its next page or wait (see ``collect.EntraConnector._sleep``).
    """

    def __init__(self, records: Generator[SourceRecord, None, None], pages: int) -> None:
        self._records = records
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=pages)
        self.cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, name="entra-signins", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def is_current(self) -> bool:
        return threading.current_thread() is self._thread

    def _run(self) -> None:
        page: list[SourceRecord] = []
        try:
            for record in self._records:
                page.append(record)
                if isinstance(record, Checkpoint):
                    if not self._put(page):
                        return
                    page = []
            self._put(page)
            self._put(_DONE)
        except _Cancelled:
            return
        except BaseException as err:  # handed to the consumer, which raises it  # noqa: BLE001
            self._put(page)
            self._put(_Failure(err))
        finally:
            self._records.close()

    def _put(self, item: Any) -> bool:
        """Wait for room in the queue; False once cancelled."""
        while not self.cancelled.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[SourceRecord]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield from item

    def close(self, wait: float = 10.0) -> None:
        """Cancel the thread and wait a little for it (an HTTP request in flight finishes)."""
        self.cancelled.set()
        if self._thread.is_alive():
            self._thread.join(wait)
        if self._thread.is_alive():
            log.debug("the background sign-in listing is still finishing a request")
