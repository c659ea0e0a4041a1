"""What the communication identity API needs: keys, the store, the clock, and the resources' access keys."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import select

from callbridge.clock import Clock
from callbridge.config import Settings
from callbridge.directory.resources import endpoint
from callbridge.identity.keys import KeyRing
from callbridge.store.db import Database
from callbridge.store.models import CommunicationResource


@dataclass
class AcsContext:
    settings: Settings
    db: Database
    clock: Clock
    idp_ring: KeyRing  # verifies organisation tokens
    ring: KeyRing  # signs communication tokens
    keys: ResourceKeys = field(init=False)

    def __post_init__(self) -> None:
        self.keys = ResourceKeys(self.db)

    @property
    def issuer(self) -> str:
        """Communication tokens name the endpoint that issued them."""
        return endpoint(self.settings.public_base_url)


class ResourceKeys:
    """The access keys of every communication resource, re-read at most every few seconds so a rotated key
    stops working quickly on every node."""

    TTL_S = 5.0

    def __init__(self, db: Database) -> None:
        self._db = db
        self._by_key: dict[str, str] = {}
        self._loaded = float("-inf")

    async def all(self) -> dict[str, str]:
        """access key -> resource id"""
        if time.monotonic() - self._loaded > self.TTL_S:
            await self.reload()
        return self._by_key

    async def reload(self) -> None:
        async with self._db.session() as s:
            rows = (await s.scalars(select(CommunicationResource))).all()
        self._by_key = {k: r.id for r in rows for k in (r.primary_key, r.secondary_key)}
        self._loaded = time.monotonic()
