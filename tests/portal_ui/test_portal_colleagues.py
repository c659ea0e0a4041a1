"""Use cases 3 and 4 between two people in two browser contexts: Megan finds Alice in the directory and calls her
(the portal finds or creates their 1:1 chat and calls over its thread); Alice's page rings with Megan's name,
title and initials from the directory; both pages receive audio; hold, the keypad and mute work from the page;
Megan hangs up and Alice reads how the call ended."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.portal_ui.conftest import OpenPortal, screenshot

pytestmark = pytest.mark.browser


async def test_megan_calls_alice_from_the_directory(open_portal: OpenPortal) -> None:
    alice = await open_portal("alice")
    megan = await open_portal("megan")
    directory = megan.page.locator(".directory")
    await directory.get_by_role("searchbox").fill("Alice")
    await directory.get_by_role("button", name="Search").click()
    await expect(directory.locator(".person")).to_have_count(1)
    await directory.get_by_role("button", name="Call Alice Smith").click()
    toast = alice.page.get_by_role("alertdialog", name="Incoming call")
    await expect(toast.locator(".caller-name")).to_have_text("Megan Bowen")
    await expect(megan.page.locator(".call-state")).to_have_text("Ringing…")
    await expect(toast.locator(".caller-about")).to_have_text("Marketing manager")
    await expect(toast.locator(".avatar")).to_have_text("MB")
    await screenshot(alice.page, "uc4-incoming")
    await toast.get_by_role("button", name="Answer").click()
    for tab, other in ((alice, "Megan Bowen"), (megan, "Alice Smith")):
        await expect(tab.page.locator(".call-state")).to_have_text("Connected")
        await expect(tab.page.locator(".call .peer")).to_have_text(other)
    await expect(megan.page.locator(".call .peer-about")).to_have_text("Account manager")
    await expect(alice.page.locator(".call .peer-about")).to_have_text("Marketing manager")
    assert (await alice.hears())["packetsReceived"]
    assert (await megan.hears())["packetsReceived"]
    await screenshot(megan.page, "uc3-connected")

    await alice.page.get_by_role("button", name="Hold").click()
    await expect(alice.page.locator(".call-state")).to_have_text("On hold")
    await expect(megan.page.locator(".call-state")).to_have_text("Held by the other side")
    await alice.page.get_by_role("button", name="Resume").click()
    await expect(megan.page.locator(".call-state")).to_have_text("Connected")
    await alice.page.get_by_role("button", name="Keypad").click()
    await alice.page.get_by_role("button", name="Key 5").click()
    await alice.page.get_by_role("button", name="Key #").click()
    await expect(alice.page.locator(".dtmf-sent")).to_have_text("5#")
    await megan.page.get_by_role("button", name="Mute", exact=True).click()
    await expect(megan.page.get_by_role("button", name="Unmute")).to_have_attribute("aria-pressed", "true")

    await megan.page.get_by_role("button", name="Hang up").click()
    await expect(alice.page.locator(".end-reason")).to_have_text("The call ended.")
    await expect(megan.page.locator(".end-reason")).to_have_text("The call ended.")
    await megan.page.get_by_role("button", name="Back to home").click()
    await megan.page.get_by_role("link", name="History").click()
    await expect(megan.page.locator(".history-entry").first).to_contain_text("Alice Smith")
    assert alice.errors == [] and megan.errors == []


async def test_a_call_grows_into_a_group_call_from_the_page(open_portal: OpenPortal) -> None:
    """Megan calls Alice, then adds Adele from the call's "Add people": Adele's page rings naming Megan, and once she
    answers the three pages show the other two in the roster and receive audio through the mixer."""
    alice, megan, adele = await open_portal("alice"), await open_portal("megan"), await open_portal("adele")
    directory = megan.page.locator(".directory")
    await directory.get_by_role("searchbox").fill("Alice")
    await directory.get_by_role("button", name="Search").click()
    await directory.get_by_role("button", name="Call Alice Smith").click()
    await alice.page.get_by_role("alertdialog", name="Incoming call").get_by_role("button", name="Answer").click()
    await expect(megan.page.locator(".call-state")).to_have_text("Connected")

    await megan.page.get_by_role("button", name="Add people").click()
    await megan.page.get_by_role("textbox", name="Colleague or phone number to add").fill("Adele")
    await megan.page.get_by_role("button", name="Add or search").click()
    await megan.page.get_by_role("button", name="Add Adele Vance").click()
    toast = adele.page.get_by_role("alertdialog", name="Incoming call")
    await expect(toast.locator(".caller-name")).to_have_text("Megan Bowen")
    await toast.get_by_role("button", name="Answer").click()
    names = {"alice": "Alice Smith", "megan": "Megan Bowen", "adele": "Adele Vance"}
    for who, tab in (("alice", alice), ("megan", megan), ("adele", adele)):
        roster = tab.page.locator(".roster")
        await expect(roster.locator("li.me")).to_contain_text(f"{names[who]} (you)")
        for other in set(names) - {who}:
            await expect(roster.locator("li", has_text=names[other])).to_contain_text("In the call")
        assert (await tab.hears())["packetsReceived"], who
    await megan.page.get_by_role("button", name="Hang up").click()
    await expect(megan.page.locator(".end-reason")).to_have_text("The call ended.")
    await expect(alice.page.locator(".roster li", has_text="Megan Bowen")).to_have_count(0)  # the others go on
    await alice.page.get_by_role("button", name="Hang up").click()
    await expect(adele.page.locator(".end-reason")).to_have_text("The call ended.")
    assert alice.errors == [] and megan.errors == [] and adele.errors == []
