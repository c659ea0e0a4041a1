"""A web app written for ACS runs unchanged on callbridge: the soft phone of tests/interop/node-types/app (written
against `@azure/communication-calling` 2.0.0 and `@azure/communication-common`, compiled by tsc against ACS's own
declarations) runs in Debian's chromium with an import map that resolves both package names to callbridge's
/sdk/calling.js, and nothing else changed. Two tabs of it call each other as Teams users (placed, rung, answered,
held, resumed, a tone sent, hung up), and one calls a customer's phone and is called by one, through the built-in
carrier: `startCall` hands back the call at once, audio arrives (the peer connection's getStats: inbound packets
and audio energy), refusals (a meeting link of another deployment among them) surface through the call's state
and `callEndReason`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Route

from callbridge.demo import CUSTOMERS
from tests.browser.conftest import TIMEOUT_MS
from tests.conftest import Demo
from tests.integration.test_calling_signalling import chat_between
from tests.integration.test_carrier_api import api, carrier_demo, wait_for_phone
from tests.interop.test_sdk_types import NODE_DIR, compile_to_js

__all__ = ["carrier_demo"]

pytestmark = pytest.mark.browser

CUSTOMER, CUSTOMER_NAME = CUSTOMERS[2]

# The app's page: the compiled app, the import map (the one change from an ACS deployment), and a record of the
# page's peer connections for the test to read their statistics (the app itself does not look at them).
HARNESS = """<!doctype html>
<meta charset="utf-8"><title>An ACS app on callbridge</title>
<script>
  window.peerConnections = [];
  const NativePeerConnection = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends NativePeerConnection {
    constructor(...args) { super(...args); window.peerConnections.push(this); }
  };
</script>
<script type="importmap">
  {"imports": {"@azure/communication-calling": "/sdk/calling.js", "@azure/communication-common": "/sdk/calling.js"}}
</script>
<script type="module">
  import { SoftPhone } from './softphone.js';
  window.SoftPhone = SoftPhone;
</script>
"""

INBOUND_AUDIO = """async () => {
  const pc = window.peerConnections.at(-1);
  if (!pc) return null;
  const stats = [...(await pc.getStats()).values()];
  const inbound = stats.find((s) => s.type === 'inbound-rtp' && s.kind === 'audio');
  if (!inbound) return null;
  return { packetsReceived: inbound.packetsReceived, totalAudioEnergy: inbound.totalAudioEnergy ?? 0,
           codec: stats.find((s) => s.id === inbound.codecId)?.mimeType };
}"""

OpenApp = Callable[[str], Awaitable[Page]]


@pytest.fixture
def demo(carrier_demo: Demo) -> Demo:
    """The app opens on the server that runs the carrier."""
    return carrier_demo


@pytest.fixture(scope="module")
def compiled_app(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return compile_to_js(NODE_DIR / "app" / "softphone.ts", tmp_path_factory.mktemp("acs-app")).read_bytes()


@pytest.fixture
async def open_app(demo: Demo, browser: Browser, compiled_app: bytes) -> AsyncIterator[OpenApp]:
    """``await open_app("alice")``: a tab of the app, signed in as ``who`` (``window.phone``)."""
    contexts = []

    async def serve(route: Route) -> None:
        if route.request.url.endswith("/softphone.js"):
            await route.fulfill(body=compiled_app, content_type="text/javascript")
        else:
            await route.fulfill(body=HARNESS, content_type="text/html")

    async def open_as(who: str) -> Page:
        context = await browser.new_context(ignore_https_errors=True)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        await context.route(f"{demo.base_url}/acs-app/**", serve)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{demo.base_url}/acs-app/index.html")
        await page.wait_for_function("window.SoftPhone !== undefined")
        await page.evaluate("async (token) => { window.phone = await window.SoftPhone.signIn(token); }",
                            demo.communication_token(who))
        page.errors = errors  # type: ignore[attr-defined]
        return page

    yield open_as
    for context in contexts:
        await context.close()


async def view(page: Page) -> dict[str, Any]:
    return dict(await page.evaluate("window.phone.view()"))


async def until_state(page: Page, state: str) -> dict[str, Any]:
    await page.wait_for_function("(state) => window.phone.view()?.state === state", arg=state)
    return await view(page)


async def hears(page: Page, timeout: float = 10.0) -> dict[str, Any]:
    """The call's inbound audio once packets with sound in them have arrived (getStats, polled)."""
    deadline = time.monotonic() + timeout
    while True:
        stats = await page.evaluate(INBOUND_AUDIO)
        if stats and stats["packetsReceived"] > 0 and stats["totalAudioEnergy"] > 0:
            return dict(stats)
        assert time.monotonic() < deadline, f"no inbound audio: {stats}"
        await asyncio.sleep(0.1)


async def test_two_tabs_of_the_acs_app_call_each_other_as_teams_users(demo: Demo, open_app: OpenApp) -> None:
    alice, megan = await open_app("alice"), await open_app("megan")
    megan_id = demo.user("megan")["id"]

    # a refusal: the call comes back at once and ends with the service's code and subCode
    refused = await alice.evaluate("""(oid) => {
        const call = window.phone.callTeamsUser(oid, '19:not-a-chat-of-theirs@thread.v2');
        return { kind: call.kind, state: call.state };
    }""", megan_id)
    assert refused == {"kind": "TeamsCall", "state": "None"}
    ended = await until_state(alice, "Disconnected")
    assert ended["callEndReason"] == {"code": 400, "subCode": 10101}

    placed = await alice.evaluate("""([oid, thread]) => {
        const call = window.phone.callTeamsUser(oid, thread);
        return { kind: call.kind, state: call.state, direction: call.direction, calls: window.phone.calls };
    }""", [megan_id, chat_between(demo, "alice", "megan")])
    assert placed == {"kind": "TeamsCall", "state": "None", "direction": "Outgoing", "calls": 1}
    await megan.wait_for_function("window.phone.ringing.length === 1")
    await megan.evaluate("window.phone.answer()")
    for tab in (alice, megan):
        await until_state(tab, "Connected")
        assert (await hears(tab))["codec"] == "audio/opus"

    seen = await view(alice)
    assert seen["remote"] == [{"who": megan_id, "displayName": "Megan Bowen", "state": "Connected", "isMuted": False}]
    assert (seen["canUnmute"], seen["canTurnVideoOn"], seen["raisedHands"], seen["dominantSpeakers"]) == (
        True, False, 0, 0)
    assert await alice.evaluate("window.phone.serverCallId()") == await megan.evaluate("window.phone.serverCallId()")
    assert seen["id"] == await alice.evaluate("window.phone.serverCallId()")

    await alice.evaluate("window.phone.hold()")
    assert (await until_state(megan, "RemoteHold"))["remote"][0]["state"] == "Hold"
    await alice.evaluate("window.phone.resume()")
    await until_state(megan, "Connected")
    await megan.evaluate("window.phone.toggleMute()")
    await alice.wait_for_function("window.phone.view().remote[0].isMuted")
    await megan.evaluate("window.phone.pressFive()")

    await megan.evaluate("window.phone.hangUp()")
    for tab in (alice, megan):
        assert (await until_state(tab, "Disconnected"))["callEndReason"] == {"code": 0, "subCode": 0}
        await tab.wait_for_function("window.phone.calls === 0")
    assert await alice.evaluate("window.phone.events") == [
        "callsUpdated +1 -0", "call Outgoing None", "stateChanged Connecting", "stateChanged Disconnected 400/10101",
        "remoteParticipantsUpdated +0 -1", "callsUpdated +0 -1",
        "callsUpdated +1 -0", "call Outgoing None", "stateChanged Connecting", "idChanged", "stateChanged Ringing",
        "stateChanged Connected", "stateChanged LocalHold", "stateChanged Connected", "stateChanged Disconnected 0/0",
        "remoteParticipantsUpdated +0 -1", "callsUpdated +0 -1"]
    assert "incomingCall Alice Smith" in await megan.evaluate("window.phone.events")
    assert alice.errors == [] and megan.errors == []  # type: ignore[attr-defined]


async def test_the_acs_app_calls_a_phone_and_is_called_by_one(demo: Demo, open_app: OpenApp) -> None:
    alice = await open_app("alice")
    placed = await alice.evaluate("(number) => window.phone.callPhone(number).state", CUSTOMER)
    assert placed == "None"
    await wait_for_phone(demo, CUSTOMER, lambda p: p["state"] == "ringing")
    async with api(demo) as c:
        assert (await c.post(f"/phones/{CUSTOMER}/answer")).status_code == 200
    seen = await until_state(alice, "Connected")
    assert seen["remote"][0]["who"] == CUSTOMER
    assert (await hears(alice))["codec"] == "audio/PCMU"  # the phone's 440 Hz tone
    await alice.evaluate("window.phone.hangUp()")
    await wait_for_phone(demo, CUSTOMER, lambda p: p["state"] == "idle")
    assert (await view(alice))["callEndReason"] == {"code": 0, "subCode": 0}

    async with api(demo) as c:
        r = await c.post(f"/phones/{CUSTOMER}/dial", json={"to": demo.user("alice")["phone_number"]})
    assert r.status_code == 200, r.text
    await alice.wait_for_function("window.phone.ringing.length === 1")
    await alice.evaluate("window.phone.answer()")
    await until_state(alice, "Connected")
    assert (await view(alice))["direction"] == "Incoming"
    await hears(alice)
    async with api(demo) as c:
        assert (await c.post(f"/phones/{CUSTOMER}/hangup")).status_code == 200
    assert (await until_state(alice, "Disconnected"))["callEndReason"] == {"code": 0, "subCode": 560000}
    assert f"incomingCall {CUSTOMER_NAME}" in await alice.evaluate("window.phone.events")
    assert alice.errors == []  # type: ignore[attr-defined]


async def test_joining_a_meeting_returns_the_call_at_once_and_ends_it_with_a_reason(open_app: OpenApp) -> None:
    """A join link of another deployment (Microsoft's): the call comes back at once and the service's refusal
    (400/10121) arrives through its state, as ACS's would."""
    alice = await open_app("alice")
    joined = await alice.evaluate("""() => window.phone.joinMeeting(
        'https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0').state""")
    assert joined == "None"
    ended = await until_state(alice, "Disconnected")
    assert (ended["callEndReason"]["code"], ended["callEndReason"]["subCode"]) == (400, 10121), ended
    assert alice.errors == []  # type: ignore[attr-defined]


async def test_the_device_manager_lists_and_selects_the_browsers_devices(open_app: OpenApp) -> None:
    """The app's DeviceManager (ACS's interface) on Chromium's fake devices: permission, lists by kind, selection
    events, and a speaker refused as a microphone."""
    alice = await open_app("alice")
    seen = await alice.evaluate("""async () => {
        const devices = window.phone.devices;
        const changes = [];
        devices.on('selectedMicrophoneChanged', () => changes.push('microphone'));
        devices.on('selectedSpeakerChanged', () => changes.push('speaker'));
        const access = await devices.askDevicePermission({ audio: true, video: true });
        const microphones = await devices.getMicrophones();
        const speakers = await devices.getSpeakers();
        const cameras = await devices.getCameras();
        await devices.selectMicrophone(microphones.at(-1));
        if (devices.isSpeakerSelectionAvailable && speakers.length) await devices.selectSpeaker(speakers.at(-1));
        const refused = await devices.selectMicrophone(speakers[0] ?? {}).then(() => null, (e) => e.name);
        return { access, changes, speakerSelection: devices.isSpeakerSelectionAvailable,
                 microphoneTypes: [...new Set(microphones.map((d) => d.deviceType))],
                 speakerTypes: [...new Set(speakers.map((d) => d.deviceType))],
                 cameraTypes: [...new Set(cameras.map((d) => d.deviceType))],
                 selected: devices.selectedMicrophone.id === microphones.at(-1).id,
                 selectedSpeaker: devices.selectedSpeaker?.id ?? null, speakers: speakers.at(-1)?.id ?? null,
                 microphones: microphones.length, refused };
    }""")
    # Chromium's fake devices: microphones, speakers (setSinkId), a camera; signIn selected the first microphone
    assert seen["access"] == {"audio": True, "video": True} and seen["speakerSelection"] is True
    assert seen["changes"] == (["microphone"] if seen["microphones"] > 1 else []) + ["speaker"]
    assert (seen["microphoneTypes"], seen["speakerTypes"], seen["cameraTypes"]) == (["Microphone"], ["Speaker"],
                                                                                     ["Unknown"])
    assert seen["selected"] is True and seen["selectedSpeaker"] == seen["speakers"] is not None
    assert seen["refused"] == "TypeError"  # a speaker is not a microphone
