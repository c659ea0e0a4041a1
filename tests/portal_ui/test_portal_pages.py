"""The page around the calls: when callbridge cannot be reached from the browser, everything that needs no calling
still works and the page says in words that calling is unavailable (and a call button says so too); the layout
holds on a phone-sized screen."""

from __future__ import annotations

import pytest
from playwright.async_api import Route, expect

from callbridge.demo import CUSTOMERS
from tests.portal_ui.conftest import Browsers, PortalTab, screenshot

pytestmark = pytest.mark.browser


async def test_without_callbridge_the_rest_works_and_the_page_says_why(browsers: Browsers) -> None:
    callbridge = browsers.portal.callbridge.base_url
    if "alice" not in browsers.sessions:
        await browsers.open("alice")
    context = await browsers.context(storage_state=browsers.sessions["alice"], viewport={"width": 390, "height": 844})

    async def unreachable(route: Route) -> None:
        await route.abort("connectionrefused")
    await context.route(f"{callbridge}/**", unreachable)  # this browser cannot reach callbridge; the portal can
    tab = PortalTab(await context.new_page())
    await tab.page.goto(browsers.portal.url)
    await tab.page.locator("#portal[data-ready=true]").wait_for()
    await expect(tab.page.locator(".connection")).to_have_text("Calling unavailable")
    await expect(tab.page.locator(".problem.global")).to_contain_text(
        f"Calling is unavailable: The calling service at {callbridge} cannot be reached")
    await expect(tab.page.locator(".customer")).to_have_count(len(CUSTOMERS))
    number, label = CUSTOMERS[0]
    await tab.page.get_by_role("button", name=f"Call {label.partition(' (')[0]} at {number}").click()
    await expect(tab.page.locator(".customers > .problem")).to_contain_text(
        "Could not call: Calling is unavailable: The calling service")
    await screenshot(tab.page, "phone-screen")
    width = await tab.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone: {width}px"
    assert tab.errors == []
