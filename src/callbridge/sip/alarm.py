"""One callback at the earliest deadline its owner names, on the event loop's own timer.

The sans-I/O pieces (the transaction layer, the user agent's `Schedule`) say when they are next due; their
drivers arm an `Alarm` with that deadline after every change. Re-arming with the same deadline costs a
comparison; a new one replaces the loop's timer handle. Nothing waits in a task, so a message that changes no
deadline wakes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Alarm:
    def __init__(self, clock: Callable[[], float], ring: Callable[[], None]) -> None:
        self.clock = clock  # the owner's clock; deadlines are on it, the loop's timer only counts the delay
        self._ring = ring
        self._deadline: float | None = None
        self._handle: asyncio.TimerHandle | None = None

    def arm(self, deadline: float | None) -> None:
        """Ring at `deadline` (the earliest one due, or None for none), replacing what was armed before."""
        if deadline == self._deadline:
            return
        self.cancel()
        if deadline is None:
            return
        delay = max(0.0, deadline - self.clock())
        self._deadline = deadline
        self._handle = asyncio.get_running_loop().call_later(delay, self._rung)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self._deadline = None

    def _rung(self) -> None:
        self._handle = None
        self._deadline = None
        self._ring()
