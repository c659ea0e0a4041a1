"""Use cases 1 and 2 from the browser (early media too): Alice's page (the browser SDK in Debian's chromium) calls
a customer's phone number and is called by a customer, through the trunk side, the media gateway and the built-in
carrier (the server's own, driven through its API). The phone sees Alice's number and hears the browser's 750 Hz;
the page shows the customer calling by name, the call's state, inbound PCMU, and how the call ended in words."""

from __future__ import annotations

import asyncio
import io
import wave

import numpy as np
import pytest
from playwright.async_api import expect

from callbridge.demo import CUSTOMERS
from callbridge.sdk.media import dominant_frequency
from tests.browser.conftest import BROWSER_HZ
from tests.browser.test_browser_calling import OpenPage, browser_hears, screenshot
from tests.conftest import Demo
from tests.integration.test_carrier_api import api, carrier_demo, wait_for_phone

__all__ = ["carrier_demo"]

pytestmark = pytest.mark.browser

CUSTOMER, CUSTOMER_NAME = CUSTOMERS[2]


@pytest.fixture
def demo(carrier_demo: Demo) -> Demo:
    """The pages of this module open on the server that runs the carrier."""
    return carrier_demo


async def phone_heard(demo: Demo, number: str) -> float:
    """The dominant frequency of the last second the phone heard in its last call."""
    async with api(demo) as c:
        wav = await c.get(f"/phones/{number}/recording.wav")
    assert wav.status_code == 200, wav.text
    with wave.open(io.BytesIO(wav.content)) as recording:
        samples = np.frombuffer(recording.readframes(recording.getnframes()), dtype="<i2")
    assert len(samples) >= 8000, len(samples)
    return dominant_frequency(samples[-8000:].astype(np.float32) / 32768.0, 8000)


async def test_the_browser_calls_a_customer_who_sees_alices_number(demo: Demo, open_page: OpenPage) -> None:
    """The customer's network plays ringback as early media: the page shows EarlyMedia and audio flows before the
    answer, which connects the same media."""
    alice = await open_page("alice")
    async with api(demo) as c:
        assert (await c.post(f"/phones/{CUSTOMER}/ringback", json={"on": True})).status_code == 200
    try:
        await alice.page.fill("#target", CUSTOMER)
        await alice.page.click("#call")
        ringing = await wait_for_phone(demo, CUSTOMER, lambda p: p["state"] == "ringing")
        assert ringing["call"]["peer"] == demo.user("alice")["phone_number"]  # her own number as caller ID
        await expect(alice.page.locator("#call-state")).to_have_text("EarlyMedia")
        stats = await browser_hears(alice)  # the ringback, before anyone answered
        assert stats["codec"] == "audio/PCMU", stats

        async with api(demo) as c:
            assert (await c.post(f"/phones/{CUSTOMER}/answer")).status_code == 200
    finally:
        async with api(demo) as c:
            await c.post(f"/phones/{CUSTOMER}/ringback", json={"on": False})
    await expect(alice.page.locator("#call-state")).to_have_text("Connected")
    await expect(alice.page.locator("#remote")).to_contain_text(CUSTOMER)
    await asyncio.sleep(2.0)  # two seconds of the browser's tone at the phone

    await alice.page.click("#hangup")
    ended = await wait_for_phone(demo, CUSTOMER, lambda p: p["state"] == "idle")
    assert "hung up by the other side" in ended["call"]["outcome"]
    assert abs(await phone_heard(demo, CUSTOMER) - BROWSER_HZ) < 15
    await expect(alice.page.locator("#end-reason")).to_have_text("The call ended. (0/0)")
    assert alice.errors == []


async def test_a_customer_calls_and_the_page_names_them(demo: Demo, open_page: OpenPage) -> None:
    alice = await open_page("alice")
    async with api(demo) as c:
        r = await c.post(f"/phones/{CUSTOMER}/dial", json={"to": demo.user("alice")["phone_number"]})
    assert r.status_code == 200, r.text
    await expect(alice.page.locator("#incoming")).to_be_visible()
    await expect(alice.page.locator("#caller")).to_have_text(CUSTOMER_NAME)
    await screenshot(alice.page, "sdk-phone-call")
    await alice.page.click("#accept")
    await expect(alice.page.locator("#call-state")).to_have_text("Connected")
    await wait_for_phone(demo, CUSTOMER, lambda p: p["state"] == "connected")
    stats = await browser_hears(alice)
    assert stats["codec"] == "audio/PCMU", stats
    await asyncio.sleep(2.0)

    async with api(demo) as c:
        assert (await c.post(f"/phones/{CUSTOMER}/hangup")).status_code == 200
    await expect(alice.page.locator("#end-reason")).to_have_text("The other side hung up. (0/560000)")
    assert abs(await phone_heard(demo, CUSTOMER) - BROWSER_HZ) < 15
    assert alice.errors == []
