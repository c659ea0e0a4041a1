"""What one caller identity may start, sans-I/O: a cap on its calls in progress and a token bucket of call attempts.

``take`` checks and counts in one step, with nothing awaited in between, so attempts made in parallel (one
identity on many sockets) cannot all pass a check made before any of them is counted. Every attempt costs a token,
refused or not; a call that passes holds its place until it ends (``release``). Counted per node: a call lives on
the node that placed it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from callbridge.calling import end_reasons as reasons
from callbridge.calling.call import CallError
from callbridge.ratelimit import TokenBuckets


@dataclass(frozen=True)
class CallerLimits:
    max_calls: int = 8  # calls in progress per caller identity
    attempts_per_s: float = 2.0  # call attempts per caller identity: the bucket's rate...
    attempts_burst: int = 10  # ...and its depth


class CallerQuota:
    def __init__(self, limits: CallerLimits) -> None:
        self.limits = limits
        self._attempts = TokenBuckets(limits.attempts_per_s, limits.attempts_burst)
        self._calls: Counter[str] = Counter()  # caller raw id -> its calls in progress

    def take(self, caller: str, now: datetime) -> None:
        """Count one call attempt of ``caller`` and hold a place for its call; ``CallError`` (429) when over."""
        if self._attempts.take(caller, now):
            reason = reasons.CALLING_TOO_FAST
            raise CallError(reason.code, reason.sub_code, "Too many call attempts; slow down.")
        if self._calls[caller] >= self.limits.max_calls:
            reason = reasons.TOO_MANY_CALLS
            raise CallError(reason.code, reason.sub_code,
                            f"The caller has {self.limits.max_calls} calls in progress already.")
        self._calls[caller] += 1

    def release(self, caller: str) -> None:
        """The call ``take`` held a place for ended, or was never placed."""
        self._calls[caller] -= 1
        if self._calls[caller] <= 0:
            del self._calls[caller]

    def in_progress(self, caller: str) -> int:
        return self._calls[caller]
