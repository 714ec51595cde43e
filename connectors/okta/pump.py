"""Running producers side by side: per-app listings ``concurrency`` at a time, memory flat."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_ITEM, _ERROR, _DONE = "item", "error", "done"


def parallel(producers: Iterable[Callable[[], Iterator[T]]], workers: int) -> Iterator[T]:
    """Yield what the producers yield, running ``workers`` of them at a time.

    A bounded queue keeps memory flat: a producer waits while the consumer is behind. The first
    error of any producer is raised in the consumer; closing the generator stops the producers.
    """
    producers = list(producers)
    if workers <= 1 or len(producers) <= 1:
        for produce in producers:
            yield from produce()
        return
    results: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=workers * 2)
    stop = threading.Event()

    def put(kind: str, value: Any) -> bool:
        while not stop.is_set():
            try:
                results.put((kind, value), timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work(produce: Callable[[], Iterator[T]]) -> None:
        try:
            if stop.is_set():
                return
            for item in produce():
                if not put(_ITEM, item):
                    return
        except BaseException as err:  # handed to the consumer, which re-raises it
            put(_ERROR, err)
        finally:
            put(_DONE, None)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="okta") as pool:
        futures = [pool.submit(work, produce) for produce in producers]
        pending = len(futures)
        try:
            while pending:
                kind, value = results.get()
                if kind == _DONE:
                    pending -= 1
                elif kind == _ERROR:
                    raise value
                else:
                    yield value
        finally:
            stop.set()
            for future in futures:
                future.cancel()
