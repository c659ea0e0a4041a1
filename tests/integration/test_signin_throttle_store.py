"""The sign-in back-off's check and count are one atomic step on every backend: parallel guesses, as from
several nodes sharing the database, never get past the limit."""

from __future__ import annotations

import asyncio

from callbridge.clock import FakeClock
from callbridge.identity.errors import OAuthError
from callbridge.identity.throttle import BackOff, SignInPolicy, SignInThrottle
from callbridge.store.db import Database

POLICY = SignInPolicy(per_user_address=BackOff(free=5, first_s=1, max_s=3600, memory_s=86400),
                      per_user=BackOff(free=5, first_s=1, max_s=60, memory_s=86400),
                      per_address=BackOff(free=100, first_s=300, max_s=300, memory_s=300))


async def test_parallel_guesses_from_many_addresses_pass_the_limit_at_most_its_size(db: Database) -> None:
    nodes = [SignInThrottle(db, POLICY), SignInThrottle(Database(db.url), POLICY)]  # two nodes, one database
    now = FakeClock().now()

    async def guess(i: int) -> bool:
        try:
            await nodes[i % 2].reserve("alice@x.example", f"198.51.100.{i}", now)
        except OAuthError as exc:
            assert exc.aadsts == 50053 and exc.retry_after_s == 1
            return False
        return True

    try:
        passed = await asyncio.gather(*(guess(i) for i in range(24)))
    finally:
        await nodes[1]._db.close()
    assert sum(passed) == 5
