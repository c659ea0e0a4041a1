"""Phones in group calls, end to end with real SIP and real audio: a 1:1 call between Alice and a customer's phone
becomes three-way when Alice adds Megan (the phone is re-invited straight to the conference mixer, the media
gateway steps aside), and a 1:1 call between Alice and Megan becomes three-way when Alice adds a phone number (the
call dials it over the tenant's trunk with Alice's number, the INVITE carrying the mixer's plain RTP). Everyone
hears the two others and not itself (FFT: the agents' recordings, the phone's own). On both media gateways."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest

from callbridge.carrier.network import Carrier
from callbridge.carrier.phone import PhoneState, VirtualPhone
from callbridge.demo import CUSTOMERS
from callbridge.media.audio import Tone
from callbridge.media.rtp_endpoint import PortRange
from callbridge.sdk import (
    CallClient,
    CommunicationTokenCredential,
    MicrosoftTeamsUserIdentifier,
    PhoneNumberIdentifier,
    TeamsCall,
    TeamsCallAgent,
    ToneSource,
)
from tests.conftest import Demo
from tests.integration.test_calling_signalling import chat_between
from tests.integration.test_group_calls import incoming, until
from tests.integration.test_pstn_calls import ENGINES, phone_platform
from tests.support.carrier import running_carrier
from tests.support.tones import ABSENT_DB, HEARD_DB, tone_db

pytestmark = pytest.mark.skipif(shutil.which("janus") is None, reason="group calls need the mixer (janus)")
TONES = {"alice": 440.0, "megan": 1000.0, "phone": 1620.0}


@pytest.fixture(scope="module", params=ENGINES)
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with phone_platform(tmp_path_factory, request.param, PortRange(45_600, 45_999)) as server:
        yield server


@pytest.fixture
async def carrier(demo: Demo) -> AsyncIterator[Carrier]:
    async with running_carrier(demo, PortRange(46_000, 46_199)) as network:
        yield network


@pytest.fixture
async def agents(demo: Demo) -> AsyncIterator[dict[str, TeamsCallAgent]]:
    made = {}
    for who in ("alice", "megan"):
        client = CallClient(demo.base_url, ca_file=demo.ca_file)
        made[who] = await client.create_teams_call_agent(CommunicationTokenCredential(demo.communication_token(who)))
    yield made
    for agent in made.values():
        await agent.dispose()


async def three_way(calls: dict[str, TeamsCall], phone: VirtualPhone, seconds: float = 1.0) -> None:
    """Each party hears the two others' tones and not its own."""
    await until(lambda: all(len(c.media.recorder.chunks) > 25 for c in calls.values()))
    marks = {who: call.media.recorder.mark() for who, call in calls.items()}
    phone_mark = phone.recording.mark()
    await asyncio.sleep(seconds)
    heard = {who: (call.media.recorder.since(marks[who]), call.media.recorder.sample_rate)
             for who, call in calls.items()}
    heard["phone"] = (np.asarray(phone.recording.since(phone_mark), dtype=np.float64), 8000)
    levels = {who: {talker: tone_db(samples, rate, hz) for talker, hz in TONES.items()}
              for who, (samples, rate) in heard.items()}
    for listener, by_talker in levels.items():
        for talker, db in by_talker.items():
            if talker == listener:
                assert db < ABSENT_DB, f"{listener} should not hear itself: {levels}"
            else:
                assert db > HEARD_DB, f"{listener} should hear {talker}: {levels}"


async def test_a_call_with_a_phone_becomes_three_way_when_a_colleague_is_added(
        demo: Demo, carrier: Carrier, agents: dict[str, TeamsCallAgent]) -> None:
    number, _ = CUSTOMERS[0]
    phone = carrier.phone(number)
    phone.source_factory = lambda: Tone(TONES["phone"])
    megan_rings = incoming(agents["megan"])
    alice = await agents["alice"].start_call(PhoneNumberIdentifier(number), audio=ToneSource(TONES["alice"]))
    await until(lambda: phone.state is PhoneState.RINGING)
    await phone.answer()
    await alice.wait_for_state("Connected")

    await alice.add_participant(MicrosoftTeamsUserIdentifier(demo.user("megan")["id"]),
                                thread_id=chat_between(demo, "alice", "megan"))
    await until(lambda: bool(megan_rings))
    megan = await megan_rings[0].accept(audio=ToneSource(TONES["megan"]))
    await until(lambda: len(alice.remote_participants) == 2 and len(megan.remote_participants) == 2)
    await three_way({"alice": alice, "megan": megan}, phone)

    await phone.hang_up()  # the phone leaves: Alice and Megan go on
    await until(lambda: len(alice.remote_participants) == 1)
    assert alice.state == megan.state == "Connected"
    await alice.hang_up()
    await megan.wait_for_state("Disconnected")


async def test_a_colleague_call_becomes_three_way_when_a_number_is_added(
        demo: Demo, carrier: Carrier, agents: dict[str, TeamsCallAgent]) -> None:
    number, _ = CUSTOMERS[1]
    phone = carrier.phone(number)
    phone.source_factory = lambda: Tone(TONES["phone"])
    megan_rings = incoming(agents["megan"])
    alice = await agents["alice"].start_call(MicrosoftTeamsUserIdentifier(demo.user("megan")["id"]),
                                             thread_id=chat_between(demo, "alice", "megan"),
                                             audio=ToneSource(TONES["alice"]))
    await until(lambda: bool(megan_rings))
    megan = await megan_rings[0].accept(audio=ToneSource(TONES["megan"]))
    await alice.wait_for_state("Connected")

    added = await alice.add_participant(PhoneNumberIdentifier(number))
    await until(lambda: phone.state is PhoneState.RINGING)
    assert phone.call is not None and phone.call.peer == demo.user("alice")["phone_number"]  # her own number
    await until(lambda: added.state == "Ringing")
    await phone.answer()
    await until(lambda: added.state == "Connected")
    await three_way({"alice": alice, "megan": megan}, phone)

    await alice.hang_up(for_everyone=True)
    await megan.wait_for_state("Disconnected")
    await until(lambda: phone.state is PhoneState.IDLE)
