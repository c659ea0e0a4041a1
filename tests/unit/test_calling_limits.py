"""Per-identity limits and revocation, sans-I/O: the caller's quota on a fake clock, the registry's socket cap, the
call SDP's bounds, and one sweep of open sockets against a fake store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callbridge.acs.standing import DISABLED, REVOKED, Standing
from callbridge.acs.tokens import CommunicationToken
from callbridge.calling.call import CallError
from callbridge.calling.quota import CallerLimits, CallerQuota
from callbridge.calling.registry import InMemoryRegistry
from callbridge.calling.sockets import OpenSockets
from callbridge.sip.call_sdp import check_call_sdp
from callbridge.sip.offer_answer import NotAcceptableHere, build_offer

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OID = "0f0e0d0c-0b0a-0908-0706-050403020100"


def test_the_quota_caps_calls_in_progress_and_frees_a_place_when_one_ends() -> None:
    quota = CallerQuota(CallerLimits(max_calls=2, attempts_per_s=100, attempts_burst=100))
    quota.take("a", T0)
    quota.take("a", T0)
    with pytest.raises(CallError) as refused:
        quota.take("a", T0)
    assert (refused.value.code, refused.value.sub_code) == (429, 10116)
    quota.take("b", T0)  # another caller is counted apart
    quota.release("a")
    quota.take("a", T0)
    assert quota.in_progress("a") == 2


def test_the_quota_rate_limits_attempts_on_its_clock() -> None:
    quota = CallerQuota(CallerLimits(max_calls=100, attempts_per_s=2, attempts_burst=3))
    for _ in range(3):
        quota.take("a", T0)
    with pytest.raises(CallError) as refused:
        quota.take("a", T0)
    assert (refused.value.code, refused.value.sub_code) == (429, 10117)
    quota.take("a", T0 + timedelta(seconds=0.5))  # one token back after half a second


async def test_the_registry_refuses_an_agent_over_the_identitys_limit_but_not_a_resume() -> None:
    registry = InMemoryRegistry()
    assert await registry.register("a1", "x", 2) and await registry.register("a2", "x", 2)
    assert not await registry.register("a3", "x", 2)
    assert await registry.register("a1", "x", 2)  # the same agent again (a resume)
    assert await registry.register("b1", "y", 2)
    await registry.unregister("a1")
    assert await registry.register("a3", "x", 2)
    assert await registry.agents_of("x") == ["a2", "a3"]


OFFER = str(build_offer("127.0.0.1", 49_170))


@pytest.mark.parametrize("sdp, warning", [
    (None, 399), ("", 399),
    (OFFER + "m=audio 49172 RTP/AVP 0\r\n", 304),
    (OFFER.replace("m=audio 49170 RTP/AVP 0 8 101", "m=video 49170 RTP/AVP 96"), 304),
    (OFFER.replace("RTP/AVP 0 8 101", "RTP/AVP " + " ".join(map(str, range(90, 128)))), 305),
    (OFFER + "".join(f"a=candidate:{i} 1 udp 1 127.0.0.1 {5000 + i} typ host\r\n" for i in range(33)), 399),
    (OFFER + "a=x-filler\r\n" * 200, 399),
    (OFFER + "a=x-filler:" + "y" * 17_000 + "\r\n", 399),
])
def test_a_call_sdp_out_of_bounds_is_not_acceptable(sdp: str | None, warning: int) -> None:
    with pytest.raises(NotAcceptableHere) as refused:
        check_call_sdp(sdp)
    assert refused.value.warning_code == warning
    assert refused.value.warning("callbridge").startswith(f'{warning} callbridge "')


def test_a_call_sdp_of_one_audio_stream_passes() -> None:
    assert len(check_call_sdp(OFFER).media) == 1


class FakeSocket:
    def __init__(self, raw_id: str, issued_at: datetime = T0) -> None:
        self.current_token: CommunicationToken | None = CommunicationToken(raw_id, "r", ("voip",),
                                                                           T0 + timedelta(hours=1), issued_at)
        self.closed: str | None = None

    async def revoke(self, reason: str) -> None:
        self.closed = reason


async def test_a_sweep_closes_the_sockets_whose_identity_no_longer_stands_in_one_read() -> None:
    reads: list[set[str]] = []
    store = {f"8:orgid:{OID}": Standing(enabled=False), "8:acs:r_1": Standing(tokens_valid_from=T0 + timedelta(1)),
             "8:acs:r_2": Standing()}

    async def read(raw_ids: object) -> dict[str, Standing]:
        reads.append(set(raw_ids))  # type: ignore[call-overload]
        return store

    sockets = OpenSockets(read, interval_s=0)
    disabled, revoked, gone, fine = (FakeSocket(f"8:orgid:{OID}"), FakeSocket("8:acs:r_1"), FakeSocket("8:acs:r_3"),
                                     FakeSocket("8:acs:r_2"))
    for socket in (disabled, revoked, gone, fine):
        sockets.add(socket)
    assert await sockets.sweep() == 3
    assert (disabled.closed, revoked.closed, gone.closed, fine.closed) == (DISABLED, REVOKED, REVOKED, None)
    assert len(reads) == 1 and len(sockets) == 1
    assert await sockets.sweep() == 0


async def test_a_revocation_reaches_every_token_issued_before_it_and_none_after_it_in_its_own_second() -> None:
    """Tokens carry their issue time to the microsecond: a revocation at 12:00:00.5 reaches the token issued at
    12:00:00.4 and spares the one issued at 12:00:00.6 (an app that revokes, then issues at once)."""
    standings = {"8:acs:r_1": Standing(tokens_valid_from=T0 + timedelta(seconds=0.5))}
    sockets = OpenSockets(lambda raw_ids: _const(standings), interval_s=0)
    before = FakeSocket("8:acs:r_1", issued_at=T0 + timedelta(seconds=0.4))
    after = FakeSocket("8:acs:r_1", issued_at=T0 + timedelta(seconds=0.6))
    sockets.add(before)
    sockets.add(after)
    assert await sockets.sweep() == 1 and (before.closed, after.closed) == (REVOKED, None)


async def _const(standings: dict[str, Standing]) -> dict[str, Standing]:
    return standings
