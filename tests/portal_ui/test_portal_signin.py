"""Signing in and out of the portal as people do, and what each organisation sees: Alice opens the portal, clicks
"Sign in", signs in on callbridge's own sign-in page (and its consent page when it shows) and lands on Home with her
name and her organisation's; signed out, the page offers the sign-in; Nina of Northwind sees none of Fabrikam's
customers or people, and when she signs out the portal forgets her tokens and the identity provider ends her
session too."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from callbridge.demo import CUSTOMERS
from tests.portal.conftest import RunningPortal
from tests.portal_ui.conftest import TIMEOUT_MS, Browsers, PortalTab

pytestmark = pytest.mark.browser


async def test_signed_out_the_page_offers_the_sign_in(portal: RunningPortal, browser: Browser) -> None:
    context = await browser.new_context(ignore_https_errors=True)
    try:
        tab = PortalTab(await context.new_page())
        await tab.page.goto(portal.url)
        sign_in = tab.page.get_by_role("link", name="Sign in with your organisation account")
        await expect(sign_in).to_have_attribute("href", "/signin", timeout=TIMEOUT_MS)
        assert tab.errors == []
    finally:
        await context.close()


async def test_alice_signs_in_through_the_sign_in_pages(browsers: Browsers) -> None:
    alice = await browsers.sign_in("alice")  # the portal's "Sign in", callbridge's pages, back Home, calling ready
    await expect(alice.page.locator(".me-tenant")).to_have_text("Fabrikam")  # Graph's /organization
    await expect(alice.page.locator(".customer")).to_have_count(len(CUSTOMERS))
    assert alice.errors == [], alice.errors


async def test_nina_of_northwind_sees_nothing_of_fabrikam_then_signs_out(browsers: Browsers) -> None:
    demo = browsers.portal.callbridge
    nina = await browsers.sign_in("nina")
    await expect(nina.page.locator(".me-tenant")).to_have_text("Northwind")
    customers = nina.page.locator(".customer-list")
    await expect(customers.locator(".empty")).to_have_text("No customer matches.")
    for _, label in CUSTOMERS:
        await expect(customers).not_to_contain_text(label.partition(" (")[0])
    fabrikam = [u["display_name"] for u in demo.tenant("Fabrikam")["users"]]
    northwind = [u["display_name"] for u in demo.tenant("Northwind")["users"] if u["display_name"] != "Nina Olsen"]
    people = nina.page.locator(".people-list")
    await expect(people.locator(".person").first).to_be_visible()
    listed = await people.locator(".person strong").all_inner_texts()
    assert set(listed) & set(fabrikam) == set() and set(listed) & set(northwind), listed
    directory = nina.page.locator(".directory")
    await directory.get_by_role("searchbox").fill(fabrikam[0].split()[0])
    await directory.get_by_role("button", name="Search").click()
    await expect(people.locator(".empty")).to_have_text("Nobody in your organisation matches.")
    assert await nina.history() == []  # nobody else's calls either
    assert nina.errors == [], nina.errors

    other_device = await browsers.open("nina")  # the same person in another browser
    await nina.page.get_by_role("button", name="Sign out").click()
    await expect(nina.page.get_by_role("link", name="Sign in with your organisation account")).to_be_visible()
    assert nina.page.url.startswith(browsers.portal.url)  # back from the identity provider's sign-out
    browsers.sessions.pop("nina")
    status = await other_device.page.evaluate("async () => (await fetch('/api/me')).status")
    assert status == 401  # the portal forgot her tokens: every device signs in again
