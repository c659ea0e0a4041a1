"""A phone call's media and its trunk: the agent's hold re-invites the phone sendonly (RFC 3264 8.4), so neither
side hears the other, and resume brings both tones back; a phone whose RTP stops is hung up (dead media); the
OPTIONS keep-alive shows whether the carrier answers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest

from callbridge.carrier.network import Carrier
from callbridge.carrier.phone import PhoneState
from callbridge.media.rtp_endpoint import PortRange
from callbridge.sdk import PhoneNumberIdentifier, Recorder, TeamsCallAgent, ToneSource, level
from callbridge.sip.transport import Address
from callbridge.sip.useragent_events import ReinviteFailed
from tests.conftest import Demo
from tests.integration.test_calling_audio import heard, loopback_ice, until
from tests.integration.test_pstn_calls import (
    AGENT_HZ,
    CUSTOMER,
    ENGINES,
    PHONE_HZ,
    alice,
    carrier,
    metric,
    phone_hears,
    phone_platform,
)

__all__ = ["alice", "carrier", "loopback_ice"]


@pytest.fixture(scope="module", params=ENGINES)
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """This module's server, once per media engine: holds go through each gateway."""
    with phone_platform(tmp_path_factory, request.param, PortRange(45_200, 45_499)) as server:
        yield server


def loud_frames(samples: np.ndarray, rate: int) -> int:
    """How many 20 ms frames are louder than silence (one may be the switch itself: a click, not the tone)."""
    size = rate // 50
    return sum(level(samples[i:i + size]) > 0.01 for i in range(0, len(samples), size))


async def alice_hears_during(recorder: Recorder, seconds: float) -> int:
    """Loud frames in a fixed capture window (none arrive at all when the held phone sends nothing)."""
    mark = recorder.mark()
    await asyncio.sleep(seconds)
    return loud_frames(recorder.since(mark), recorder.sample_rate)


async def test_alice_holds_and_resumes_a_phone_call(demo: Demo, carrier: Carrier, alice: TeamsCallAgent) -> None:
    phone = carrier.phone(CUSTOMER)
    call = await alice.start_call(PhoneNumberIdentifier(CUSTOMER), audio=ToneSource(AGENT_HZ))
    await until(lambda: phone.state is PhoneState.RINGING)
    await phone.answer()
    await call.wait_for_state("Connected")
    assert abs((await heard(call.media.recorder))[0] - PHONE_HZ) < 15

    await call.hold()
    await call.wait_for_state("LocalHold")
    held_at = phone.recording.mark()
    await until(lambda: phone._rtp is not None and not phone._rtp.sending)  # re-invited: it must not send
    assert await alice_hears_during(call.media.recorder, 1.0) <= 1  # the phone sends nothing (or silence)
    during_hold = np.asarray(phone.recording.since(held_at)[4000:])  # after the switch (0.5 s)
    assert loud_frames(during_hold, 8000) <= 1  # Alice's side sends silence (or nothing) on hold

    await call.resume()
    await call.wait_for_state("Connected")
    await until(lambda: phone._rtp is not None and phone._rtp.sending)
    frequency, loudness = await heard(call.media.recorder)
    assert abs(frequency - PHONE_HZ) < 15 and loudness > 0.05
    assert abs(await phone_hears(phone) - AGENT_HZ) < 15
    await call.hang_up()
    await until(lambda: phone.state is PhoneState.IDLE)
    assert phone.call is not None and phone.call.outcome is not None and "hung up by the other side" in \
        phone.call.outcome


async def test_the_phone_holds_and_resumes_and_alice_sees_remote_hold(demo: Demo, carrier: Carrier,
                                                                       alice: TeamsCallAgent) -> None:
    """The phone's own re-INVITE (sendonly: music on hold) shows on Alice's call as RemoteHold; she keeps hearing
    the phone's music while the phone hears nothing from her, and resuming brings both ways back."""
    phone = carrier.phone(CUSTOMER)
    call = await alice.start_call(PhoneNumberIdentifier(CUSTOMER), audio=ToneSource(AGENT_HZ))
    await until(lambda: phone.state is PhoneState.RINGING)
    await phone.answer()
    await call.wait_for_state("Connected")
    assert abs(await phone_hears(phone) - AGENT_HZ) < 15

    await asyncio.wait_for(phone.hold(), 5)
    await call.wait_for_state("RemoteHold")
    assert phone._rtp is not None and phone._rtp.sending  # sendonly: the music goes on
    frequency, loudness = await heard(call.media.recorder)
    assert abs(frequency - PHONE_HZ) < 15 and loudness > 0.05
    held_at = phone.recording.mark()
    await asyncio.sleep(1.0)
    assert loud_frames(np.asarray(phone.recording.since(held_at)[4000:]), 8000) <= 1  # nothing from Alice

    await phone.resume()
    await call.wait_for_state("Connected")
    assert abs(await phone_hears(phone) - AGENT_HZ) < 15
    assert abs((await heard(call.media.recorder))[0] - PHONE_HZ) < 15
    await phone.hang_up()
    await call.wait_for_state("Disconnected")


async def test_session_refreshes_from_the_phone_change_nothing(demo: Demo, carrier: Carrier,
                                                               alice: TeamsCallAgent) -> None:
    """RFC 4028 refreshes: a re-INVITE with the same SDP (same o= version), or with none, gets callbridge's current
    SDP back; the call stays Connected with audio both ways."""
    phone = carrier.phone(CUSTOMER)
    call = await alice.start_call(PhoneNumberIdentifier(CUSTOMER), audio=ToneSource(AGENT_HZ))
    await until(lambda: phone.state is PhoneState.RINGING)
    await phone.answer()
    await call.wait_for_state("Connected")
    session = phone._session
    assert session is not None and session.local_sdp is not None
    ours = session.remote_sdp
    seen: list[str] = []
    call.on("state_changed", lambda c: seen.append(c.state))
    assert await asyncio.wait_for(session.reinvite(session.local_sdp), 5) == ours  # the same offer again
    assert await asyncio.wait_for(session.reinvite(""), 5) == ours  # no offer: ours comes as the offer
    assert abs(await phone_hears(phone) - AGENT_HZ) < 15
    assert abs((await heard(call.media.recorder))[0] - PHONE_HZ) < 15
    assert call.state == "Connected" and seen == []
    await call.hang_up()
    await until(lambda: phone.state is PhoneState.IDLE)


async def test_a_phone_re_invite_the_gateway_cannot_take_gets_488_and_the_call_goes_on(
        demo: Demo, carrier: Carrier, alice: TeamsCallAgent) -> None:
    phone = carrier.phone(CUSTOMER)
    call = await alice.start_call(PhoneNumberIdentifier(CUSTOMER), audio=ToneSource(AGENT_HZ))
    await until(lambda: phone.state is PhoneState.RINGING)
    await phone.answer()
    await call.wait_for_state("Connected")
    assert phone._session is not None
    with pytest.raises(ReinviteFailed) as refused:
        await asyncio.wait_for(phone._session.reinvite("v=0\r\nnot an SDP\r\n"), 5)
    assert refused.value.status == 488
    assert call.state == "Connected"
    assert abs(await phone_hears(phone) - AGENT_HZ) < 15
    assert abs((await heard(call.media.recorder))[0] - PHONE_HZ) < 15
    await call.hang_up()
    await until(lambda: phone.state is PhoneState.IDLE)


async def test_a_phone_whose_media_stops_is_hung_up_with_410_301005(demo: Demo, carrier: Carrier,
                                                                    alice: TeamsCallAgent) -> None:
    phone = carrier.phone(CUSTOMER)
    call = await alice.start_call(PhoneNumberIdentifier(CUSTOMER))
    await until(lambda: phone.state is PhoneState.RINGING)
    await phone.answer()
    await call.wait_for_state("Connected")
    assert phone._rtp is not None
    await phone._rtp.stop()  # the phone goes silent on the wire: no RTP at all (dead media after 3 s here)
    await call.wait_for_state("Disconnected", timeout=10)
    assert (call.call_end_reason.code, call.call_end_reason.sub_code) == (410, 301005)  # type: ignore[union-attr]
    await until(lambda: phone.state is PhoneState.IDLE)
    assert phone.call is not None and phone.call.outcome is not None and "hung up by the other side" in \
        phone.call.outcome


def trunk_up(demo: Demo) -> float | None:
    return metric(demo, 'callbridge_sip_trunk_up{trunk="carrier"}')


async def test_the_trunk_keep_alive_shows_whether_the_carrier_answers(demo: Demo) -> None:
    network = Carrier(Address("127.0.0.1", demo.settings.sip_port, "UDP"), port=demo.settings.carrier_port)
    await network.start()
    try:
        await until(lambda: trunk_up(demo) == 1.0, 10)  # OPTIONS every second here (30 s by default)
    finally:
        await network.stop()
    await until(lambda: trunk_up(demo) == 0.0, 10)  # nobody on the port: the ping fails at once (ICMP)
