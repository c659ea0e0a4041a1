"""Failed sign-ins counted per user and per address over a sliding window, in the store (so every node
shares the count)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from callbridge.store.db import Database
from callbridge.store.models import SignInFailure


class SignInThrottle:
    def __init__(self, db: Database, per_user: int, per_address: int, window_s: int) -> None:
        self._db = db
        self._limits = {"user": per_user, "addr": per_address}
        self._window = timedelta(seconds=window_s)

    @staticmethod
    def _keys(upn: str, address: str) -> dict[str, str]:
        return {"user": f"user:{upn.strip().lower()}", "addr": f"addr:{address}"}

    async def blocked(self, upn: str, address: str, now: datetime) -> bool:
        keys = self._keys(upn, address)
        async with self._db.session() as s:
            for kind, key in keys.items():
                count = await s.scalar(
                    select(func.count())
                    .select_from(SignInFailure)
                    .where(SignInFailure.key == key, SignInFailure.at > now - self._window)
                )
                if (count or 0) >= self._limits[kind]:
                    return True
        return False

    async def failed(self, upn: str, address: str, now: datetime) -> None:
        async with self._db.transaction() as s:
            s.add_all(SignInFailure(key=key, at=now) for key in self._keys(upn, address).values())
            await s.execute(delete(SignInFailure).where(SignInFailure.at <= now - self._window))

    async def succeeded(self, upn: str, now: datetime) -> None:
        async with self._db.transaction() as s:
            await s.execute(delete(SignInFailure).where(SignInFailure.key == self._keys(upn, "")["user"]))
