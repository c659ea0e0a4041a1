"""Failed sign-ins are throttled per user and per address over a sliding window (fake clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callbridge.clock import FakeClock
from callbridge.identity.throttle import SignInThrottle
from callbridge.store.db import Database


@pytest.fixture
async def throttle(tmp_path: Path) -> AsyncIterator[SignInThrottle]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    await db.migrate()
    yield SignInThrottle(db, per_user=3, per_address=5, window_s=300)
    await db.close()


async def test_user_locked_after_limit_then_released_by_time(throttle: SignInThrottle) -> None:
    clock = FakeClock()
    for _ in range(3):
        assert not await throttle.blocked("Alice@x.example", "10.0.0.1", clock.now())
        await throttle.failed("alice@x.example", "10.0.0.1", clock.now())
    assert await throttle.blocked("alice@x.example", "10.0.0.9", clock.now())  # from any address
    assert not await throttle.blocked("bob@x.example", "10.0.0.9", clock.now())
    clock.advance(301)
    assert not await throttle.blocked("alice@x.example", "10.0.0.1", clock.now())


async def test_address_spraying_many_users_is_blocked(throttle: SignInThrottle) -> None:
    clock = FakeClock()
    for i in range(5):
        await throttle.failed(f"user{i}@x.example", "10.0.0.2", clock.now())
        clock.advance(1)
    assert await throttle.blocked("fresh@x.example", "10.0.0.2", clock.now())
    assert not await throttle.blocked("fresh@x.example", "10.0.0.3", clock.now())


async def test_success_clears_the_users_count(throttle: SignInThrottle) -> None:
    clock = FakeClock()
    for _ in range(2):
        await throttle.failed("carol@x.example", "10.0.0.4", clock.now())
    await throttle.succeeded("carol@x.example", clock.now())
    await throttle.failed("carol@x.example", "10.0.0.4", clock.now())
    assert not await throttle.blocked("carol@x.example", "10.0.0.5", clock.now())
