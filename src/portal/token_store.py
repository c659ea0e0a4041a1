"""msal's token cache, one per user, serialized in the portal's database: loaded for a request, written back when
msal changed it. Nothing is kept in the process between requests, so any process serves any user."""

from __future__ import annotations

import msal
from sqlalchemy import delete

from portal.db import Database
from portal.models import TokenCache, utcnow


class TokenStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def load(self, account_key: str) -> msal.SerializableTokenCache:
        cache = msal.SerializableTokenCache()
        async with self._db.transaction() as s:
            row = await s.get(TokenCache, account_key)
            if row is not None:
                cache.deserialize(row.cache)
        return cache

    async def save(self, account_key: str, tenant_id: str, cache: msal.SerializableTokenCache) -> None:
        if not cache.has_state_changed:
            return
        async with self._db.transaction() as s:
            row = await s.get(TokenCache, account_key)
            if row is None:
                s.add(TokenCache(account_key=account_key, tenant_id=tenant_id, cache=cache.serialize(),
                                 updated_at=utcnow()))
            else:
                row.cache, row.updated_at = cache.serialize(), utcnow()
        cache.has_state_changed = False

    async def forget(self, account_key: str) -> None:
        async with self._db.transaction() as s:
            await s.execute(delete(TokenCache).where(TokenCache.account_key == account_key))
