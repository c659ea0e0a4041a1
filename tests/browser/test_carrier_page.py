"""The carrier's page (/carrier) in Debian's chromium: it lists the demo's phones live (Server-Sent Events), a
click dials Alice, whose Python agent accepts, and the row shows the call connected, then hung up."""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect

from callbridge.demo import CUSTOMERS
from callbridge.sdk import TeamsCall, TeamsCallAgent, ToneSource
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.test_browser_calling import screenshot
from tests.conftest import Demo
from tests.integration.test_calling_audio import until
from tests.integration.test_carrier_api import agent_alice, carrier_demo

__all__ = ["agent_alice", "carrier_demo"]

pytestmark = pytest.mark.browser


def phone_on_api(demo: Demo, number: str) -> dict[str, Any]:
    with httpx.Client(verify=ssl.create_default_context(cafile=demo.ca_file)) as c:
        return dict(c.get(f"{demo.base_url}/carrier/api/phones/{number}").json())


async def test_the_page_dials_an_agent_who_accepts(carrier_demo: Demo, agent_alice: TeamsCallAgent,
                                                   browser: Browser) -> None:
    answered: list[TeamsCall] = []

    async def accept(args: object) -> None:
        answered.append(await args.incoming_call.accept(audio=ToneSource(1000.0)))  # type: ignore[attr-defined]

    agent_alice.on("incoming_call", accept)
    alice_number = carrier_demo.user("alice")["phone_number"]
    context = await browser.new_context(ignore_https_errors=True)  # the test server's CA is a local one
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{carrier_demo.base_url}/carrier")
        await expect(page.locator("#phones tr")).to_have_count(len(CUSTOMERS))
        row = page.locator(f'tr[data-number="{CUSTOMERS[1][0]}"]')
        await expect(row.locator(".name")).to_have_text(CUSTOMERS[1][1])
        await expect(row.locator(".state")).to_have_text("idle")
        await row.locator(".ringback").check()  # early media on, as the API then shows
        await until(lambda: phone_on_api(carrier_demo, CUSTOMERS[1][0])["earlyMedia"] is True)
        await row.locator(".ringback").uncheck()
        await until(lambda: phone_on_api(carrier_demo, CUSTOMERS[1][0])["earlyMedia"] is False)

        await row.locator(".dial-to").fill(alice_number)
        await row.locator("button.dial").click()
        await expect(row.locator(".state")).to_have_text("connected")
        await expect(row.locator(".call")).to_have_text(f"call to {alice_number}")
        assert answered
        await until(lambda: phone_on_api(carrier_demo, CUSTOMERS[1][0])["level"] > 0.05)  # Alice's tone
        await expect(row.locator(".meter span")).not_to_have_attribute("style", "width: 0%;")  # on the page too
        await screenshot(page, "carrier-page")

        await row.locator("button.hangup").click()
        await expect(row.locator(".state")).to_have_text("idle")
        await expect(row.locator(".call")).to_have_text(f"last call to {alice_number}: hung up here")
        await answered[0].wait_for_state("Disconnected")
        assert not errors
    finally:
        await context.close()
