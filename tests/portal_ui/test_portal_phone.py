"""Use cases 1 and 2 in the portal's pages, with the built-in carrier as the phone network: Alice clicks a
customer's number, sees ringing with the network's early media, talks (the phone hears the browser's 750 Hz, the
page receives audio), hangs up and reads the call in her history; Megan, who has no phone licence, is told so in
words; a customer calls Alice, who has the portal open in two tabs: both ring naming the customer from Contoso's
database, she answers in one and the other stops ringing."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import expect

from callbridge.demo import CUSTOMERS
from portal.demo import NOTES
from tests.browser.conftest import BROWSER_HZ
from tests.browser.test_browser_phone import phone_heard
from tests.conftest import Demo
from tests.integration.test_carrier_api import api, wait_for_phone
from tests.portal_ui.conftest import Browsers, OpenPortal, another_tab, screenshot

pytestmark = pytest.mark.browser

# the tab is hidden (as a tab in the background is) and the notifications it shows are noted
HIDDEN_TAB_WITH_NOTIFICATIONS_SEEN = """() => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    const Real = window.Notification;
    window.notified = [];
    window.notificationsClosed = 0;
    window.Notification = new Proxy(Real, {
        get: (target, key) => target[key],
        construct(target, [title, options]) {
            window.notified.push([title, options.body]);
            const shown = new target(title, options);
            const close = shown.close.bind(shown);
            shown.close = () => { window.notificationsClosed += 1; close(); };
            return shown;
        },
    });
}"""
KIM = CUSTOMERS[0][0]  # Kim Akers of Adatum Corporation, with a note in the portal's customer database
RACHEL = CUSTOMERS[2][0]


async def test_alice_calls_a_customer_from_the_customer_list(platform: Demo, open_portal: OpenPortal) -> None:
    alice = await open_portal("alice")
    await expect(alice.page.locator(".me-name")).to_have_text("Alice Smith")
    await expect(alice.page.locator(".me-tenant")).to_have_text("Fabrikam")
    await expect(alice.page.locator(".meetings .meeting").first).to_be_visible()
    await screenshot(alice.page, "home", full_page=True)
    async with api(platform) as c:
        assert (await c.post(f"/phones/{RACHEL}/ringback", json={"on": True})).status_code == 200
    try:
        await alice.page.get_by_role("button", name=f"Call Rachel Valdez at {RACHEL}").click()
        ringing = await wait_for_phone(platform, RACHEL, lambda p: p["state"] == "ringing")
        assert ringing["call"]["peer"] == platform.user("alice")["phone_number"]  # her own number as caller ID
        state = alice.page.locator(".call-state")
        await expect(state).to_have_text("Ringing: you hear the phone network.")
        assert (await alice.hears())["codec"] == "audio/PCMU"  # the ringback, before the answer
        await screenshot(alice.page, "uc1-early-media")
        async with api(platform) as c:
            assert (await c.post(f"/phones/{RACHEL}/answer")).status_code == 200
    finally:
        async with api(platform) as c:
            await c.post(f"/phones/{RACHEL}/ringback", json={"on": False})
    await expect(alice.page.locator(".call-state")).to_have_text("Connected")
    await expect(alice.page.locator(".call .peer")).to_have_text("Rachel Valdez")
    await expect(alice.page.locator(".call .peer-about")).to_have_text(f"Wide World Importers · {RACHEL}")
    await alice.page.wait_for_function("() => document.querySelector('.my-level meter').value > 0.01")  # her mic
    await expect(alice.page.locator(".call-timer")).to_have_text("0:02", timeout=5000)
    await screenshot(alice.page, "uc1-connected")

    await alice.page.get_by_role("button", name="Hang up").click()
    await expect(alice.page.locator(".end-reason")).to_have_text("The call ended.")
    await wait_for_phone(platform, RACHEL, lambda p: p["state"] == "idle")
    assert abs(await phone_heard(platform, RACHEL) - BROWSER_HZ) < 15

    await alice.page.get_by_role("button", name="Back to home").click()
    await alice.page.get_by_role("link", name="History").click()
    entry = alice.page.locator(".history-entry").first
    await expect(entry).to_contain_text("Rachel Valdez")
    await expect(entry).to_contain_text("The call ended.")
    await expect(entry).to_contain_text("Outgoing")
    recorded = next(r for r in await alice.history() if r["peerRawId"] == f"4:{RACHEL}")  # the newest first
    assert recorded["connectedAt"] and recorded["endReason"] == {"code": 0, "subCode": 0}
    assert recorded["customer"]["name"] == "Rachel Valdez" and recorded["durationS"] > 1
    assert alice.errors == []


async def test_the_dial_pad_checks_numbers_and_a_refusal_is_told_in_words(open_portal: OpenPortal) -> None:
    megan = await open_portal("megan")  # no Teams Phone licence
    number = megan.page.get_by_role("textbox", name="Phone number")
    await number.fill("206 555 0100")
    await megan.page.locator(".dial-pad").get_by_role("button", name="Call").click()
    await expect(megan.page.locator("#dial-help")).to_have_text(
        "Start with + and the country code, e.g. +1 206 555 0100.")
    await expect(number).to_have_attribute("aria-invalid", "true")
    await number.fill("+1 (206) 555-0100")
    await expect(megan.page.locator("#dial-help")).to_have_text("Calls +12065550100.")
    await megan.page.locator(".dial-pad").get_by_role("button", name="Call").click()
    await expect(megan.page.locator(".end-reason")).to_have_text(
        "You have no licence for phone calls: ask your administrator for a Teams Phone licence.")
    await expect(megan.page.locator(".end-detail")).to_contain_text("code 403, subCode 10111")
    assert megan.errors == []


async def test_a_customer_calls_and_two_tabs_ring_until_one_answers(
        platform: Demo, browsers: Browsers) -> None:
    url = browsers.portal.url
    first = await browsers.open("alice")
    await first.page.context.grant_permissions(["notifications"], origin=url)
    second = await another_tab(first, url)
    calls_before = {r["callId"] for r in await first.history()}
    await second.page.evaluate(HIDDEN_TAB_WITH_NOTIFICATIONS_SEEN)
    async with api(platform) as c:
        r = await c.post(f"/phones/{KIM}/dial", json={"to": platform.user("alice")["phone_number"]})
    assert r.status_code == 200, r.text
    for tab in (first, second):
        toast = tab.page.get_by_role("alertdialog", name="Incoming call")
        await expect(toast.locator(".caller-name")).to_have_text("Kim Akers")
        await expect(toast.locator(".caller-about")).to_have_text(f"Adatum Corporation · {KIM}")
        await expect(toast.locator(".caller-notes")).to_have_text(NOTES["Adatum Corporation"])
        assert await tab.page.evaluate("window.portal.ringer.ringing") is True
    await screenshot(second.page, "uc2-incoming")
    assert await second.page.evaluate("window.notified") == [["Kim Akers is calling",
                                                              f"Adatum Corporation\n{NOTES['Adatum Corporation']}"]]
    assert await first.page.evaluate("window.notified ?? null") is None  # a visible tab shows its toast only

    await expect(first.page.get_by_role("button", name="Answer")).to_be_focused()
    await first.page.keyboard.press("Enter")  # the toast takes the focus: a key answers
    await expect(second.page.get_by_role("alertdialog", name="Incoming call")).to_have_count(0)
    assert await second.page.evaluate("window.portal.ringer.ringing") is False
    assert await second.page.evaluate("window.notificationsClosed") == 1
    await expect(second.page.locator(".toast.note")).to_have_text("Kim Akers: The call was answered on another device.")
    assert await first.page.evaluate("window.portal.ringer.ringing") is False
    await expect(first.page.locator(".call-state")).to_have_text("Connected")
    await expect(first.page.locator(".call .peer")).to_have_text("Kim Akers")
    await wait_for_phone(platform, KIM, lambda p: p["state"] == "connected")
    assert (await first.hears())["codec"] == "audio/PCMU"
    await asyncio.sleep(2.0)  # two seconds of the browser's tone at the phone

    async with api(platform) as c:
        assert (await c.post(f"/phones/{KIM}/hangup")).status_code == 200
    await expect(first.page.locator(".end-reason")).to_have_text("The other side hung up.")
    assert abs(await phone_heard(platform, KIM) - BROWSER_HZ) < 15
    # one entry for the call, though two tabs rang (the tab that answered records it)
    entries = await first.new_calls(calls_before)
    assert [(e["direction"], e["peerRawId"], e["customer"]["name"]) for e in entries] == \
        [("incoming", f"4:{KIM}", "Kim Akers")]
    assert first.errors == [] and second.errors == []


async def test_a_phone_that_is_busy_declines_or_is_unreachable_is_told_in_words(
        platform: Demo, open_portal: OpenPortal) -> None:
    omar = CUSTOMERS[3][0]
    alice = await open_portal("alice")
    outcomes = {"busy": ("The number is busy.", "code 486, subCode 560486"),
                "decline": ("The call was declined.", "code 603, subCode 560603"),
                "unavailable": ("The phone could not be reached.", "code 480, subCode 560480")}
    try:
        for mode, (words, codes) in outcomes.items():
            async with api(platform) as c:
                assert (await c.post(f"/phones/{omar}/mode", json={"mode": mode})).status_code == 200
            await alice.page.get_by_role("textbox", name="Phone number").fill(omar)
            await alice.page.locator(".dial-pad").get_by_role("button", name="Call").click()
            await expect(alice.page.locator(".end-reason")).to_have_text(words)
            await expect(alice.page.locator(".call .peer")).to_have_text("Omar Farouk")  # a customer's number
            await expect(alice.page.locator(".end-detail")).to_contain_text(codes)
            await alice.page.get_by_role("button", name="Back to home").click()
    finally:
        async with api(platform) as c:
            await c.post(f"/phones/{omar}/mode", json={"mode": "manual"})
    assert alice.errors == []
