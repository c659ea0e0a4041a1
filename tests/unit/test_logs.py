"""The log throttle: one record per kind of event per interval, the count of those held back on the next one,
a bounded memory of kinds; time is a fake clock."""

from __future__ import annotations

import logging

import pytest

from callbridge.logs import Throttled


class Seconds:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Seconds:
    return Seconds()


def records(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int | None]]:
    return [(r.getMessage(), getattr(r, "suppressed", None)) for r in caplog.records]


def test_one_line_per_interval_then_the_count_held_back(clock: Seconds, caplog: pytest.LogCaptureFixture) -> None:
    throttled = Throttled(logging.getLogger("test.throttle"), 60.0, clock=clock)
    with caplog.at_level(logging.WARNING, logger="test.throttle"):
        logged = [throttled.warning("unlisted INVITE", extra={"source": f"192.0.2.{n}"}) for n in range(1000)]
        clock.now += 59.9
        logged.append(throttled.warning("unlisted INVITE"))
        clock.now += 0.1
        logged.append(throttled.warning("unlisted INVITE"))
        clock.now += 60
        logged.append(throttled.warning("unlisted INVITE"))
    assert logged.count(True) == 3 and logged[0] and logged[-2] and logged[-1]
    assert records(caplog) == [("unlisted INVITE", None), ("unlisted INVITE", 1000), ("unlisted INVITE", None)]
    assert caplog.records[0].source == "192.0.2.0"  # type: ignore[attr-defined]


def test_kinds_are_throttled_apart(clock: Seconds, caplog: pytest.LogCaptureFixture) -> None:
    throttled = Throttled(logging.getLogger("test.throttle"), 60.0, clock=clock)
    with caplog.at_level(logging.WARNING, logger="test.throttle"):
        for _ in range(10):
            throttled.warning("datagram too large")
            throttled.warning("refused", key="refused:400")
            throttled.warning("refused", key="refused:505")
    assert records(caplog) == [("datagram too large", None), ("refused", None), ("refused", None)]


def test_memory_of_kinds_is_bounded(clock: Seconds) -> None:
    throttled = Throttled(logging.getLogger("test.throttle"), 60.0, clock=clock, max_keys=4)
    for n in range(100):
        throttled.warning("kind", key=str(n))
    assert len(throttled._last) == 4


def test_a_bugs_traceback_once_per_interval(clock: Seconds, caplog: pytest.LogCaptureFixture) -> None:
    throttled = Throttled(logging.getLogger("test.throttle"), 60.0, clock=clock)
    with caplog.at_level(logging.ERROR, logger="test.throttle"):
        for _ in range(5):
            try:
                raise RuntimeError("bug")
            except RuntimeError:
                throttled.exception("handler failed")
    assert len(caplog.records) == 1 and caplog.records[0].exc_info is not None
