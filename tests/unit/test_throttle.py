"""The sign-in back-off over a fake clock: one guesser from one address is slowed more and more, the owner
elsewhere only up to a minute, other users behind the same address not at all, a spraying address is stopped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from callbridge.clock import FakeClock
from callbridge.identity.errors import OAuthError
from callbridge.identity.throttle import Attempt, BackOff, SignInPolicy, SignInThrottle
from callbridge.store.db import Database

POLICY = SignInPolicy(per_user_address=BackOff(free=3, first_s=1, max_s=3600, memory_s=86400),
                      per_user=BackOff(free=3, first_s=1, max_s=60, memory_s=86400),
                      per_address=BackOff(free=20, first_s=300, max_s=300, memory_s=300))


@pytest.fixture
async def throttle(tmp_path: Path) -> AsyncIterator[SignInThrottle]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    await db.migrate()
    yield SignInThrottle(db, POLICY)
    await db.close()


async def _wait(throttle: SignInThrottle, upn: str, address: str, now: datetime) -> int | None:
    """None when the try is let through (and counted), else the seconds it is told to wait."""
    try:
        await throttle.reserve(upn, address, now)
    except OAuthError as exc:
        assert exc.aadsts == 50053 and exc.status == 429
        return exc.retry_after_s
    return None


def test_back_off_doubles_up_to_its_ceiling() -> None:
    rule, clock = POLICY.per_user_address, FakeClock()
    now = clock.now()
    assert [rule.wait_s(n, now, now) for n in (0, 2, 3, 4, 5, 10, 30, 10_000)] == [0, 0, 1, 2, 4, 128, 3600, 3600]
    clock.advance(3)
    assert rule.wait_s(4, now, clock.now()) == 0 and rule.wait_s(5, now, clock.now()) == 1
    clock.advance(86400)
    assert rule.failures(50, now, clock.now()) == 0  # forgotten a day after the last failure


async def test_a_guesser_is_slowed_more_and_more_and_the_owner_elsewhere_at_most_a_minute(
        throttle: SignInThrottle) -> None:
    clock = FakeClock()
    told = []
    for _ in range(12):
        while (wait := await _wait(throttle, "Alice@x.example", "10.0.0.1", clock.now())) is not None:
            told.append(wait)
            clock.advance(wait)  # the guesser waits exactly as told, and guesses again
    assert told == [1, 2, 4, 8, 16, 32, 64, 128, 256]  # after three free guesses
    assert await _wait(throttle, "alice@x.example", "10.0.0.1", clock.now()) == 512  # 2 ** (12 - 3)
    assert await _wait(throttle, "alice@x.example", "10.0.0.9", clock.now()) == 60  # the owner, elsewhere
    clock.advance(60)
    assert await _wait(throttle, "alice@x.example", "10.0.0.9", clock.now()) is None  # the owner gets in
    assert (await _wait(throttle, "alice@x.example", "10.0.0.1", clock.now()) or 0) > 400


async def test_other_users_behind_the_guessers_address_are_not_slowed(throttle: SignInThrottle) -> None:
    clock = FakeClock()
    for _ in range(25):
        await _wait(throttle, "alice@x.example", "10.0.0.1", clock.now())
    assert await _wait(throttle, "bob@x.example", "10.0.0.1", clock.now()) is None


async def test_an_address_spraying_many_users_waits_out_the_window(throttle: SignInThrottle) -> None:
    clock = FakeClock()
    for i in range(20):
        assert await _wait(throttle, f"user{i}@x.example", "10.0.0.2", clock.now()) is None
    assert await _wait(throttle, "fresh@x.example", "10.0.0.2", clock.now()) == 300
    assert await _wait(throttle, "fresh@x.example", "10.0.0.3", clock.now()) is None
    clock.advance(300)
    assert await _wait(throttle, "fresh@x.example", "10.0.0.2", clock.now()) is None


async def test_a_right_password_takes_its_count_back(throttle: SignInThrottle) -> None:
    clock = FakeClock()
    for _ in range(2):
        await throttle.reserve("carol@x.example", "10.0.0.4", clock.now())
    attempt: Attempt = await throttle.reserve("carol@x.example", "10.0.0.4", clock.now())
    await throttle.succeeded(attempt)
    for _ in range(3):  # three free failures again
        assert await _wait(throttle, "carol@x.example", "10.0.0.4", clock.now()) is None
    assert await _wait(throttle, "carol@x.example", "10.0.0.4", clock.now()) == 1
