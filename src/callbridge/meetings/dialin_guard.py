"""How many wrong conference ids one calling number may try, over all its calls: a guard against guessing a
meeting's id by phone. Each call already ends after ``dialin_max_attempts`` wrong ids; without this, hanging up
and calling again would start over. A number that got ``limit`` ids wrong within the last ``window_s`` is told
that the service is unavailable (call again later: the same words as a failing lookup, so nothing is learnt)
without any lookup, until the oldest of those falls out of the window. Callers without a number share one key
("anonymous"). Sans I/O: the time is given."""

from __future__ import annotations

from collections import OrderedDict, deque
from datetime import datetime, timedelta

ANONYMOUS = "anonymous"


class WrongIdGuard:
    def __init__(self, limit: int, window_s: float, max_keys: int = 100_000) -> None:
        self._limit, self._window, self._max_keys = limit, timedelta(seconds=window_s), max_keys
        self._wrong: OrderedDict[str, deque[datetime]] = OrderedDict()  # number -> its recent wrong ids' times

    def __len__(self) -> int:
        """How many numbers it remembers (bounded by ``max_keys``)."""
        return len(self._wrong)

    def blocked(self, number: str | None, now: datetime) -> bool:
        times = self._wrong.get(number or ANONYMOUS)
        return times is not None and self._prune(times, now) >= self._limit

    def wrong(self, number: str | None, now: datetime) -> None:
        """A conference id from ``number`` was not found."""
        key = number or ANONYMOUS
        times = self._wrong.pop(key, None) or deque(maxlen=self._limit)
        self._prune(times, now)
        times.append(now)
        self._wrong[key] = times  # the most recently wrong last
        while len(self._wrong) > self._max_keys:  # bounded memory: the number wrong longest ago goes
            self._wrong.popitem(last=False)

    def _prune(self, times: deque[datetime], now: datetime) -> int:
        while times and now - times[0] >= self._window:
            times.popleft()
        return len(times)
