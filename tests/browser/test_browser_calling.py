"""The browser SDK (/sdk/calling.js) in Debian's chromium, calling and called by a Python agent (callbridge.sdk,
aiortc): the page shows who is calling and the call's state, audio flows both ways over G.711 (the page's
getStats() counts inbound RTP, the Python side hears the browser's 750 Hz tone by FFT), hold and mute from the
browser silence it and resume brings it back, refusals reach the page as {code, subCode} in words, and hang-ups
end the other side with 0/0. Also: two browsers call each other (opus), the token credential refreshes as ACS's
does, and the agent hands its socket a fresh token before the old one expires."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from playwright.async_api import expect

from callbridge.sdk import MicrosoftTeamsUserIdentifier, TeamsCall, TeamsCallAgent, ToneSource
from tests.browser.conftest import BROWSER_HZ, PageOf
from tests.conftest import Demo
from tests.integration.test_calling_audio import heard, until
from tests.integration.test_calling_signalling import chat_between

pytestmark = pytest.mark.browser

PYTHON_HZ = 1000.0
OpenPage = Callable[[str], Awaitable[PageOf]]


async def browser_hears(tab: PageOf, timeout: float = 10.0) -> dict[str, object]:
    """The page's inbound audio once RTP has arrived (getStats is polled)."""
    deadline = time.monotonic() + timeout
    while True:
        stats = await tab.inbound_audio()
        if stats and int(str(stats["packetsReceived"])) > 0 and int(str(stats["bytesReceived"])) > 0:
            return stats
        assert time.monotonic() < deadline, f"no inbound audio in the page: {stats}; console: {tab.console}"
        await asyncio.sleep(0.1)


async def python_hears_browser(call: TeamsCall) -> None:
    """The browser's tone. Chromium's voice processing (noise suppression, gain control) is on, as for a real
    microphone: it brings a steady tone down from about 0.3 to a floor of about 0.022 RMS within seconds, so the
    level bar is low; silence (hold, mute) is exactly 0."""
    frequency, loudness = await heard(call.media.recorder, 100)  # 2 s
    assert abs(frequency - BROWSER_HZ) < 15 and loudness > 0.005, (frequency, loudness)


async def python_hears_silence(call: TeamsCall) -> None:
    await heard(call.media.recorder, 10)  # frames in flight drain
    _, loudness = await heard(call.media.recorder, 50)
    assert loudness < 0.001, loudness


def answer_with_tone(agent: TeamsCallAgent) -> list[TeamsCall]:
    answered: list[TeamsCall] = []

    async def accept(args: object) -> None:
        answered.append(await args.incoming_call.accept(audio=ToneSource(PYTHON_HZ)))  # type: ignore[attr-defined]

    agent.on("incoming_call", accept)
    return answered


async def call_from_page(tab: PageOf, target: str, thread: str) -> None:
    await tab.page.fill("#target", target)
    await tab.page.fill("#thread", thread)
    await tab.page.click("#call")


async def browser_calls_alice(demo: Demo, alice: TeamsCallAgent, megan: PageOf) -> TeamsCall:
    answered = answer_with_tone(alice)
    await call_from_page(megan, demo.user("alice")["id"], chat_between(demo, "alice", "megan"))
    await until(lambda: bool(answered))
    await expect(megan.page.locator("#call-state")).to_have_text("Connected")
    await expect(megan.page.locator("#remote")).to_have_text("Alice Smith: Connected")
    return answered[0]


async def screenshot(page: Any, name: str) -> None:
    """With CALLBRIDGE_SCREENSHOTS=<dir> (how the README's pictures are made), the page as the user sees it."""
    folder = os.environ.get("CALLBRIDGE_SCREENSHOTS")
    if folder:
        await page.screenshot(path=str(Path(folder) / f"{name}.png"))


async def test_a_python_agent_calls_the_browser(demo: Demo, open_page: OpenPage, alice: TeamsCallAgent) -> None:
    megan = await open_page("megan")
    call = await alice.start_call(MicrosoftTeamsUserIdentifier(demo.user("megan")["id"]),
                                  thread_id=chat_between(demo, "alice", "megan"), audio=ToneSource(PYTHON_HZ))
    await expect(megan.page.locator("#caller")).to_have_text("Alice Smith")
    await screenshot(megan.page, "sdk-incoming-call")
    await megan.page.click("#accept")
    await expect(megan.page.locator("#call-state")).to_have_text("Connected")
    await call.wait_for_state("Connected")
    assert call.remote_participants[0].display_name == "Megan Bowen"
    await expect(megan.page.locator("#remote")).to_have_text("Alice Smith: Connected")

    await python_hears_browser(call)
    stats = await browser_hears(megan)
    assert stats["codec"] == "audio/PCMU" and stats["remoteAddress"] == "127.0.0.1", stats
    await screenshot(megan.page, "sdk-connected")

    await call.hang_up()
    await expect(megan.page.locator("#call-state")).to_have_text("Disconnected")
    await expect(megan.page.locator("#end-reason")).to_have_text("The call ended. (0/0)")
    assert megan.errors == []


async def test_b_the_browser_calls_a_python_agent_and_hangs_up(demo: Demo, open_page: OpenPage,
                                                               alice: TeamsCallAgent) -> None:
    megan = await open_page("megan")
    call = await browser_calls_alice(demo, alice, megan)
    assert call.caller_info.display_name == "Megan Bowen" and call.state == "Connected"
    await expect(megan.page.locator("#direction")).to_have_text("Outgoing")

    await python_hears_browser(call)
    stats = await browser_hears(megan)
    assert stats["codec"] == "audio/PCMU" and stats["remoteAddress"] == "127.0.0.1", stats

    await megan.page.click("#hangup")
    await call.wait_for_state("Disconnected")
    assert call.call_end_reason is not None
    assert (call.call_end_reason.code, call.call_end_reason.sub_code) == (0, 0)
    await expect(megan.page.locator("#end-reason")).to_have_text("The call ended. (0/0)")
    assert megan.errors == []


async def test_c_hold_and_mute_from_the_browser_silence_it_and_resume_brings_it_back(
        demo: Demo, open_page: OpenPage, alice: TeamsCallAgent) -> None:
    megan = await open_page("megan")
    call = await browser_calls_alice(demo, alice, megan)
    await python_hears_browser(call)

    await megan.page.click("#hold")
    await expect(megan.page.locator("#call-state")).to_have_text("LocalHold")
    await call.wait_for_state("RemoteHold")
    assert call.remote_participants[0].state == "Hold"
    await python_hears_silence(call)
    await expect(megan.page.locator("#hold")).to_have_text("Resume")
    await megan.page.click("#hold")
    await expect(megan.page.locator("#call-state")).to_have_text("Connected")
    await call.wait_for_state("Connected")
    await heard(call.media.recorder, 10)
    await python_hears_browser(call)

    await megan.page.click("#mute")
    await call.wait_for(lambda: call.remote_participants[0].is_muted)
    await python_hears_silence(call)
    await expect(megan.page.locator("#mute")).to_have_text("Unmute")
    await megan.page.click("#mute")
    await call.wait_for(lambda: not call.remote_participants[0].is_muted)
    await heard(call.media.recorder, 10)
    await python_hears_browser(call)

    await call.hang_up()
    await expect(megan.page.locator("#end-reason")).to_have_text("The call ended. (0/0)")
    assert megan.errors == []


async def test_d_refusals_reject_with_code_and_subcode_shown_in_words(demo: Demo, open_page: OpenPage) -> None:
    megan = await open_page("megan")
    alice_id = demo.user("alice")["id"]
    refused = await megan.page.evaluate("""async (oid) => {
        const call = window.callbridgeTest.page.agent.startCall({microsoftTeamsUserId: oid}, {});
        const atOnce = call.state;
        const states = [];
        await new Promise((resolve) => call.on('stateChanged', () => {
            states.push(call.state);
            if (call.state === 'Disconnected') resolve();
        }));
        return {atOnce, states, callEndReason: call.callEndReason};
    }""", alice_id)
    # as ACS's: startCall returns the call at once, and the refusal ends it with its code and subCode
    assert refused == {"atOnce": "None", "states": ["Connecting", "Disconnected"], "callEndReason": {
        "code": 400, "subCode": 10101,
        "message": "A call to a Teams user needs the threadId of a chat that has both people as members."}}

    await call_from_page(megan, alice_id, "")
    await expect(megan.page.locator("#error")).to_have_text(
        "The call was refused: A call to a Teams user needs the threadId of a chat that has both people as members."
        " (code 400, subCode 10101)")
    await call_from_page(megan, alice_id, "19:not-a-chat-of-theirs@thread.v2")
    await expect(megan.page.locator("#error")).to_have_text(
        "The call was refused: The thread is not a chat that has both people as members. (code 400, subCode 10101)")
    await call_from_page(megan, demo.user("megan")["id"], chat_between(demo, "alice", "megan"))
    await expect(megan.page.locator("#error")).to_have_text(
        "The call was refused: A user cannot call themselves. (code 400, subCode 10103)")
    await expect(megan.page.locator("#call-state")).to_have_text("Disconnected")
    await expect(megan.page.locator("#end-reason")).to_have_text("A user cannot call themselves. (400/10103)")
    assert await megan.page.locator("#call").is_enabled()
    assert megan.errors == []


async def test_e_the_browser_declines_a_python_agents_call(demo: Demo, open_page: OpenPage,
                                                          alice: TeamsCallAgent) -> None:
    megan = await open_page("megan")
    call = await alice.start_call(MicrosoftTeamsUserIdentifier(demo.user("megan")["id"]),
                                  thread_id=chat_between(demo, "alice", "megan"))
    await expect(megan.page.locator("#caller")).to_have_text("Alice Smith")
    await megan.page.click("#reject")
    await call.wait_for_state("Disconnected")
    assert call.call_end_reason is not None
    assert (call.call_end_reason.code, call.call_end_reason.sub_code) == (603, 0)
    await expect(megan.page.locator("#log")).to_contain_text("incoming call ended: The call was declined. (603/0)")
    await expect(megan.page.locator("#incoming")).to_be_hidden()


def test_the_sdk_and_the_page_are_served_as_static_files(demo: Demo) -> None:
    with demo.client() as c:
        sdk = c.get("/sdk/calling.js")
        assert sdk.status_code == 200 and sdk.headers["content-type"] == "text/javascript; charset=utf-8"
        assert sdk.headers["cache-control"] == "no-cache" and "export class CallClient" in sdk.text
        assert c.get("/sdk/calling.js", headers={"If-None-Match": sdk.headers["etag"]}).status_code == 304
        page = c.get("/sdk/test.html")
        assert page.headers["content-type"] == "text/html; charset=utf-8" and "/sdk/calling.js" in page.text
        assert c.get("/sdk/../app.py").status_code == 404 and c.get("/sdk/routes.py").status_code == 404


async def test_f_one_browser_calls_another(demo: Demo, open_page: OpenPage) -> None:
    alice, megan = await open_page("alice"), await open_page("megan")
    await call_from_page(alice, demo.user("megan")["id"], chat_between(demo, "alice", "megan"))
    await expect(megan.page.locator("#caller")).to_have_text("Alice Smith")
    await megan.page.click("#accept")
    for tab in (alice, megan):
        await expect(tab.page.locator("#call-state")).to_have_text("Connected")
    await expect(alice.page.locator("#remote")).to_have_text("Megan Bowen: Connected")
    for tab in (alice, megan):
        stats = await browser_hears(tab)
        assert stats["codec"] == "audio/opus", stats  # two browsers prefer opus

    await alice.page.click("#hold")
    await expect(megan.page.locator("#call-state")).to_have_text("RemoteHold")
    await expect(megan.page.locator("#remote")).to_have_text("Alice Smith: Hold")
    await alice.page.click("#hold")
    await expect(megan.page.locator("#call-state")).to_have_text("Connected")
    await megan.page.click("#hangup")
    for tab in (alice, megan):
        await expect(tab.page.locator("#end-reason")).to_have_text("The call ended. (0/0)")
    assert alice.errors == [] and megan.errors == []


async def test_g_the_token_credential_refreshes_as_acs_does(open_page: OpenPage) -> None:
    megan = await open_page("megan")
    results = await megan.page.evaluate("""async () => {
        const { AzureCommunicationTokenCredential } = await import('/sdk/calling.js');
        const b64 = (o) => btoa(JSON.stringify(o)).replace(/=+$/, '').replaceAll('+', '-').replaceAll('/', '_');
        const jwt = (exp) => `${b64({alg: 'none'})}.${b64({exp})}.x`;
        const now = Math.floor(Date.now() / 1000);
        const results = {};
        const fixed = jwt(now + 60);
        results.static = (await new AzureCommunicationTokenCredential(fixed).getToken()).token === fixed;
        let refreshed = 0;
        const refresher = async () => { refreshed += 1; return jwt(now + 3600); };
        const soon = new AzureCommunicationTokenCredential({ token: jwt(now + 300), tokenRefresher: refresher });
        results.expiringSoon = (await soon.getToken()).expiresOnTimestamp === (now + 3600) * 1000;
        await soon.getToken();
        results.refreshedOnce = refreshed === 1;
        const proactive = new AzureCommunicationTokenCredential(
            { token: jwt(now + 3), tokenRefresher: refresher, refreshProactively: true });
        await new Promise((resolve) => setTimeout(resolve, 2500));
        results.proactive = refreshed === 2;
        proactive.dispose();
        const stale = new AzureCommunicationTokenCredential({ tokenRefresher: async () => jwt(now - 10) });
        results.expired = await stale.getToken().then(() => 'no error', (e) => e.message);
        return results;
    }""")
    assert results == {"static": True, "expiringSoon": True, "refreshedOnce": True, "proactive": True,
                       "expired": "The token returned from the tokenRefresher is expired."}


def short_lived(demo: Demo, who: str, seconds: int) -> str:
    """``who``'s communication token, re-signed with the service's key to expire in ``seconds``."""
    claims = jwt.decode(demo.communication_token(who), options={"verify_signature": False})
    return demo.forge({**claims, "exp": int(time.time()) + seconds}, purpose="acs")


async def test_h_the_agent_hands_the_socket_a_fresh_token_before_it_expires(demo: Demo, open_page: OpenPage) -> None:
    megan = await open_page("megan")
    result = await megan.page.evaluate("""async ([renewed, fresh, fixed]) => {
        const { CallClient, AzureCommunicationTokenCredential } = await import('/sdk/calling.js');
        let asked = 0;
        const credential = { getToken: async () => ({ token: asked++ === 0 ? renewed : fresh }), dispose() {} };
        const renewing = await new CallClient().createTeamsCallAgent(credential);
        const expiring = await new CallClient().createTeamsCallAgent(new AzureCommunicationTokenCredential(fixed));
        const changes = [];
        expiring.on('connectionStateChanged', (change) => changes.push(change));
        await new Promise((resolve) => setTimeout(resolve, 5500));
        const result = { asked, renewing: renewing.connectionState, expiring: expiring.connectionState, changes };
        await renewing.dispose();
        return result;
    }""", [short_lived(demo, "lee", 4), demo.communication_token("lee"), short_lived(demo, "nina", 4)])
    assert result == {"asked": 2, "renewing": "Connected", "expiring": "Disconnected", "changes": [
        {"oldValue": "Connected", "newValue": "Disconnected", "reason": "invalidToken"}]}
