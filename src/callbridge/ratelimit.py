"""Token buckets by key on an injected clock, answering how long to wait: the one rate limiter of every context
(Graph's per app, tenant and user; the calling service's frames and call attempts; the phone side's INVITEs)."""

from __future__ import annotations

import math
from datetime import datetime


class TokenBuckets:
    def __init__(self, rate_per_s: float, burst: int, max_keys: int = 100_000) -> None:
        self._rate = rate_per_s
        self._burst = float(burst)
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str, now: datetime) -> int:
        """0 if the request may go on, else the seconds to wait (for Retry-After)."""
        t = now.timestamp()
        tokens, at = self._buckets.get(key, (self._burst, t))
        tokens = min(self._burst, tokens + (t - at) * self._rate)
        if tokens < 1:
            self._buckets[key] = (tokens, t)
            return max(1, math.ceil((1 - tokens) / self._rate))
        if len(self._buckets) >= self._max_keys and key not in self._buckets:
            self._buckets.clear()  # bounded memory; a reset only ever lets a burst through
        self._buckets[key] = (tokens - 1, t)
        return 0
