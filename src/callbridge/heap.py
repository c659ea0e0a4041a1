"""Keeping the garbage collector's pauses out of the event loop's latency.

CPython's cycle collector walks every tracked object of the generations it collects, on the thread that happens to
allocate: here, the event loop. Reference counting frees nearly everything callbridge makes, so what the collector
walks is mostly alive: at 300 calls/s the oldest generation held ~400,000 objects (SIP transactions waiting out
their timers, dialogs, sockets), and each full collection stopped the loop for 50-155 ms to free nothing, often
enough to put INVITE -> 200 past 50 ms for 1% of calls (docs/performance.md).

So the collector is paced (`HeapPacing`, sans-I/O: `due(now)` says what to do, a loop timer does it):

* **freeze** every ``freeze_interval_s``: `gc.freeze()` moves every tracked object to the permanent generation,
  which collections never walk. It is O(1) (the generations' lists are spliced), and refcounting still frees a
  frozen object the moment it is unreferenced. Collections then walk only what was made since the last freeze,
  where the usual cycles (an exception and its traceback, a task and its callbacks) are found young.
* **sweep** every ``sweep_interval_s``: `gc.unfreeze()` and one full collection, so the cycles that became garbage
  only after they were frozen are freed too; one full pause an interval instead of one every few seconds.

Start-up's own objects are frozen once (`settle`), as before.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

log = logging.getLogger("callbridge")


class HeapAction(Enum):
    FREEZE = "freeze"
    SWEEP = "sweep"


@dataclass
class HeapPacing:
    """When to freeze and when to sweep, on a clock given to `due`."""

    freeze_interval_s: float
    sweep_interval_s: float
    next_freeze: float = field(default=0.0, init=False)
    next_sweep: float = field(default=0.0, init=False)

    def start(self, now: float) -> None:
        self.next_freeze, self.next_sweep = now + self.freeze_interval_s, now + self.sweep_interval_s

    def due(self, now: float) -> HeapAction | None:
        """What is due at ``now`` (a sweep includes the freeze after it), and the deadlines moved past it."""
        if self.sweep_interval_s > 0 and now >= self.next_sweep:
            self.start(now)
            return HeapAction.SWEEP
        if now >= self.next_freeze:
            self.next_freeze = now + self.freeze_interval_s
            return HeapAction.FREEZE
        return None

    def next_deadline(self) -> float:
        return min(self.next_freeze, self.next_sweep) if self.sweep_interval_s > 0 else self.next_freeze


def settle() -> None:
    """Free start-up's garbage, then freeze what is left: it lives as long as the process."""
    gc.collect()
    gc.freeze()


def sweep() -> int:
    """Unfreeze, collect everything once, freeze again; the number of objects freed."""
    gc.unfreeze()
    started = time.perf_counter()
    freed = gc.collect()
    gc.freeze()
    log.info("heap swept", extra={"freed": freed, "ms": round((time.perf_counter() - started) * 1000, 1)})
    return freed


class HeapPacer:
    """The loop timer that applies `HeapPacing`. With ``freeze_interval_s`` 0 it does nothing (CPython's own
    thresholds decide, as in any Python process)."""

    def __init__(self, pacing: HeapPacing, *, freeze: Callable[[], None] = gc.freeze,
                 sweep: Callable[[], object] = sweep) -> None:
        self.pacing, self._freeze, self._sweep = pacing, freeze, sweep
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        if self.pacing.freeze_interval_s <= 0:
            return
        loop = asyncio.get_running_loop()
        self.pacing.start(loop.time())
        self._arm(loop)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = loop.call_at(self.pacing.next_deadline(), self._fire, loop)

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        action = self.pacing.due(loop.time())
        if action is HeapAction.SWEEP:
            self._sweep()
        elif action is HeapAction.FREEZE:
            self._freeze()
        self._arm(loop)
