"""Use cases 1 and 2 end to end with real SIP and real audio: Python agents (callbridge.sdk, WebRTC) and virtual
phones of the built-in carrier (SIP + RTP G.711) talk through callbridge's trunk side and media gateway. Each
side sends its own tone and hears the other's (FFT); the phone sees the caller's own number; every end is the
documented one, and the call record carries the SIP Call-ID.

Every test runs on both media gateways: the in-process aiortc bridge and an rtpengine daemon (a server each, built
by ``phone_platform``, which the other phone-side test modules use too)."""

from __future__ import annotations

import shutil
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import numpy as np
import pytest

from callbridge.carrier.network import Carrier
from callbridge.carrier.phone import RINGBACK_HZ, AnswerMode, PhoneState, VirtualPhone
from callbridge.demo import CUSTOMERS
from callbridge.media.rtp_endpoint import PortRange
from callbridge.sdk import CallClient, CommunicationTokenCredential, PhoneNumberIdentifier, TeamsCallAgent, ToneSource
from callbridge.sdk.media import dominant_frequency
from tests.conftest import Demo, seeded_platform
from tests.integration.test_calling_audio import collect_incoming, heard, loopback_ice, until
from tests.support.carrier import running_carrier
from tests.support.server import free_sip_port

__all__ = ["loopback_ice"]  # the fixture pins ICE to 127.0.0.1 for this module too

AGENT_HZ, PHONE_HZ = 1000.0, 440.0
CUSTOMER = CUSTOMERS[0][0]
ENGINES = ["aiortc", pytest.param("rtpengine", marks=pytest.mark.skipif(
    shutil.which("rtpengine") is None, reason="rtpengine-daemon is not installed (scripts/system-deps.sh)"))]


@contextmanager
def phone_platform(tmp_path_factory: pytest.TempPathFactory, engine: str, rtp_ports: PortRange,
                   **settings: Any) -> Iterator[Demo]:
    """A seeded server of its own (data directory, HTTPS and SIP ports, RTP ports ``rtp_ports``) on the media
    ``engine``, with the demo trunk "carrier" pointing at its own ``carrier_port`` and admitting 127.0.0.1."""
    values: dict[str, Any] = dict(
        log_level="WARNING", signin_failures_per_user=5, signin_failures_per_address=50, ring_time_s=3.0,
        reconnect_grace_s=2.0, sip_port=free_sip_port(), carrier_port=free_sip_port(), media_engine=engine,
        dead_media_timeout_s=3.0, sip_options_interval_s=1.0, rtp_port_min=rtp_ports.first,
        rtp_port_max=rtp_ports.last, metrics_enabled=True, metrics_port=0)
    with seeded_platform(tmp_path_factory.mktemp(f"callbridge-{engine}"), **{**values, **settings}) as served:
        yield served


@pytest.fixture(scope="module", params=ENGINES)
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """This module's server, once per media engine (it stands in for the session's ``demo``)."""
    with phone_platform(tmp_path_factory, request.param, PortRange(44_000, 44_499)) as server:
        yield server


@pytest.fixture
async def carrier(demo: Demo) -> AsyncIterator[Carrier]:
    async with running_carrier(demo, PortRange(43_000, 43_499)) as network:
        yield network


@pytest.fixture
async def alice(demo: Demo) -> AsyncIterator[TeamsCallAgent]:
    client = CallClient(demo.base_url, ca_file=demo.ca_file)
    agent = await client.create_teams_call_agent(CommunicationTokenCredential(demo.communication_token("alice")))
    yield agent
    await agent.dispose()


async def phone_hears(phone: VirtualPhone, seconds: float = 1.0) -> float:
    mark = phone.recording.mark()
    await until(lambda: len(phone.recording.since(mark)) >= int(8000 * seconds))
    return dominant_frequency(np.asarray(phone.recording.since(mark), dtype=np.float32) / 32768.0, 8000)


def metric(demo: Demo, sample: str) -> float | None:
    """The value of one sample (name and labels as /metrics writes them), None when absent."""
    with httpx.Client(base_url=demo.base_url, verify=ssl.create_default_context(cafile=demo.ca_file)) as c:
        for line in c.get("/metrics").text.splitlines():
            if line.startswith(f"{sample} "):
                return float(line.split()[-1])
    return None


def records(demo: Demo, who: str) -> list[dict[str, object]]:
    token = demo.communication_token(who)
    with httpx.Client(base_url=demo.base_url, verify=ssl.create_default_context(cafile=demo.ca_file)) as c:
        return list(c.get("/calling/v1/calls", headers={"Authorization": f"Bearer {token}"}).json()["value"])


async def test_use_case_1_alice_calls_a_customer_who_sees_her_number(demo: Demo, carrier: Carrier,
                                                                     alice: TeamsCallAgent) -> None:
    samples = ('callbridge_phone_legs_total{direction="out"}',
               'callbridge_calls_ended_total{code="0",sub_code="560000"}')
    before = [metric(demo, sample) or 0.0 for sample in samples]
    phone = carrier.phone(CUSTOMER)
    call = await alice.start_call(PhoneNumberIdentifier(CUSTOMER), audio=ToneSource(AGENT_HZ))
    await until(lambda: phone.state is PhoneState.RINGING)
    assert phone.call is not None and phone.call.peer == demo.user("alice")["phone_number"]
    assert phone.call.peer_name == "Alice Smith"
    await call.wait_for_state("Ringing")

    await phone.answer()
    await call.wait_for_state("Connected")
    frequency, loudness = await heard(call.media.recorder)
    assert abs(frequency - PHONE_HZ) < 15 and loudness > 0.05
    assert abs(await phone_hears(phone) - AGENT_HZ) < 15

    await call.send_dtmf("5")
    await until(lambda: "5" in phone.digits)

    await phone.hang_up()
    await call.wait_for_state("Disconnected")
    assert (call.call_end_reason.code, call.call_end_reason.sub_code) == (0, 560000)  # type: ignore[union-attr]
    [record] = [r for r in records(demo, "alice") if r["callId"] == call.id]
    assert record["callee"] == f"4:{CUSTOMER}" and record["sipCallId"] == phone.call.sip_call_id
    assert record["endReason"] == {"code": 0, "subCode": 560000}
    assert [metric(demo, sample) for sample in samples] == [before[0] + 1, before[1] + 1]  # on /metrics
    assert metric(demo, "callbridge_calls_active") == 0


async def test_early_media_alice_hears_the_ringback_then_the_phone(demo: Demo, carrier: Carrier,
                                                                   alice: TeamsCallAgent) -> None:
    """A 183 with SDP: Alice's call shows EarlyMedia and she hears the network's 425 Hz ringback; the answer
    connects the same media, now the phone's tone both ways."""
    phone = carrier.phone(CUSTOMER)
    phone.early_media = True
    call = await alice.start_call(PhoneNumberIdentifier(CUSTOMER), audio=ToneSource(AGENT_HZ))
    await call.wait_for_state("EarlyMedia")
    frequency, loudness = await heard(call.media.recorder)
    assert abs(frequency - RINGBACK_HZ) < 15 and loudness > 0.05
    await phone.answer()
    await call.wait_for_state("Connected")
    assert abs((await heard(call.media.recorder))[0] - PHONE_HZ) < 15
    assert abs(await phone_hears(phone) - AGENT_HZ) < 15
    await call.hang_up()
    await until(lambda: phone.state is PhoneState.IDLE)


async def test_an_announcement_in_early_media_then_404_ends_404_560404(demo: Demo, carrier: Carrier,
                                                                       alice: TeamsCallAgent) -> None:
    phone = carrier.phone(CUSTOMER)
    phone.early_media = True
    call = await alice.start_call(PhoneNumberIdentifier(CUSTOMER))
    await call.wait_for_state("EarlyMedia")
    assert abs((await heard(call.media.recorder))[0] - RINGBACK_HZ) < 15  # the announcement
    await phone.decline(404)
    await call.wait_for_state("Disconnected")
    assert (call.call_end_reason.code, call.call_end_reason.sub_code) == (404, 560404)  # type: ignore[union-attr]


@pytest.mark.parametrize(("mode", "code", "sub_code"), [(AnswerMode.BUSY, 486, 560486),
                                                        (AnswerMode.DECLINE, 603, 560603),
                                                        (AnswerMode.UNAVAILABLE, 480, 560480),
                                                        (AnswerMode.NO_ANSWER, 408, 560408)])
async def test_a_phone_that_does_not_answer_ends_the_call_with_its_reason(demo: Demo, carrier: Carrier,
                                                                          alice: TeamsCallAgent, mode: AnswerMode,
                                                                          code: int, sub_code: int) -> None:
    """Busy, declined, unavailable, and rung out by the network (408 before callbridge's own ring time)."""
    phone = carrier.phone(CUSTOMER)
    phone.answer_mode, phone.ring_timeout_s = mode, 0.5
    call = await alice.start_call(PhoneNumberIdentifier(CUSTOMER))
    await call.wait_for_state("Disconnected")
    assert (call.call_end_reason.code, call.call_end_reason.sub_code) == (code, sub_code)  # type: ignore[union-attr]
    [record] = [r for r in records(demo, "alice") if r["callId"] == call.id]
    assert record["endReason"] == {"code": code, "subCode": sub_code} and record["connectTime"] is None


async def test_an_unknown_number_at_the_carrier_ends_404_560404(demo: Demo, carrier: Carrier,
                                                                alice: TeamsCallAgent) -> None:
    call = await alice.start_call(PhoneNumberIdentifier("+12065550199"))
    await call.wait_for_state("Disconnected")
    assert (call.call_end_reason.code, call.call_end_reason.sub_code) == (404, 560404)  # type: ignore[union-attr]
    [record] = [r for r in records(demo, "alice") if r["callId"] == call.id]
    assert record["endReason"] == {"code": 404, "subCode": 560404} and record["sipCallId"]


async def test_alice_cancels_while_the_phone_rings(demo: Demo, carrier: Carrier, alice: TeamsCallAgent) -> None:
    phone = carrier.phone(CUSTOMER)
    call = await alice.start_call(PhoneNumberIdentifier(CUSTOMER))
    await until(lambda: phone.state is PhoneState.RINGING)
    await call.hang_up()
    await until(lambda: phone.state is PhoneState.IDLE)
    assert phone.call is not None and phone.call.outcome == "cancelled by the caller"
    assert (call.call_end_reason.code, call.call_end_reason.sub_code) == (0, 0)  # type: ignore[union-attr]
    [record] = [r for r in records(demo, "alice") if r["callId"] == call.id]  # the call's own reason: cancelled
    assert record["endReason"] == {"code": 487, "subCode": 0} and record["connectTime"] is None


async def test_use_case_2_a_customer_calls_alice_and_every_agent_rings(demo: Demo, carrier: Carrier,
                                                                      alice: TeamsCallAgent) -> None:
    client = CallClient(demo.base_url, ca_file=demo.ca_file)
    second = await client.create_teams_call_agent(CommunicationTokenCredential(demo.communication_token("alice")))
    try:
        on_first, on_second = collect_incoming(alice), collect_incoming(second)
        phone = carrier.phone(CUSTOMER)
        await phone.dial(demo.user("alice")["phone_number"])
        await until(lambda: bool(on_first and on_second))
        assert on_first[0].caller_info.identifier.raw_id == f"4:{CUSTOMER}"
        assert on_first[0].caller_info.display_name == CUSTOMERS[0][1]
        await until(lambda: phone.state is PhoneState.RINGBACK)

        ended_elsewhere: list[object] = []
        on_first[0].on("call_ended", lambda args: ended_elsewhere.append(args))
        call = await on_second[0].accept(audio=ToneSource(AGENT_HZ))
        await call.wait_for_state("Connected")
        await until(lambda: phone.state is PhoneState.CONNECTED)
        await until(lambda: bool(ended_elsewhere))
        assert (on_first[0].call_end_reason.code, on_first[0].call_end_reason.sub_code) == (487, 10003)  # type: ignore[union-attr]

        frequency, _ = await heard(call.media.recorder)
        assert abs(frequency - PHONE_HZ) < 15
        assert abs(await phone_hears(phone) - AGENT_HZ) < 15

        await call.hang_up()
        await until(lambda: phone.state is PhoneState.IDLE)
        assert phone.call is not None and phone.call.outcome is not None and "hung up by the other side" in \
            phone.call.outcome
        [record] = [r for r in records(demo, "alice") if r["callId"] == call.id]
        assert (record["direction"], record["caller"], record["sipCallId"]) == (
            "Incoming", f"4:{CUSTOMER}", phone.call.sip_call_id)
        assert record["connectTime"] is not None and record["answeredBy"] == second.agent_id
        assert record["endReason"] == {"code": 0, "subCode": 0}
    finally:
        await second.dispose()


async def test_the_carrier_cancels_and_the_ringing_ends_everywhere(demo: Demo, carrier: Carrier,
                                                                  alice: TeamsCallAgent) -> None:
    incoming = collect_incoming(alice)
    phone = carrier.phone(CUSTOMER)
    await phone.dial(demo.user("alice")["phone_number"])
    await until(lambda: bool(incoming))
    await phone.hang_up()
    await until(lambda: incoming[0].call_end_reason is not None)
    assert (incoming[0].call_end_reason.code, incoming[0].call_end_reason.sub_code) == (487, 0)  # type: ignore[union-attr]
    [record] = [r for r in records(demo, "alice") if r["callId"] == incoming[0].id]
    assert record["endReason"] == {"code": 487, "subCode": 0} and record["connectTime"] is None


async def dial_and_wait(phone: VirtualPhone, number: str) -> str:
    await phone.dial(number)
    await until(lambda: phone.state is PhoneState.IDLE)
    assert phone.call is not None and phone.call.outcome is not None
    return phone.call.outcome


async def test_numbers_nobody_here_has_answer_404(demo: Demo, carrier: Carrier) -> None:
    phone = carrier.phone(CUSTOMER)
    assert (await dial_and_wait(phone, "+14255550199")).startswith("404")
    assert (await dial_and_wait(phone, demo.user("nina")["phone_number"])).startswith("404")  # another tenant's


async def test_an_unlicensed_user_answers_403_and_a_disabled_one_480(demo: Demo, carrier: Carrier) -> None:
    from callbridge.directory import users

    adele, phone = demo.user("adele"), carrier.phone(CUSTOMER)
    await demo.change(lambda s: users.set_licence(s, adele["id"], "TEAMS_PHONE", False))
    try:
        assert (await dial_and_wait(phone, adele["phone_number"])).startswith("403")
        refused = [phone.call.sip_call_id if phone.call else None]
    finally:
        await demo.change(lambda s: users.set_licence(s, adele["id"], "TEAMS_PHONE", True))
    await demo.change(lambda s: users.set_account_enabled(s, adele["id"], False))
    try:
        assert (await dial_and_wait(phone, adele["phone_number"])).startswith("480")
        refused.append(phone.call.sip_call_id if phone.call else None)
    finally:
        await demo.change(lambda s: users.set_account_enabled(s, adele["id"], True))
    kept = {r["sipCallId"]: r for r in records(demo, "adele") if r.get("sipCallId") in refused}
    assert [kept[sip_call_id]["endReason"] for sip_call_id in refused] == [{"code": 403, "subCode": 0},
                                                                           {"code": 480, "subCode": 0}]
    assert {(r["direction"], r["caller"], r["connectTime"]) for r in kept.values()} == {
        ("Incoming", f"4:{CUSTOMER}", None)}


async def test_nobody_online_answers_480(demo: Demo, carrier: Carrier) -> None:
    assert (await dial_and_wait(carrier.phone(CUSTOMER), demo.user("alice")["phone_number"])).startswith("480")


async def test_alice_declines_603_and_an_unanswered_call_gets_480_after_the_ring_time(
        demo: Demo, carrier: Carrier, alice: TeamsCallAgent) -> None:
    incoming = collect_incoming(alice)
    phone = carrier.phone(CUSTOMER)
    await phone.dial(demo.user("alice")["phone_number"])
    await until(lambda: bool(incoming))
    await incoming[0].reject()
    await until(lambda: phone.state is PhoneState.IDLE)
    assert phone.call is not None and phone.call.outcome == "603 Decline"

    assert (await dial_and_wait(phone, demo.user("alice")["phone_number"])).startswith("480")  # ring time: 3 s
    assert (incoming[1].call_end_reason.code, incoming[1].call_end_reason.sub_code) == (487, 10004)  # type: ignore[union-attr]


@pytest.mark.parametrize(("who", "number", "code", "sub_code"), [
    ("alice", "+1 800 FLOWERS", 400, 10114),  # not E.164
    ("megan", CUSTOMER, 403, 10111),  # no Teams Phone licence
])
async def test_calls_the_policy_refuses_never_reach_the_trunk(demo: Demo, carrier: Carrier, who: str, number: str,
                                                             code: int, sub_code: int) -> None:
    from callbridge.sdk import CallingError

    client = CallClient(demo.base_url, ca_file=demo.ca_file)
    agent = await client.create_teams_call_agent(CommunicationTokenCredential(demo.communication_token(who)))
    try:
        with pytest.raises(CallingError) as refused:
            await agent.start_call(PhoneNumberIdentifier(number))
        assert (refused.value.code, refused.value.sub_code) == (code, sub_code)
        assert carrier.phone(CUSTOMER).call is None  # the phone never rang
        [record] = [r for r in records(demo, who) if r["callee"] == f"4:{number}"]  # the refused call is kept
        assert record["direction"] == "Outgoing" and record["connectTime"] is None
        assert record["endReason"] == {"code": code, "subCode": sub_code}
    finally:
        await agent.dispose()
