"""The guard against guessing a meeting's conference id by phone: a number that typed ``limit`` wrong ids within
the window, over all its calls, is not looked up again until its bucket refills; other numbers are not affected;
callers without a number share one key. On a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callbridge.meetings.dialin_guard import WrongIdGuard

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
KIM, BEN = "+12065550100", "+12065550111"


def test_a_number_is_refused_after_its_wrong_ids_and_again_allowed_later() -> None:
    guard = WrongIdGuard(limit=3, window_s=900)
    for minute in range(3):
        assert not guard.blocked(KIM, T0 + timedelta(minutes=minute))
        guard.wrong(KIM, T0 + timedelta(minutes=minute))
    assert guard.blocked(KIM, T0 + timedelta(minutes=3))  # three wrong within 15 minutes: no more lookups
    assert guard.blocked(KIM, T0 + timedelta(minutes=14))  # hanging up and calling again does not reset it
    assert not guard.blocked(BEN, T0 + timedelta(minutes=4))  # another number is not affected
    assert not guard.blocked(KIM, T0 + timedelta(minutes=15))  # the first wrong id left the window: one more try
    guard.wrong(KIM, T0 + timedelta(minutes=15))
    assert guard.blocked(KIM, T0 + timedelta(minutes=15, seconds=1))
    assert not guard.blocked(KIM, T0 + timedelta(minutes=30))


def test_callers_without_a_number_share_one_key() -> None:
    guard = WrongIdGuard(limit=1, window_s=600)
    guard.wrong(None, T0)
    guard.wrong("", T0)
    assert guard.blocked(None, T0) and guard.blocked("", T0) and not guard.blocked(KIM, T0)


def test_memory_stays_bounded_under_many_numbers() -> None:
    guard = WrongIdGuard(limit=1, window_s=600, max_keys=100)
    for n in range(1_000):
        assert not guard.blocked(f"+1206555{n:04d}", T0)  # asking remembers nothing
        guard.wrong(f"+1206555{n:04d}", T0)
    assert len(guard) == 100 and guard.blocked("+12065550999", T0)  # the oldest made room for the newest
