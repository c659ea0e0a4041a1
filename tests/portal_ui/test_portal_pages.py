"""The page around the calls: signed out, it offers the sign-in; when callbridge cannot be reached, everything that
needs no calling still works and the page says in words that calling is unavailable (and a call button says so
too); the layout holds on a phone-sized screen."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.portal_ui.conftest import TIMEOUT_MS, PortalTab, screenshot
from tests.portal_ui.stub import StubState

pytestmark = pytest.mark.browser


async def test_signed_out_the_page_offers_the_sign_in(stub: tuple[str, StubState], browser: Browser) -> None:
    context = await browser.new_context(ignore_https_errors=True)
    try:
        tab = PortalTab(await context.new_page())
        await tab.page.goto(stub[0])
        sign_in = tab.page.get_by_role("link", name="Sign in with your organisation account")
        await expect(sign_in).to_have_attribute("href", "/signin", timeout=TIMEOUT_MS)
        assert tab.errors == []
    finally:
        await context.close()


async def test_without_callbridge_the_rest_works_and_the_page_says_why(
        stub: tuple[str, StubState], browser: Browser) -> None:
    context = await browser.new_context(ignore_https_errors=True, viewport={"width": 390, "height": 844})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        tab = PortalTab(await context.new_page())
        await tab.page.goto(f"{stub[0]}/stub/signin/alice?sdk=https://localhost:9/sdk/calling.js")
        await tab.page.locator("#portal[data-ready=true]").wait_for()
        await expect(tab.page.locator(".connection")).to_have_text("Calling unavailable")
        await expect(tab.page.locator(".problem.global")).to_contain_text(
            "Calling is unavailable: The calling service at https://localhost:9 cannot be reached")
        await expect(tab.page.locator(".customer")).to_have_count(5)
        await tab.page.get_by_role("button", name="Call Kim Akers at +12065550100").click()
        await expect(tab.page.locator(".customers .problem")).to_contain_text(
            "Could not call: Calling is unavailable: The calling service")
        await screenshot(tab.page, "phone-screen")
        width = await tab.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone: {width}px"
        assert tab.errors == []
    finally:
        await context.close()
