"""Sign-in back-off: failed sign-ins counted per user and address, per user, and per address, in the store (so
every node shares them), with waits that grow instead of a lock-out.

- **user and address**: after ``free`` failures each try waits, doubling with each further failure up to an
  hour: one guesser is slowed to a crawl;
- **user** (from anywhere): the same doubling, but never more than a minute: guessers spread over many
  addresses get one try a minute, and the real owner signing in from elsewhere is slowed, never locked out;
- **address**: a wide ceiling against spraying many users from one address: past it, the address waits out the
  window. Behind a load balancer this is the balancer's address unless its network is a trusted proxy.

A try is counted *before* the password is looked at, in one transaction with its check (the rows locked in key
order: ``SELECT ... FOR UPDATE`` on PostgreSQL, the database's write lock on SQLite), so parallel guesses cannot
all pass the check before any is counted; a right password takes its count back.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from callbridge.config import Settings
from callbridge.identity import errors
from callbridge.store.db import Database
from callbridge.store.models import SignInCounter


@dataclass(frozen=True)
class BackOff:
    """After ``free`` failures a try waits ``first_s`` after the last failure, twice that after the next, up to
    ``max_s``. Failures are forgotten ``memory_s`` after the last one."""

    free: int
    first_s: float
    max_s: float
    memory_s: float

    def failures(self, counted: int, last: datetime, now: datetime) -> int:
        return 0 if now - last >= timedelta(seconds=self.memory_s) else counted

    def wait_s(self, failures: int, last: datetime, now: datetime) -> float:
        """How long from ``now`` a try must still wait, after ``failures`` (remembered) failures."""
        if failures < self.free:
            return 0.0
        wait = min(self.max_s, self.first_s * 2.0 ** min(failures - self.free, 60))
        return max(0.0, wait - (now - last).total_seconds())


@dataclass(frozen=True)
class SignInPolicy:
    per_user_address: BackOff
    per_user: BackOff
    per_address: BackOff

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInPolicy:
        free, first, memory = settings.signin_failures_per_user, settings.signin_backoff_s, \
            settings.signin_failure_memory_s
        window = settings.signin_failure_window_s
        return cls(BackOff(free, first, settings.signin_backoff_max_s, memory),
                   BackOff(free, first, settings.signin_user_backoff_max_s, memory),
                   BackOff(settings.signin_failures_per_address, window, window, window))

    def rules(self, upn: str, address: str) -> dict[str, BackOff]:
        """The counters a sign-in of ``upn`` from ``address`` is checked against, by key."""
        user = hashlib.sha256(upn.strip().lower().encode()).hexdigest()
        return {f"u:{user}": self.per_user, f"ua:{user}:{address}": self.per_user_address,
                f"a:{address}": self.per_address}

    @property
    def longest_memory_s(self) -> float:
        return max(rule.memory_s for rule in (self.per_user_address, self.per_user, self.per_address))


@dataclass(frozen=True)
class Attempt:
    """A try counted as a failure until its password proves right."""

    user_keys: tuple[str, ...]
    address_key: str


class SignInThrottle:
    def __init__(self, db: Database, policy: SignInPolicy) -> None:
        self._db = db
        self._policy = policy

    async def reserve(self, upn: str, address: str, now: datetime) -> Attempt:
        """Count a try of ``upn`` from ``address``, or raise ``too_many_attempts`` (with how long to wait)."""
        rules = self._policy.rules(upn, address)
        keys = sorted(rules)
        async with self._db.transaction() as s:
            await self._forget(s, now)
            await s.execute(self._insert().values([_row(key, 0, now) for key in keys]).on_conflict_do_nothing())
            rows = await s.scalars(select(SignInCounter).where(SignInCounter.key.in_(keys))
                                   .order_by(SignInCounter.key).with_for_update())
            counted = {row.key: (rules[row.key].failures(row.failures, row.last_failure_at, now), row.last_failure_at)
                       for row in rows}  # a row forgotten by another node meanwhile counts from zero
            wait = max((rules[key].wait_s(n, last, now) for key, (n, last) in counted.items()), default=0.0)
            if wait > 0:
                raise errors.too_many_attempts(math.ceil(wait))
            upsert = self._insert().values([_row(key, counted.get(key, (0, now))[0] + 1, now) for key in keys])
            await s.execute(upsert.on_conflict_do_update(index_elements=[SignInCounter.key], set_={
                "failures": upsert.excluded.failures, "last_failure_at": upsert.excluded.last_failure_at}))
        by_kind = {key.split(":", 1)[0]: key for key in keys}
        return Attempt((by_kind["u"], by_kind["ua"]), by_kind["a"])

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the user's failures are cleared, and the address gets its try back."""
        async with self._db.transaction() as s:
            await s.execute(update(SignInCounter).where(SignInCounter.key.in_(attempt.user_keys)).values(failures=0))
            await s.execute(update(SignInCounter).where(SignInCounter.key == attempt.address_key).values(
                failures=case((SignInCounter.failures > 0, SignInCounter.failures - 1), else_=0)))

    async def _forget(self, s: AsyncSession, now: datetime) -> None:
        """Drop counters quiet for longer than any rule remembers (rows another try holds are left for later)."""
        cutoff = now - timedelta(seconds=self._policy.longest_memory_s)
        stale = select(SignInCounter.key).where(SignInCounter.last_failure_at < cutoff) \
            .with_for_update(skip_locked=True)
        await s.execute(delete(SignInCounter).where(SignInCounter.key.in_(stale)))

    def _insert(self) -> Any:
        return (postgresql.insert if self._db.dialect == "postgresql" else sqlite.insert)(SignInCounter)


def _row(key: str, failures: int, at: datetime) -> dict[str, Any]:
    return {"key": key, "failures": failures, "last_failure_at": at}
