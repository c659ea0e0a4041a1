"""Use case 5 in the portal's pages, two people in two browser contexts, real audio through the conference mixer:
Alice joins her meeting from her calendar (after the device preview, whose level meter moves with the fake
microphone) and sees its dial-in details; Megan joins by the link in the join box and waits in the lobby (the
organizer set the lobby to "organizer only") until Alice admits her from the lobby panel; the roster shows her
state, her raised hand and her mute; both pages receive audio; Alice ends the meeting for everyone and Megan reads
so. Then Megan joins again by meeting id and passcode, Alice (back in) rejects her, and Megan reads that she was
not admitted; and once more by the link: Alice admits her, mutes her from the roster and removes her, and Megan
reads that she was removed. And the organizer adds a customer to her meeting by number from the page: the
carrier's phone rings, answers, shows in the roster and hears the browser through the mixer."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import expect

from callbridge.demo import CUSTOMERS
from tests.browser.conftest import BROWSER_HZ
from tests.browser.test_browser_phone import phone_heard
from tests.conftest import GRAPH_SCOPES, Demo
from tests.integration.test_carrier_api import api, wait_for_phone
from tests.integration.test_meetings import SUBJECT, the_meeting
from tests.portal_ui.conftest import OpenPortal, PortalTab, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.skipif(shutil.which("janus") is None,
                                                      reason="meetings need the conference mixer (janus)")]


@pytest.fixture
def lobby_for_everyone_but_the_organizer(platform: Demo) -> Iterator[dict[str, Any]]:
    """Alice's meeting, with its lobby set (by its organizer, through Graph) so that everyone else waits."""
    event = the_meeting(platform)
    link = event["onlineMeeting"]["joinUrl"]
    with platform.graph("alice", [*GRAPH_SCOPES, "OnlineMeetings.ReadWrite"]) as g:
        meeting = g.get("/me/onlineMeetings", params={"$filter": f"JoinWebUrl eq '{link}'"}).json()["value"][0]
        before = meeting["lobbyBypassSettings"]
        r = g.patch(f"/me/onlineMeetings/{meeting['id']}", json={"lobbyBypassSettings": {"scope": "organizer"}})
        assert r.status_code == 200, r.text
        yield event
        g.patch(f"/me/onlineMeetings/{meeting['id']}", json={"lobbyBypassSettings": before})


async def join_from_the_join_box(tab: PortalTab, **fields: str) -> None:
    box = tab.page.locator(".joiner")
    for name, value in fields.items():
        await box.get_by_role("textbox", name=name).fill(value)
    await box.get_by_role("button", name="Join").click()
    await tab.page.get_by_role("button", name="Join now").click()


async def test_a_meeting_with_its_lobby_run_from_the_portal(
        open_portal: OpenPortal, lobby_for_everyone_but_the_organizer: dict[str, Any]) -> None:
    event = lobby_for_everyone_but_the_organizer
    online = event["onlineMeeting"]
    alice = await open_portal("alice")
    await alice.page.get_by_role("button", name=f"Join {SUBJECT}").click()
    await expect(alice.page.get_by_role("heading", name=f"Join {SUBJECT}")).to_be_visible()
    await alice.page.wait_for_function("() => document.querySelector('.prejoin meter.level')?.value > 0.01")
    await screenshot(alice.page, "uc5-preview")
    await alice.page.get_by_role("button", name="Join now").click()
    await expect(alice.page.locator(".call-state")).to_have_text("Connected")
    await expect(alice.page.locator(".conference-id")).to_have_text(f"{online['conferenceId']}#")
    await expect(alice.page.get_by_role("button", name="End for everyone")).to_be_visible()

    megan = await open_portal("megan")
    await join_from_the_join_box(megan, **{"Meeting link": online["joinUrl"]})
    await expect(megan.page.get_by_role("heading", name="Waiting in the lobby")).to_be_visible()
    await expect(megan.page.locator(".call-state")).to_have_text(
        "Waiting in the lobby: someone in the meeting will let you in.")
    await expect(megan.page.locator(".roster")).to_be_hidden()
    await screenshot(megan.page, "uc5-lobby-waiting")
    await expect(alice.page.locator(".lobby-list li")).to_have_text("Megan BowenAdmitReject")
    await screenshot(alice.page, "uc5-lobby-panel")
    await alice.page.get_by_role("button", name="Admit Megan Bowen").click()
    await expect(megan.page.locator(".call-state")).to_have_text("Connected")
    await expect(alice.page.locator(".lobby")).to_be_hidden()
    megan_in_roster = alice.page.locator(".roster li", has_text="Megan Bowen")
    await expect(megan_in_roster).to_contain_text("In the call")
    await expect(megan.page.locator(".roster li", has_text="Alice Smith")).to_contain_text("Organizer")
    assert (await alice.hears())["packetsReceived"]
    assert (await megan.hears())["packetsReceived"]

    await megan.page.get_by_role("button", name="Raise hand").click()
    await expect(megan_in_roster).to_have_attribute("data-hand", "true")
    await megan.page.get_by_role("button", name="Mute", exact=True).click()
    await expect(megan_in_roster).to_contain_text("muted")
    await expect(megan.page.locator(".roster li.me")).to_have_text("MBMegan Bowen (you)Presenter, muted, hand raised")
    await expect(alice.page.locator(".roster li.me")).to_have_text("ASAlice Smith (you)Organizer")
    await screenshot(alice.page, "uc5-roster")

    await alice.page.get_by_role("button", name="End for everyone").click()
    await expect(megan.page.locator(".end-reason")).to_have_text("The organizer ended the meeting for everyone.")
    await expect(alice.page.locator(".ended")).to_be_visible()

    # again: Megan by meeting id and passcode, and this time Alice turns her away
    await alice.page.get_by_role("button", name="Back to home").click()
    await alice.page.get_by_role("button", name=f"Join {SUBJECT}").click()
    await alice.page.get_by_role("button", name="Join now").click()
    await expect(alice.page.locator(".call-state")).to_have_text("Connected")
    await megan.page.get_by_role("button", name="Back to home").click()
    settings = online["joinMeetingIdSettings"]
    await join_from_the_join_box(megan, **{"Meeting id": settings["joinMeetingId"], "Passcode": settings["passcode"]})
    await expect(megan.page.get_by_role("heading", name="Waiting in the lobby")).to_be_visible()
    await alice.page.get_by_role("button", name="Reject Megan Bowen").click()
    await expect(megan.page.locator(".end-reason")).to_have_text("You were not admitted to the meeting.")
    await expect(alice.page.locator(".lobby")).to_be_hidden()

    # and once more: admitted, muted by the organizer from the roster, then removed
    await megan.page.get_by_role("button", name="Back to home").click()
    await join_from_the_join_box(megan, **{"Meeting link": online["joinUrl"]})
    await alice.page.get_by_role("button", name="Admit Megan Bowen").click()
    await expect(megan.page.locator(".call-state")).to_have_text("Connected")
    await alice.page.get_by_role("button", name="Mute Megan Bowen").click()
    await expect(megan.page.get_by_role("button", name="Unmute")).to_have_attribute("aria-pressed", "true")
    await expect(alice.page.locator(".roster li", has_text="Megan Bowen")).to_contain_text("muted")
    await expect(alice.page.get_by_role("button", name="Mute Megan Bowen")).to_be_hidden()
    await alice.page.get_by_role("button", name="Remove Megan Bowen").click()
    await expect(megan.page.locator(".end-reason")).to_have_text("You were removed from the meeting.")
    await expect(alice.page.locator(".roster li", has_text="Megan Bowen")).to_have_count(0)
    await alice.page.get_by_role("button", name="Leave").click()
    await expect(alice.page.locator(".end-reason")).to_have_text("The call ended.")
    assert alice.errors == [] and megan.errors == []


async def test_the_organizer_adds_a_customer_by_number_to_the_meeting(platform: Demo, open_portal: OpenPortal) -> None:
    ben = CUSTOMERS[1][0]
    alice = await open_portal("alice")
    await alice.page.get_by_role("button", name=f"Join {SUBJECT}").click()
    await alice.page.get_by_role("button", name="Join now").click()
    await expect(alice.page.locator(".call-state")).to_have_text("Connected")
    await alice.page.get_by_role("button", name="Add people").click()
    await alice.page.get_by_role("textbox", name="Colleague or phone number to add").fill(ben)
    await alice.page.get_by_role("button", name="Add or search").click()
    await wait_for_phone(platform, ben, lambda p: p["state"] == "ringing")
    async with api(platform) as c:
        assert (await c.post(f"/phones/{ben}/answer")).status_code == 200
    await expect(alice.page.locator(".roster li", has_text=ben)).to_contain_text("In the call")
    await asyncio.sleep(2.0)  # two seconds of the browser's tone, through the mixer, at the phone
    await alice.page.get_by_role("button", name="End for everyone").click()
    await wait_for_phone(platform, ben, lambda p: p["state"] == "idle")
    assert abs(await phone_heard(platform, ben) - BROWSER_HZ) < 15
    assert alice.errors == []
