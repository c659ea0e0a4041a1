"""Meetings and group calls in the browser SDK (/sdk/calling.js in Debian's chromium, on the SDK test page), with
Python SDK agents (aiortc) in the same calls and real audio through the conference mixer (Janus):

- Alice, in the browser, joins her meeting by its link and is its organizer; Megan (Python) joins too; a guest
  (Python, a communication identity) waits in the lobby until Alice admits her from the page's lobby panel; the
  page's roster names everyone; the browser's peer connection receives audio (getStats) and Megan hears the
  browser's 750 Hz tone (FFT); the page sees its capabilities, dominant speakers, Megan's raised hand and the
  dial-in details, and Alice mutes Megan from the roster; Alice ends the meeting for everyone (0/4097 for the others).
- Megan, in the browser, calls Alice (Python) and adds Adele (Python) over their group chat: the call moves to
  the mixer (a new media session, answered on a new peer connection) and each Python agent hears the browser;
  and the other way round: Alice (Python) calls the browser and adds Adele, and the browser's call moves too.

The mixer offers ICE candidates on the host's addresses only (Janus does not use loopback), so the Python agents
here gather on them too (this module's ``loopback_ice`` replaces the tier's)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from playwright.async_api import expect

from callbridge.sdk import (
    CallClient,
    CommunicationTokenCredential,
    Features,
    MicrosoftTeamsUserIdentifier,
    TeamsCall,
    TeamsCallAgent,
    TeamsIncomingCall,
    TeamsMeetingLinkLocator,
    ToneSource,
)
from tests.browser.conftest import BROWSER_HZ, PageOf
from tests.browser.test_browser_calling import browser_hears
from tests.conftest import Demo
from tests.integration.test_calling_limits import communication_user
from tests.integration.test_calling_signalling import chat_between
from tests.integration.test_group_calls import group_chat
from tests.integration.test_meetings import the_meeting, until
from tests.support.tones import ABSENT_DB, HEARD_DB, tone_db

pytestmark = [pytest.mark.browser, pytest.mark.skipif(shutil.which("janus") is None,
                                                      reason="meetings need the conference mixer (janus)")]
OpenPage = Callable[[str], Awaitable[PageOf]]
FEATURES = "const { Features } = await import('/sdk/calling.js'); const call = window.callbridgeTest.page.call;"
TONES = {"alice": 440.0, "megan": 1000.0, "adele": 1620.0, "guest": 1620.0}


@pytest.fixture(scope="module", autouse=True)
def loopback_ice() -> Iterator[None]:
    """The Python agents gather on the host's addresses, where the mixer is (it offers no loopback candidate)."""
    yield


async def agent_of(demo: Demo, token: str) -> TeamsCallAgent:
    client = CallClient(demo.base_url, ca_file=demo.ca_file)
    return await client.create_teams_call_agent(CommunicationTokenCredential(token))


@pytest.fixture
async def python_agents(demo: Demo) -> AsyncIterator[Callable[[str], Awaitable[TeamsCallAgent]]]:
    made: list[TeamsCallAgent] = []

    async def make(who: str) -> TeamsCallAgent:
        token = communication_user(demo)[1] if who == "guest" else demo.communication_token(who)
        made.append(await agent_of(demo, token))
        return made[-1]

    yield make
    for agent in made:
        await agent.dispose()


async def hears(call: TeamsCall, hz: float, seconds: float = 1.5) -> float:
    """The level (dB) of a tone at ``hz`` in what the Python agent hears over the next ``seconds``."""
    # the call's media may move to the mixer meanwhile: read its current session each time
    await until(lambda: call.media.pc.connectionState == "connected" and len(call.media.recorder.chunks) > 25)
    recorder = call.media.recorder
    mark = recorder.mark()
    await asyncio.sleep(seconds)
    return tone_db(recorder.since(mark), recorder.sample_rate, hz)


async def hears_the_browser(call: TeamsCall) -> None:
    """The browser's tone, within a few seconds (the browser's session may still be moving to the mixer)."""
    for _ in range(5):
        level = await hears(call, BROWSER_HZ)
        if level > HEARD_DB:
            return
    raise AssertionError(f"the browser's tone is not heard: {level} dB")


def rings(agent: TeamsCallAgent) -> list[TeamsIncomingCall]:
    received: list[TeamsIncomingCall] = []
    agent.on("incoming_call", lambda args: received.append(args.incoming_call))
    return received


async def test_a_meeting_joined_in_the_browser_by_link_with_the_lobby_and_a_python_agent(
        demo: Demo, open_page: OpenPage, python_agents: Callable[[str], Awaitable[TeamsCallAgent]]) -> None:
    event = the_meeting(demo)
    link = event["onlineMeeting"]["joinUrl"]
    alice = await open_page("alice")
    await alice.page.fill("#meeting-link", link)
    await alice.page.click("#join")
    await expect(alice.page.locator("#call-state")).to_have_text("Connected")
    await expect(alice.page.locator("#role")).to_have_text("Organizer")

    megan = await (await python_agents("megan")).join(TeamsMeetingLinkLocator(link),
                                                        audio=ToneSource(TONES["megan"]))
    await megan.wait_for_state("Connected")
    await expect(alice.page.locator("#roster")).to_contain_text("Megan Bowen: Connected")
    guest = await (await python_agents("guest")).join(TeamsMeetingLinkLocator(link), display_name="Pat Guest",
                                                       audio=ToneSource(TONES["guest"]))
    await guest.wait_for_state("InLobby")
    waiting = alice.page.locator("#lobby-list li")
    await expect(waiting).to_have_count(1)
    await expect(waiting).to_contain_text("Pat Guest")
    await alice.page.click("#lobby-list .admit")
    await guest.wait_for_state("Connected")
    await expect(alice.page.locator("#lobby")).to_be_hidden()
    await expect(alice.page.locator("#roster li")).to_have_count(2)
    await expect(alice.page.locator("#roster")).to_contain_text("Pat Guest: Connected")
    assert {p.display_name for p in guest.remote_participants} == {"Alice Smith", "Megan Bowen"}

    stats = await browser_hears(alice, timeout=15)
    assert int(str(stats["packetsReceived"])) > 0, stats
    await hears_the_browser(megan)
    assert await hears(megan, TONES["megan"]) < ABSENT_DB  # the mixer leaves one's own voice out

    # the meeting's features in the browser: capabilities of the organizer, dominant speakers, raised hands,
    # dial-in details; and Alice mutes Megan from the roster
    assert await alice.page.evaluate(f"""async () => {{ {FEATURES}
        return call.feature(Features.Capabilities).capabilities.manageLobby.isPresent; }}""") is True
    await alice.page.wait_for_function(f"""async () => {{ {FEATURES}
        return call.feature(Features.DominantSpeakers).dominantSpeakers.speakersList.length > 0; }}""")
    await alice.page.evaluate(f"""async () => {{ {FEATURES}
        window.raised = new Promise((resolve) => call.feature(Features.RaiseHand)
            .on('raisedHandEvent', ({{ identifier }}) => resolve(identifier.rawId))); }}""")
    await megan.feature(Features.RAISE_HAND).raise_hand()
    assert await alice.page.evaluate("window.raised") == f"8:orgid:{demo.user('megan')['id']}"
    details = await alice.page.evaluate(f"""async () => {{ {FEATURES}
        return call.feature(Features.TeamsMeetingAudioConferencing).getTeamsMeetingAudioConferencingDetails(); }}""")
    assert details["phoneConferenceId"] == event["onlineMeeting"]["conferenceId"], details
    muted: list[TeamsCall] = []
    megan.on("muted_by_others", muted.append)
    await alice.page.locator("#roster li", has_text="Megan Bowen").locator(".mute-participant").click()
    await until(lambda: bool(muted))
    await expect(alice.page.locator("#roster li", has_text="Megan Bowen")).to_contain_text("muted")

    await alice.page.click("#end-for-everyone")
    await expect(alice.page.locator("#call-state")).to_have_text("Disconnected")
    await megan.wait_for_state("Disconnected")
    await guest.wait_for_state("Disconnected")
    assert megan.call_end_reason is not None and (megan.call_end_reason.code, megan.call_end_reason.sub_code) \
        == (0, 4097)
    assert alice.errors == []


async def test_c_a_group_call_made_by_adding_a_participant_from_the_browser(
        demo: Demo, open_page: OpenPage, python_agents: Callable[[str], Awaitable[TeamsCallAgent]]) -> None:
    alice_agent, adele_agent = await python_agents("alice"), await python_agents("adele")
    alice_rings, adele_rings = rings(alice_agent), rings(adele_agent)
    megan = await open_page("megan")
    await megan.page.fill("#target", demo.user("alice")["id"])
    await megan.page.fill("#thread", chat_between(demo, "megan", "alice"))
    await megan.page.click("#call")
    await until(lambda: bool(alice_rings))
    alice = await alice_rings[0].accept(audio=ToneSource(TONES["alice"]))
    await expect(megan.page.locator("#call-state")).to_have_text("Connected")

    await megan.page.fill("#target", demo.user("adele")["id"])
    await megan.page.fill("#thread", group_chat(demo, "megan", "alice", "adele"))
    await megan.page.click("#add")
    await expect(megan.page.locator("#roster")).to_contain_text("Adele")
    await until(lambda: bool(adele_rings))
    assert adele_rings[0].caller_info.display_name == "Megan Bowen"
    adele = await adele_rings[0].accept(audio=ToneSource(TONES["adele"]))
    roster = megan.page.locator("#roster li")
    await expect(roster).to_have_count(2)
    await expect(roster.filter(has_text="Alice Smith: Connected")).to_have_count(1)
    await expect(roster.filter(has_text=": Connected")).to_have_count(2)

    await hears_the_browser(alice)
    await hears_the_browser(adele)
    assert await hears(adele, TONES["alice"]) > HEARD_DB  # and the two Python agents hear each other
    assert (await browser_hears(megan))["packetsReceived"]

    await megan.page.click("#hangup")
    await expect(megan.page.locator("#call-state")).to_have_text("Disconnected")
    await until(lambda: len(alice.remote_participants) == 1)
    await alice.hang_up()
    assert megan.errors == []


async def test_d_the_browsers_1_to_1_call_grows_when_the_other_side_adds_someone(
        demo: Demo, open_page: OpenPage, python_agents: Callable[[str], Awaitable[TeamsCallAgent]]) -> None:
    """The browser answered a 1:1 call (peer to peer); when the caller adds Adele, the mixer offers the browser a
    media session of its own: the browser is heard through it, and its roster grows."""
    alice_agent, adele_agent = await python_agents("alice"), await python_agents("adele")
    adele_rings = rings(adele_agent)
    megan = await open_page("megan")
    alice = await alice_agent.start_call(MicrosoftTeamsUserIdentifier(demo.user("megan")["id"]),
                                         thread_id=chat_between(demo, "alice", "megan"),
                                         audio=ToneSource(TONES["alice"]))
    await megan.page.click("#accept")
    await alice.wait_for_state("Connected")
    await alice.add_participant(MicrosoftTeamsUserIdentifier(demo.user("adele")["id"]),
                                thread_id=group_chat(demo, "alice", "megan", "adele"))
    await until(lambda: bool(adele_rings))
    adele = await adele_rings[0].accept(audio=ToneSource(TONES["adele"]))
    await expect(megan.page.locator("#roster li").filter(has_text=": Connected")).to_have_count(2)
    await expect(megan.page.locator("#roster")).to_contain_text("Adele")
    await hears_the_browser(adele)
    await hears_the_browser(alice)
    await megan.page.click("#hangup")
    await expect(megan.page.locator("#call-state")).to_have_text("Disconnected")
    await alice.hang_up()
    assert megan.errors == []
