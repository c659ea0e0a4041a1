"""Graph's throttling per app and tenant and per user: token buckets on an injected clock, answering how long to
wait."""

from __future__ import annotations

from datetime import datetime

from callbridge.ratelimit import TokenBuckets


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
