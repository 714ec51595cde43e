"""Time that runs faster, shared by a fake and the connector under test.

A fake that limits at 5 requests per second needs minutes of real time to show whether a
connector's pacing keeps under it. ``ScaledTime(speed)`` makes a second pass in ``1 / speed``
real seconds: give ``now`` to the fake (``FakeProvider.clock``) and the object itself to the
connector as ``ConnectorContext.sleep`` (``scanner.net.pacing.clock_for`` reads its ``now`` and
``wait``), and both count the same seconds while real HTTP still goes over loopback.
"""

from __future__ import annotations

import threading
import time


class ScaledTime:
    """A monotonic clock ``speed`` times faster than real time, with matching waits."""

    def __init__(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be more than 0")
        self.speed = speed
        self._origin = time.monotonic()
        self.slept = 0.0
        """Scaled seconds slept through this clock (all threads together)."""
        self._lock = threading.Lock()

    def now(self) -> float:
        return (time.monotonic() - self._origin) * self.speed

    def __call__(self, seconds: float) -> None:
        """Sleep ``seconds`` of scaled time."""
        seconds = max(0.0, seconds)
        with self._lock:
            self.slept += seconds
        time.sleep(seconds / self.speed)

    def wait(self, condition: threading.Condition, seconds: float) -> None:
        """Wait on a held condition for at most ``seconds`` of scaled time."""
        condition.wait(max(0.0, seconds) / self.speed)
