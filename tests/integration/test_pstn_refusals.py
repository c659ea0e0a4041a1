"""What the phone side refuses, and how fast: offers bigger than one call needs (from an agent, from a trunk) are
refused before the media gateway allocates anything; a phone leg that fails inside callbridge ends the caller's
call at once with 503/560503 and a call record; an INVITE without SDP (a late offer) gets 488 with a Warning.

Every test runs on both media gateways (aiortc in process, and rtpengine, whose ports are the ones an offer of
many m-lines would hold)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from callbridge.carrier.network import Carrier
from callbridge.carrier.phone import PhoneState
from callbridge.media.errors import EngineUnavailable
from callbridge.media.rtp_endpoint import PortRange
from callbridge.sdk import PhoneNumberIdentifier, TeamsCallAgent, ToneSource
from callbridge.sip.offer_answer import build_offer
from tests.conftest import Demo
from tests.integration.test_calling_audio import loopback_ice, until
from tests.integration.test_calling_signalling import Agent
from tests.integration.test_pstn_abuse import raw_sip, request
from tests.integration.test_pstn_calls import (
    AGENT_HZ,
    CUSTOMER,
    ENGINES,
    alice,
    carrier,
    metric,
    phone_platform,
    records,
)

__all__ = ["alice", "carrier", "loopback_ice"]

LEGS_OUT = 'callbridge_phone_legs_total{direction="out"}'
LEGS_IN = 'callbridge_phone_legs_total{direction="in"}'


@pytest.fixture(scope="module", params=ENGINES)
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """A server of this module's own, once per media engine; calls ring long (30 s), so an end within a second or
    two is the failure's, not the ring time's."""
    with phone_platform(tmp_path_factory, request.param, PortRange(45_600, 45_799), ring_time_s=30.0) as server:
        yield server


def many_streams(count: int = 124) -> str:
    """A plain offer of one audio stream, then ``count - 1`` more audio streams (each would hold RTP ports)."""
    offer = str(build_offer("127.0.0.1", 49_170))
    return offer + "".join(f"m=audio {49_172 + 2 * i} RTP/AVP 0 8\r\n" for i in range(count - 1))


# -- 1. offers bigger than a call needs -------------------------------------------------------------------------
async def test_an_agents_offer_of_124_streams_is_refused_before_any_media_is_allocated(demo: Demo,
                                                                                      carrier: Carrier) -> None:
    before = metric(demo, LEGS_OUT) or 0.0
    agent = await Agent.connect(demo, demo.communication_token("alice"))
    try:
        request_id = uuid.uuid4().hex
        await agent.send({"type": "call.start", "requestId": request_id, "target": {"rawId": f"4:{CUSTOMER}"},
                          "sdp": many_streams()})
        error = await agent.next("error", requestId=request_id)
        assert (error["code"], error["subCode"]) == (488, 10115)
    finally:
        await agent.close()
    assert (metric(demo, LEGS_OUT) or 0.0) == before  # no phone leg, so no media session was asked for
    assert carrier.phone(CUSTOMER).state is PhoneState.IDLE
    [record] = [r for r in records(demo, "alice") if r["callee"] == f"4:{CUSTOMER}"
                and r["endReason"] == {"code": 488, "subCode": 10115}][:1]
    assert record["connectTime"] is None


@pytest.mark.parametrize("sdp, warning", [(many_streams(), "304"), (many_streams(2), "304"),
                                          (str(build_offer("127.0.0.1", 49_170)).replace(
                                              "m=audio 49170 RTP/AVP 0 8 101",
                                              "m=audio 49170 RTP/AVP " + " ".join(map(str, range(96, 128)))
                                              + " 0 8 101"), "305")])
async def test_a_trunks_invite_with_more_than_a_call_needs_gets_488_and_allocates_nothing(demo: Demo, sdp: str,
                                                                                         warning: str) -> None:
    before = metric(demo, LEGS_IN) or 0.0
    async with raw_sip(demo) as peer:
        call_id, invite = request(peer, "INVITE", demo.user("alice")["phone_number"], body=sdp)
        peer.send(invite)
        final = await peer.final(call_id)
    assert final.status == 488
    assert (final.header("Warning") or "").startswith(f"{warning} ")
    assert (metric(demo, LEGS_IN) or 0.0) == before


async def test_a_normal_call_still_works_after_refused_offers(demo: Demo, carrier: Carrier,
                                                               alice: TeamsCallAgent) -> None:
    async with raw_sip(demo) as peer:
        for _ in range(5):
            call_id, invite = request(peer, "INVITE", demo.user("alice")["phone_number"], body=many_streams())
            peer.send(invite)
            assert (await peer.final(call_id)).status == 488
    call = await alice.start_call(PhoneNumberIdentifier(CUSTOMER), audio=ToneSource(AGENT_HZ))
    phone = carrier.phone(CUSTOMER)
    await until(lambda: phone.state is PhoneState.RINGING)
    await phone.answer()
    await call.wait_for_state("Connected")
    await call.hang_up()
    await until(lambda: phone.state is PhoneState.IDLE)


# -- 2. a leg that fails inside callbridge ---------------------------------------------------------------------
def _gateway_down(bridge: Any) -> None:
    async def offer(*args: Any, **kwargs: Any) -> str:
        raise EngineUnavailable("rtpengine did not answer")

    bridge.media.offer = offer


def _invite_breaks(bridge: Any) -> None:
    async def invite(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug while building the INVITE")

    bridge._invite = invite


@pytest.mark.parametrize("failure", [_gateway_down, _invite_breaks], ids=["gateway down", "bug"])
async def test_a_leg_failing_inside_callbridge_ends_the_call_at_once_with_503(demo: Demo, carrier: Carrier,
                                                                              alice: TeamsCallAgent,
                                                                              failure: Any) -> None:
    bridge: Any = demo.platform.calling.phones
    failure(bridge)
    try:
        started = time.monotonic()
        call = await alice.start_call(PhoneNumberIdentifier(CUSTOMER), audio=ToneSource(AGENT_HZ))
        await asyncio.wait_for(call.wait_for_state("Disconnected"), 2.0)
        assert time.monotonic() - started < 2.0
    finally:
        vars(bridge).pop("_invite", None)
        vars(bridge.media).pop("offer", None)
    assert call.call_end_reason is not None
    assert (call.call_end_reason.code, call.call_end_reason.sub_code) == (503, 560503)
    [record] = [r for r in records(demo, "alice") if r["callId"] == call.id]
    assert record["endReason"] == {"code": 503, "subCode": 560503}
    assert carrier.phone(CUSTOMER).state is PhoneState.IDLE


async def test_a_call_from_a_phone_failing_inside_callbridge_gets_503_at_once(demo: Demo) -> None:
    bridge: Any = demo.platform.calling.phones
    _gateway_down(bridge)
    try:
        async with raw_sip(demo) as peer:
            call_id, invite = request(peer, "INVITE", demo.user("alice")["phone_number"],
                                      body=str(build_offer("127.0.0.1", 49_170)))
            peer.send(invite)
            final = await peer.final(call_id, timeout=2.0)
    finally:
        vars(bridge.media).pop("offer", None)
    assert (final.status, final.reason) == (503, "Service Unavailable")


# -- 5. a late offer -------------------------------------------------------------------------------------------
async def test_an_invite_without_sdp_gets_488_with_a_warning_not_500(demo: Demo) -> None:
    async with raw_sip(demo) as peer:
        call_id, invite = request(peer, "INVITE", demo.user("alice")["phone_number"])
        peer.send(invite)
        final = await peer.final(call_id)
    assert (final.status, final.reason) == (488, "Not Acceptable Here")
    assert (final.header("Warning") or "").startswith("399 ")
