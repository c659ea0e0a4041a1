"""Real audio between two Python agents through the SDK (aiortc, G.711): each side sends its own tone and hears
the other's (FFT), every endpoint of the callee rings, hold silences both ways and resume brings the tones back,
and the call record says who answered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from callbridge.sdk import (
    CallClient,
    CallingError,
    CommunicationTokenCredential,
    MicrosoftTeamsUserIdentifier,
    Recorder,
    TeamsCallAgent,
    TeamsIncomingCall,
    ToneSource,
    dominant_frequency,
    level,
)
from tests.conftest import Demo
from tests.integration.test_calling_signalling import chat_between
from tests.support.ice import loopback_ice  # noqa: F401 - the module's autouse fixture

ALICE_HZ, MEGAN_HZ = 440.0, 1000.0



async def until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


async def heard(recorder: Recorder, frames: int = 50) -> tuple[float, float]:
    """(dominant frequency, level) of the next ``frames`` frames the recorder receives."""
    mark = recorder.mark()
    await until(lambda: len(recorder.chunks) >= mark + frames)
    samples = recorder.since(mark)
    return dominant_frequency(samples, recorder.sample_rate), level(samples)


@pytest.fixture
async def agents(demo: Demo) -> AsyncIterator[dict[str, TeamsCallAgent]]:
    made = {}
    for name, who in (("alice", "alice"), ("megan_tab", "megan"), ("megan_phone", "megan")):
        client = CallClient(demo.base_url, ca_file=demo.ca_file)  # a tab or a device: a client each
        made[name] = await client.create_teams_call_agent(CommunicationTokenCredential(
            demo.communication_token(who)))
    yield made
    for agent in made.values():
        await agent.dispose()


def collect_incoming(agent: TeamsCallAgent) -> list[TeamsIncomingCall]:
    received: list[TeamsIncomingCall] = []
    agent.on("incoming_call", lambda args: received.append(args.incoming_call))
    return received


async def test_two_way_audio_forking_hold_and_call_record(demo: Demo, agents: dict[str, TeamsCallAgent]) -> None:
    tab, phone = collect_incoming(agents["megan_tab"]), collect_incoming(agents["megan_phone"])
    megan_id = demo.user("megan")["id"]
    call = await agents["alice"].start_call(MicrosoftTeamsUserIdentifier(megan_id),
                                            thread_id=chat_between(demo, "alice", "megan"),
                                            audio=ToneSource(ALICE_HZ))
    await until(lambda: bool(tab) and bool(phone))
    assert tab[0].caller_info.display_name == "Alice Smith"
    assert tab[0].caller_info.identifier == MicrosoftTeamsUserIdentifier(demo.user("alice")["id"])
    ended: list[TeamsIncomingCall] = []
    phone[0].on("call_ended", ended.append)
    answered = await tab[0].accept(audio=ToneSource(MEGAN_HZ))
    await until(lambda: bool(ended))
    assert (ended[0].call_end_reason.code, ended[0].call_end_reason.sub_code) == (487, 10003)
    await call.wait_for_state("Connected")
    assert call.remote_participants[0].display_name == "Megan Bowen"

    alice_hears, _ = await heard(call.media.recorder)
    megan_hears, _ = await heard(answered.media.recorder)
    assert abs(alice_hears - MEGAN_HZ) < 15 and abs(megan_hears - ALICE_HZ) < 15

    await call.hold()
    await answered.wait_for_state("RemoteHold")
    await heard(call.media.recorder, 10)  # let frames in flight drain
    assert (await heard(call.media.recorder))[1] < 0.01 and (await heard(answered.media.recorder))[1] < 0.01
    await call.resume()
    await answered.wait_for_state("Connected")
    await heard(call.media.recorder, 10)
    assert abs((await heard(call.media.recorder))[0] - MEGAN_HZ) < 15
    assert abs((await heard(answered.media.recorder))[0] - ALICE_HZ) < 15

    dtmf: list[str] = []
    answered.on("dtmf_received", dtmf.append)
    await call.send_dtmf("7")
    await until(lambda: dtmf == ["7"])
    await answered.hang_up()
    await call.wait_for_state("Disconnected")
    assert (call.call_end_reason.code, call.call_end_reason.sub_code) == (0, 0)
    token = demo.communication_token("alice")
    with demo.client() as c:
        records = c.get("/calling/v1/calls", headers={"Authorization": f"Bearer {token}"}).json()["value"]
    record = next(r for r in records if r["callId"] == call.id)
    assert record["answeredBy"] == agents["megan_tab"].agent_id and record["endReason"] == {"code": 0, "subCode": 0}


async def test_declined_and_refused_calls_through_the_sdk(demo: Demo, agents: dict[str, TeamsCallAgent]) -> None:
    tab, phone = collect_incoming(agents["megan_tab"]), collect_incoming(agents["megan_phone"])
    call = await agents["alice"].start_call(MicrosoftTeamsUserIdentifier(demo.user("megan")["id"]),
                                            thread_id=chat_between(demo, "alice", "megan"))
    await until(lambda: bool(tab) and bool(phone))
    await tab[0].reject()
    await phone[0].reject()
    await call.wait_for(lambda: call.state == "Disconnected")
    assert (call.call_end_reason.code, call.call_end_reason.sub_code) == (603, 0)
    with pytest.raises(CallingError) as refused:
        await agents["alice"].start_call(MicrosoftTeamsUserIdentifier(demo.user("megan")["id"]), thread_id=None)
    assert (refused.value.code, refused.value.sub_code) == (400, 10101)


async def test_a_second_agent_for_one_identity_on_one_client_is_refused(demo: Demo) -> None:
    client = CallClient(demo.base_url, ca_file=demo.ca_file)
    token = demo.communication_token("lee")
    first = await client.create_teams_call_agent(CommunicationTokenCredential(token))
    try:
        with pytest.raises(CallingError) as second:
            await client.create_teams_call_agent(CommunicationTokenCredential(token))
        assert (second.value.code, second.value.sub_code) == (409, 40230)
    finally:
        await first.dispose()
