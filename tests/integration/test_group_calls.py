"""Group calls on the shipped server with real audio: Alice and Megan talk 1:1 (peer to peer), Alice adds Adele
over their group chat's thread, and the call's media moves to the conference mixer (Janus): each of the three
hears the two others' tones and not its own (FFT). The mixer offers ICE candidates on the host's addresses
only (Janus does not use loopback), so these agents gather on them too. Adele leaving leaves Alice and Megan
talking; removing Megan ends her 0/5300 and then the call, as nobody is left to talk to."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from callbridge.sdk import (
    CallClient,
    CallingError,
    CommunicationTokenCredential,
    MicrosoftTeamsUserIdentifier,
    PhoneNumberIdentifier,
    TeamsCall,
    TeamsCallAgent,
    TeamsIncomingCall,
    TeamsMeetingLinkLocator,
    ToneSource,
)
from tests.conftest import Demo, seeded_platform
from tests.integration.test_calling_signalling import chat_between
from tests.support.tones import ABSENT_DB, HEARD_DB, tone_db

pytestmark = pytest.mark.skipif(shutil.which("janus") is None, reason="the conference mixer needs janus")
TONES = {"alice": 440.0, "megan": 1000.0, "adele": 1620.0}


async def until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


@pytest.fixture
async def agents(demo: Demo) -> AsyncIterator[dict[str, TeamsCallAgent]]:
    made = {}
    for who in TONES:
        client = CallClient(demo.base_url, ca_file=demo.ca_file)
        made[who] = await client.create_teams_call_agent(CommunicationTokenCredential(demo.communication_token(who)))
    yield made
    for agent in made.values():
        await agent.dispose()


def group_chat(demo: Demo, *members: str) -> str:
    with demo.graph(members[0]) as g:
        r = g.post("/chats", json={"chatType": "group", "topic": "Escalation", "members": [
            {"user@odata.bind": f"https://graph.microsoft.com/v1.0/users('{demo.user(x)['id']}')"}
            for x in members]})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def incoming(agent: TeamsCallAgent) -> list[TeamsIncomingCall]:
    received: list[TeamsIncomingCall] = []
    agent.on("incoming_call", lambda args: received.append(args.incoming_call))
    return received


async def levels(calls: dict[str, TeamsCall], seconds: float = 1.0) -> dict[str, dict[str, float]]:
    """For each party: the level (dB) of every party's tone in what it heard over the next ``seconds``."""
    await until(lambda: all(len(c.media.recorder.chunks) > 25 for c in calls.values()))
    marks = {who: call.media.recorder.mark() for who, call in calls.items()}
    await asyncio.sleep(seconds)
    out = {}
    for who, call in calls.items():
        recorder = call.media.recorder
        samples = recorder.since(marks[who])
        out[who] = {talker: tone_db(samples, recorder.sample_rate, hz) for talker, hz in TONES.items()}
    return out


def assert_mix(heard: dict[str, dict[str, float]], present: set[str]) -> None:
    for listener in present:
        for talker, db in heard[listener].items():
            if talker == listener or talker not in present:
                assert db < ABSENT_DB, f"{listener} should not hear {talker}: {heard}"
            else:
                assert db > HEARD_DB, f"{listener} should hear {talker}: {heard}"


async def test_a_1_to_1_call_becomes_three_way_with_a_teams_user(demo: Demo,
                                                                 agents: dict[str, TeamsCallAgent]) -> None:
    megan_rings, adele_rings = incoming(agents["megan"]), incoming(agents["adele"])
    alice = await agents["alice"].start_call(MicrosoftTeamsUserIdentifier(demo.user("megan")["id"]),
                                             thread_id=chat_between(demo, "alice", "megan"),
                                             audio=ToneSource(TONES["alice"]))
    await until(lambda: bool(megan_rings))
    megan = await megan_rings[0].accept(audio=ToneSource(TONES["megan"]))
    await alice.wait_for_state("Connected")
    first_session = alice.media

    added = await alice.add_participant(MicrosoftTeamsUserIdentifier(demo.user("adele")["id"]),
                                        thread_id=group_chat(demo, "alice", "megan", "adele"))
    assert added.state in ("Connecting", "Ringing") and added.participant_id
    await until(lambda: bool(adele_rings))
    assert adele_rings[0].caller_info.display_name == "Alice Smith"
    adele = await adele_rings[0].accept(audio=ToneSource(TONES["adele"]))
    calls = {"alice": alice, "megan": megan, "adele": adele}
    await until(lambda: all(len(c.remote_participants) == 2 for c in calls.values()))
    await until(lambda: alice.media is not first_session and megan.media.pc.connectionState == "connected")
    assert {p.display_name for p in adele.remote_participants} == {"Alice Smith", "Megan Bowen"}
    assert alice.state == megan.state == adele.state == "Connected"
    assert_mix(await levels(calls), set(TONES))

    await adele.hang_up()
    await until(lambda: len(alice.remote_participants) == 1 and len(megan.remote_participants) == 1)
    assert alice.state == megan.state == "Connected"  # the two others go on, in the mixer
    assert_mix(await levels({"alice": alice, "megan": megan}), {"alice", "megan"})

    await alice.remove_participant(alice.remote_participants[0])
    await megan.wait_for_state("Disconnected")
    assert (megan.call_end_reason.code, megan.call_end_reason.sub_code) == (0, 5300)
    await alice.wait_for_state("Disconnected")  # nobody left to talk to


async def test_adding_refusals_have_their_codes(demo: Demo, agents: dict[str, TeamsCallAgent]) -> None:
    megan_rings = incoming(agents["megan"])
    alice = await agents["alice"].start_call(MicrosoftTeamsUserIdentifier(demo.user("megan")["id"]),
                                             thread_id=chat_between(demo, "alice", "megan"))
    await until(lambda: bool(megan_rings))
    megan = await megan_rings[0].accept()
    with pytest.raises(CallingError) as refused:  # Adele is not in the 1:1 chat's thread
        await alice.add_participant(MicrosoftTeamsUserIdentifier(demo.user("adele")["id"]),
                                    thread_id=chat_between(demo, "alice", "megan"))
    assert (refused.value.code, refused.value.sub_code) == (400, 10101)
    with pytest.raises(CallingError) as refused:  # already in the call
        await alice.add_participant(MicrosoftTeamsUserIdentifier(demo.user("megan")["id"]),
                                    thread_id=chat_between(demo, "alice", "megan"))
    assert (refused.value.code, refused.value.sub_code) == (400, 10141)
    with pytest.raises(CallingError) as refused:  # not a number
        await alice.add_participant(PhoneNumberIdentifier("+1 425 555"))
    assert refused.value.code == 400
    assert alice.state == megan.state == "Connected" and len(alice.remote_participants) == 1
    await alice.hang_up()


@pytest.fixture
def no_mixer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with seeded_platform(tmp_path_factory.mktemp("no-mixer"), conference_engine="none", sip_enabled=False,
                         log_level="WARNING") as served:
        yield served


async def test_without_the_mixer_group_calls_and_meetings_are_refused_clearly(no_mixer: Demo) -> None:
    """No Janus (conference_engine none, as when the package is missing): 503/10144 in words, calls unharmed."""
    demo = no_mixer
    made = {who: await CallClient(demo.base_url, ca_file=demo.ca_file).create_teams_call_agent(
        CommunicationTokenCredential(demo.communication_token(who))) for who in ("alice", "megan")}
    try:
        megan_rings = incoming(made["megan"])
        alice = await made["alice"].start_call(MicrosoftTeamsUserIdentifier(demo.user("megan")["id"]),
                                               thread_id=chat_between(demo, "alice", "megan"))
        await until(lambda: bool(megan_rings))
        await megan_rings[0].accept()
        await alice.wait_for_state("Connected")
        with pytest.raises(CallingError) as refused:
            await alice.add_participant(PhoneNumberIdentifier("+14255550123"))
        assert (refused.value.code, refused.value.sub_code) == (503, 10144)
        assert "mixer" in str(refused.value) and alice.state == "Connected"
        now = datetime.now(UTC)
        window = {"startDateTime": (now - timedelta(days=1)).isoformat(),
                  "endDateTime": (now + timedelta(days=1)).isoformat()}
        with demo.graph("alice") as g:
            events = g.get("/me/calendar/calendarView", params=window).json()["value"]
        link = next(e for e in events if e.get("onlineMeeting"))["onlineMeeting"]["joinUrl"]
        with pytest.raises(CallingError) as refused:
            await made["megan"].join(TeamsMeetingLinkLocator(link))
        assert (refused.value.code, refused.value.sub_code) == (503, 10144)
        await alice.hang_up()
    finally:
        for agent in made.values():
            await agent.dispose()
