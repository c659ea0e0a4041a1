"""Throttling per app and tenant and per user: token buckets on an injected clock, answering how long to wait."""

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


class GraphThrottle:
    """Graph's two limits: one bucket per app and tenant, and one per signed-in user beside it, so that one
    user's burst exhausts that user's bucket and not the whole tenant's. A request a user's bucket refuses takes
    nothing from the tenant's."""

    def __init__(self, tenant: TokenBuckets, user: TokenBuckets) -> None:
        self.tenant = tenant
        self.user = user

    def take(self, app_id: str, tenant_id: str, user_id: str | None, now: datetime) -> int:
        """0 if the request may go on, else the seconds to wait (for Retry-After)."""
        if user_id is not None and (wait := self.user.take(f"{tenant_id}:{user_id}", now)):
            return wait
        return self.tenant.take(f"{app_id}:{tenant_id}", now)
