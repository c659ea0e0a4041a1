"""The collector's pacing (callbridge.heap): freezes and sweeps on a fake clock, and what they do to a real heap."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from callbridge.heap import HeapAction, HeapPacer, HeapPacing, sweep


def test_freezes_every_interval_and_sweeps_every_sweep_interval() -> None:
    pacing = HeapPacing(freeze_interval_s=1.0, sweep_interval_s=5.0)
    pacing.start(100.0)
    seen = {t / 2: pacing.due(100.0 + t / 2) for t in range(1, 23)}  # every half second for 11 s
    assert [t for t, a in seen.items() if a is HeapAction.SWEEP] == [5.0, 10.0]
    assert [t for t, a in seen.items() if a is HeapAction.FREEZE] == [1.0, 2.0, 3.0, 4.0, 6.0, 7.0, 8.0, 9.0, 11.0]
    assert pacing.next_deadline() == 112.0


def test_without_sweeps_only_freezes() -> None:
    pacing = HeapPacing(freeze_interval_s=2.0, sweep_interval_s=0)
    pacing.start(0.0)
    assert [pacing.due(float(t)) for t in range(1, 5)] == [None, HeapAction.FREEZE, None, HeapAction.FREEZE]
    assert pacing.next_deadline() == 6.0


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture
def thawed() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_a_frozen_cycle_waits_for_the_sweep(thawed: None) -> None:
    garbage = cycle()
    gc.freeze()  # the cycle is garbage already, but the collector no longer walks what is frozen
    gc.collect()
    assert garbage() is not None
    assert sweep() >= 2 and garbage() is None


def test_frozen_objects_are_still_freed_by_reference_counting(thawed: None) -> None:
    node = Node()
    gone = weakref.ref(node)
    gc.freeze()
    del node
    assert gone() is None


async def test_the_pacer_freezes_and_sweeps_on_the_loop() -> None:
    done: list[str] = []
    pacer = HeapPacer(HeapPacing(0.01, 0.05), freeze=lambda: done.append("freeze"),
                      sweep=lambda: done.append("sweep"))
    pacer.start()
    try:
        async with asyncio.timeout(5):
            while "sweep" not in done:
                await asyncio.sleep(0.01)
    finally:
        pacer.stop()
    assert done.count("freeze") >= 2 and done[-1] == "sweep"
    count = len(done)
    await asyncio.sleep(0.03)
    assert len(done) == count  # stopped


def test_an_interval_of_zero_leaves_the_collector_alone() -> None:
    pacer = HeapPacer(HeapPacing(0, 600), freeze=lambda: pytest.fail("froze"))
    pacer.start()  # no loop needed: nothing is scheduled
    pacer.stop()
