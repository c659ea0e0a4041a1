"""Use case 5 on the shipped server with real audio, through the Python SDK: Alice (the organizer) joins her
meeting by the link from her calendar view, Megan by the meeting id and passcode, a guest (a communication
identity) waits in the lobby until Alice admits her; each hears the two others' tones and not its own (FFT).
Alice mutes Megan (out of the mix, and told), hands are raised, dominant speakers arrive, a second guest is
rejected (0/5854), the first removed (0/5300), and Alice ends the meeting for everyone (0/4097). Refusals carry
their codes: a wrong passcode, an unknown meeting, an attendee admitting, a user of a tenant that does not
federate."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from callbridge.carrier.network import Carrier
from callbridge.carrier.phone import PhoneState, VirtualPhone
from callbridge.demo import CUSTOMERS
from callbridge.media.audio import Tone
from callbridge.media.rtp_endpoint import PortRange
from callbridge.sdk import (
    CallClient,
    CallingError,
    CommunicationTokenCredential,
    Features,
    PhoneNumberIdentifier,
    TeamsCall,
    TeamsCallAgent,
    TeamsMeetingIdLocator,
    TeamsMeetingLinkLocator,
    ToneSource,
)
from tests.conftest import Demo
from tests.integration.test_calling_limits import communication_user
from tests.support.carrier import running_carrier
from tests.support.tones import ABSENT_DB, HEARD_DB, tone_db

pytestmark = pytest.mark.skipif(shutil.which("janus") is None, reason="meetings need the conference mixer (janus)")
TONES = {"alice": 440.0, "megan": 1000.0, "guest": 1620.0, "phone": 2100.0}
SUBJECT = "Customer escalation: Adatum"


async def until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


def the_meeting(demo: Demo) -> dict[str, Any]:
    """The event as Alice's calendar view shows it."""
    now = datetime.now(UTC)
    window = {"startDateTime": (now - timedelta(days=1)).isoformat(), "endDateTime": (now + timedelta(days=1))
              .isoformat()}
    with demo.graph("alice") as g:
        events = g.get("/me/calendar/calendarView", params=window).json()["value"]
    return next(e for e in events if e["subject"] == SUBJECT)


async def agent_of(demo: Demo, token: str) -> TeamsCallAgent:
    client = CallClient(demo.base_url, ca_file=demo.ca_file)
    return await client.create_teams_call_agent(CommunicationTokenCredential(token))


@pytest.fixture
async def agents(demo: Demo) -> AsyncIterator[dict[str, TeamsCallAgent]]:
    made = {who: await agent_of(demo, demo.communication_token(who)) for who in ("alice", "megan", "nina")}
    for guest in ("guest", "guest2"):
        made[guest] = await agent_of(demo, communication_user(demo)[1])
    yield made
    for agent in made.values():
        await agent.dispose()


async def levels(calls: dict[str, TeamsCall], phone: VirtualPhone | None = None,
                 seconds: float = 1.0) -> dict[str, dict[str, float]]:
    """For each party (and the phone): the level of every party's tone in what it heard."""
    await until(lambda: all(len(c.media.recorder.chunks) > 25 for c in calls.values()))
    marks = {who: call.media.recorder.mark() for who, call in calls.items()}
    phone_mark = phone.recording.mark() if phone is not None else 0
    await asyncio.sleep(seconds)
    heard = {who: (call.media.recorder.since(marks[who]), call.media.recorder.sample_rate)
             for who, call in calls.items()}
    if phone is not None:
        heard["phone"] = (np.asarray(phone.recording.since(phone_mark), dtype=np.float64), 8000)
    return {who: {talker: tone_db(samples, rate, hz) for talker, hz in TONES.items()}
            for who, (samples, rate) in heard.items()}


def assert_mix(heard: dict[str, dict[str, float]], talking: set[str]) -> None:
    for listener, by_talker in heard.items():
        for talker, db in by_talker.items():
            if talker == listener or talker not in talking:
                assert db < ABSENT_DB, f"{listener} should not hear {talker}: {heard}"
            else:
                assert db > HEARD_DB, f"{listener} should hear {talker}: {heard}"


def guest_raw_id(call: TeamsCall) -> str:
    return call.caller_info.identifier.raw_id


def hears_the_meeting(phone: VirtualPhone) -> bool:
    last = np.asarray(phone.recording.since(max(0, phone.recording.mark() - 10)), dtype=np.float64)
    return len(last) > 0 and tone_db(last, 8000, TONES["alice"]) > HEARD_DB


@pytest.fixture
async def carrier(demo: Demo) -> AsyncIterator[Carrier]:
    """Virtual phones calling in over the demo tenant's trunk ("carrier", admitting 127.0.0.1)."""
    async with running_carrier(demo, PortRange(46_200, 46_399)) as network:
        yield network


def reason(call: TeamsCall) -> tuple[int, int]:
    assert call.call_end_reason is not None
    return call.call_end_reason.code, call.call_end_reason.sub_code


def only_organizer_presents(demo: Demo, join_url: str) -> None:
    """Alice's meeting options through Graph: only she presents (Megan is an attendee)."""
    with demo.graph("alice", ["User.Read", "Calendars.ReadWrite", "OnlineMeetings.ReadWrite"]) as g:
        found = g.get("/me/onlineMeetings", params={"$filter": f"JoinWebUrl eq '{join_url}'"}).json()["value"]
        r = g.patch(f"/me/onlineMeetings/{found[0]['id']}", json={"allowedPresenters": "organizer"})
    assert r.status_code == 200, r.text


async def test_a_meeting_with_lobby_roster_mute_hands_and_end_for_everyone(
        demo: Demo, agents: dict[str, TeamsCallAgent], carrier: Carrier) -> None:
    event = the_meeting(demo)
    link = event["onlineMeeting"]["joinUrl"]
    ids = event["onlineMeeting"]["joinMeetingIdSettings"]
    only_organizer_presents(demo, link)

    alice = await agents["alice"].join(TeamsMeetingLinkLocator(link), audio=ToneSource(TONES["alice"]))
    await alice.wait_for_state("Connected")
    assert alice.role == "Organizer"
    assert alice.feature(Features.CAPABILITIES).capabilities["manageLobby"].is_present
    megan = await agents["megan"].join(TeamsMeetingIdLocator(ids["joinMeetingId"], ids["passcode"]),
                                       audio=ToneSource(TONES["megan"]))
    await megan.wait_for_state("Connected")
    assert megan.role == "Attendee"
    assert not megan.feature(Features.CAPABILITIES).capabilities["manageLobby"].is_present

    lobby_seen: list[Any] = []
    alice.lobby.on("lobby_participants_updated", lobby_seen.append)
    guest = await agents["guest"].join(TeamsMeetingLinkLocator(link), display_name="Pat Guest",
                                       audio=ToneSource(TONES["guest"]))
    await guest.wait_for_state("InLobby")
    await until(lambda: len(alice.lobby.participants) == len(megan.lobby.participants) == 1 and bool(lobby_seen))
    waiting = alice.lobby.participants[0]
    assert waiting.display_name == "Pat Guest" and lobby_seen[0].added == [waiting]
    with pytest.raises(CallingError) as refused:  # an attendee cannot admit
        await megan.lobby.admit(megan.lobby.participants[0])
    assert (refused.value.code, refused.value.sub_code) == (403, 10130)
    await alice.lobby.admit(waiting)
    await guest.wait_for_state("Connected")
    await until(lambda: not alice.lobby.participants)
    names = {p.display_name for p in guest.remote_participants}
    assert names == {"Alice Smith", "Megan Bowen"}  # Teams users are named for everyone
    calls = {"alice": alice, "megan": megan, "guest": guest}
    await until(lambda: all(c.media.pc.connectionState == "connected" for c in calls.values()))
    assert_mix(await levels(calls), {"alice", "megan", "guest"})

    # a phone dials the toll number, types the conference id, waits in the lobby until Alice lets it in
    phone = carrier.phone(CUSTOMERS[0][0])
    phone.source_factory = lambda: Tone(TONES["phone"])
    await phone.dial(demo.settings.meeting_toll_number)
    await until(lambda: phone.state is PhoneState.CONNECTED)
    await phone.send_dtmf(event["onlineMeeting"]["conferenceId"] + "#")
    await until(lambda: len(alice.lobby.participants) == 1)
    dialled_in = alice.lobby.participants[0]
    assert dialled_in.identifier.raw_id == f"4:{CUSTOMERS[0][0]}"  # shown as its number
    await alice.lobby.admit(dialled_in)
    await until(lambda: len(alice.remote_participants) == 3 and dialled_in.state == "Connected")
    await until(lambda: hears_the_meeting(phone), 15)  # after "you are now joining", the phone is in the mix
    assert_mix(await levels(calls, phone, seconds=1.5), set(TONES))

    muted: list[TeamsCall] = []
    megan.on("muted_by_others", muted.append)
    megan_seen_by_alice = next(p for p in alice.remote_participants if p.display_name == "Megan Bowen")
    await megan_seen_by_alice.mute()
    await until(lambda: bool(muted) and megan_seen_by_alice.is_muted)
    assert_mix(await levels(calls, phone), {"alice", "guest", "phone"})  # Megan's tone left everyone's mix
    dominant = alice.feature(Features.DOMINANT_SPEAKERS)  # from the mixer's talking events (each tone is speech)
    await until(lambda: len(dominant.dominant_speakers.speakers_list) >= 2, 10)
    assert {s.raw_id for s in dominant.dominant_speakers.speakers_list} <= {
        f"8:orgid:{demo.user('megan')['id']}", guest_raw_id(guest), f"8:orgid:{demo.user('alice')['id']}"}

    raised: list[Any] = []
    alice.feature(Features.RAISE_HAND).on("raised_hand_event", raised.append)
    await guest.feature(Features.RAISE_HAND).raise_hand()
    await until(lambda: bool(raised))
    assert [h.order for h in alice.feature(Features.RAISE_HAND).get_raised_hands()] == [1]

    second = await agents["guest2"].join(TeamsMeetingLinkLocator(link), display_name="Sam Guest")
    await second.wait_for_state("InLobby")
    await until(lambda: len(alice.lobby.participants) == 1)
    await alice.lobby.reject(alice.lobby.participants[0])
    await second.wait_for_state("Disconnected")
    assert reason(second) == (0, 5854)

    guest_seen_by_alice = next(p for p in alice.remote_participants if p.display_name == "Pat Guest")
    await alice.remove_participant(guest_seen_by_alice)
    await guest.wait_for_state("Disconnected")
    assert reason(guest) == (0, 5300)

    details = await megan.feature(Features.TEAMS_MEETING_AUDIO_CONFERENCING) \
        .get_teams_meeting_audio_conferencing_details()
    assert details.phone_conference_id == event["onlineMeeting"]["conferenceId"]

    await alice.hang_up(for_everyone=True)
    await megan.wait_for_state("Disconnected")
    assert reason(megan) == (0, 4097)
    await until(lambda: phone.state is PhoneState.IDLE)  # the phone got its BYE

    # the meeting record: who joined, from what, when, for how long, and how each left
    with demo.client() as c:
        r = c.get(f"/calling/v1/calls/{alice.id}/participants",
                  headers={"Authorization": f"Bearer {demo.communication_token('megan')}"})
    assert r.status_code == 200, r.text
    record = {p["displayName"]: p for p in r.json()["value"]}
    assert set(record) == {"Alice Smith", "Megan Bowen", "Pat Guest", "Sam Guest", CUSTOMERS[0][0]}
    assert record[CUSTOMERS[0][0]]["client"] == "phone"
    assert record["Alice Smith"]["role"] == "Organizer" and record["Alice Smith"]["client"] == "app"
    assert record["Alice Smith"]["endReason"] == {"code": 0, "subCode": 0}
    assert record["Megan Bowen"]["endReason"] == {"code": 0, "subCode": 4097}
    assert record["Pat Guest"]["endReason"] == {"code": 0, "subCode": 5300}
    assert record["Pat Guest"]["durationSeconds"] > 0
    assert record["Sam Guest"]["joinTime"] is None and record["Sam Guest"]["endReason"]["subCode"] == 5854
    with demo.client() as c:  # not for those who were not in it
        r = c.get(f"/calling/v1/calls/{alice.id}/participants",
                  headers={"Authorization": f"Bearer {demo.communication_token('adele')}"})
    assert r.status_code == 404


async def test_join_refusals_have_their_codes(demo: Demo, agents: dict[str, TeamsCallAgent]) -> None:
    event = the_meeting(demo)
    ids = event["onlineMeeting"]["joinMeetingIdSettings"]
    with pytest.raises(CallingError) as refused:
        await agents["megan"].join(TeamsMeetingIdLocator(ids["joinMeetingId"], "wrong1"))
    assert (refused.value.code, refused.value.sub_code) == (404, 10122)
    unknown = event["onlineMeeting"]["joinUrl"].replace("19%3ameeting_", "19%3ameeting_X")
    with pytest.raises(CallingError) as refused:
        await agents["megan"].join(TeamsMeetingLinkLocator(unknown))
    assert refused.value.code == 404
    with pytest.raises(CallingError) as refused:  # Northwind does not federate with Fabrikam
        await agents["nina"].join(TeamsMeetingLinkLocator(event["onlineMeeting"]["joinUrl"]))
    assert (refused.value.code, refused.value.sub_code) == (403, 5223)
    with pytest.raises(CallingError) as refused:
        foreign = event["onlineMeeting"]["joinUrl"].replace(demo.base_url, "https://teams.elsewhere.example")
        await agents["megan"].join(TeamsMeetingLinkLocator(foreign))
    assert (refused.value.code, refused.value.sub_code) == (400, 10121)


async def test_a_presenter_dials_a_number_into_the_meeting_with_the_organizers_number(
        demo: Demo, agents: dict[str, TeamsCallAgent], carrier: Carrier) -> None:
    """Dial-out from a meeting goes over the tenant's trunk like use case 1, with the organizer's number as caller
    ID whoever adds it (Megan, a presenter here); an attendee may not (addPhoneNumber)."""
    now = datetime.now(UTC)
    window = {"startDateTime": (now - timedelta(days=1)).isoformat(), "endDateTime": (now + timedelta(days=7))
              .isoformat()}
    with demo.graph("alice") as g:
        events = g.get("/me/calendar/calendarView", params=window).json()["value"]
    link = next(e for e in events if e["subject"] == "Quarterly pipeline review")["onlineMeeting"]["joinUrl"]
    alice = await agents["alice"].join(TeamsMeetingLinkLocator(link), audio=ToneSource(TONES["alice"]))
    await alice.wait_for_state("Connected")
    megan = await agents["megan"].join(TeamsMeetingLinkLocator(link), audio=ToneSource(TONES["megan"]))
    await megan.wait_for_state("Connected")
    assert megan.role == "Presenter"
    number = CUSTOMERS[2][0]
    phone = carrier.phone(number)
    phone.source_factory = lambda: Tone(TONES["phone"])
    added = await megan.add_participant(PhoneNumberIdentifier(number))
    await until(lambda: phone.state is PhoneState.RINGING)
    assert phone.call is not None and phone.call.peer == demo.user("alice")["phone_number"]  # the organizer's
    await phone.answer()
    await until(lambda: added.state == "Connected" and hears_the_meeting(phone))
    assert_mix(await levels({"alice": alice, "megan": megan}, phone), {"alice", "megan", "phone"})
    await alice.hang_up(for_everyone=True)
    await until(lambda: phone.state is PhoneState.IDLE)


async def test_the_organizer_changes_who_presents_during_the_meeting(demo: Demo,
                                                                     agents: dict[str, TeamsCallAgent]) -> None:
    """Graph PATCH of allowedPresenters while the meeting is on: Megan's role and capabilities change at once
    (roleChanged, capabilitiesChanged with reason RoleChanged), and Alice sees her new role."""
    now = datetime.now(UTC)
    window = {"startDateTime": (now - timedelta(days=1)).isoformat(), "endDateTime": (now + timedelta(days=7))
              .isoformat()}
    with demo.graph("alice") as g:
        events = g.get("/me/calendar/calendarView", params=window).json()["value"]
    link = next(e for e in events if e["subject"] == "Project kickoff with Contoso")["onlineMeeting"]["joinUrl"]
    alice = await agents["alice"].join(TeamsMeetingLinkLocator(link))
    await alice.wait_for_state("Connected")
    megan = await agents["megan"].join(TeamsMeetingLinkLocator(link))
    await megan.wait_for_state("Connected")
    assert megan.role == "Presenter"
    changes: list[Any] = []
    megan.feature(Features.CAPABILITIES).on("capabilities_changed", changes.append)
    only_organizer_presents(demo, link)
    await until(lambda: megan.role == "Attendee" and bool(changes))
    assert changes[-1]["reason"] == "RoleChanged"
    assert changes[-1]["new_value"]["manageLobby"].is_present is False
    await until(lambda: alice.remote_participants[0].role == "Attendee")
    await alice.hang_up(for_everyone=True)
    await megan.wait_for_state("Disconnected")
