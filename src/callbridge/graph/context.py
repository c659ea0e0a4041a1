"""What the directory API needs: the store, the clock, the identity provider's keys, paging and throttling."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from callbridge.clock import Clock
from callbridge.config import Settings
from callbridge.graph.paging import PageTokens
from callbridge.graph.throttle import GraphThrottle
from callbridge.identity.keys import KeyRing
from callbridge.store.db import Database


@dataclass
class GraphContext:
    settings: Settings
    db: Database
    clock: Clock
    ring: KeyRing
    pages: PageTokens
    buckets: GraphThrottle
    # told when an organizer changed an online meeting's settings (its thread id): a meeting in progress follows
    meeting_changed: Callable[[str], Awaitable[None]] | None = None

    @property
    def root(self) -> str:
        return f"{self.settings.public_base_url}/graph/v1.0"
