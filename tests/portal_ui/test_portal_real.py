"""The pages on the REAL portal server (src/portal, not the stub) in front of the real callbridge with its built-in
carrier, used as people use them: Alice opens the portal, clicks "Sign in", signs in on callbridge's own sign-in
page (and its consent page when it shows) and lands on Home with her name; she calls a customer's phone from the
page and both hear each other; a customer calls her while the portal is open in two tabs, both ring naming the
customer from the portal's customer database, she answers in one and the other stops ringing; Nina of Northwind
sees none of Fabrikam's customers or people. One callbridge and one portal for the whole module."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, expect

from callbridge.demo import CUSTOMERS
from portal.demo import NOTES, seed
from tests.browser.conftest import BROWSER_HZ
from tests.browser.test_browser_phone import phone_heard
from tests.integration.test_carrier_api import api, carrier_server, wait_for_phone
from tests.portal.conftest import RunningPortal, portal_settings, serve_portal
from tests.portal_ui.conftest import TIMEOUT_MS, PortalTab
from tests.support.server import free_port

pytestmark = pytest.mark.browser


def customer(index: int) -> tuple[str, str, str]:
    """(number, name, company) of one of the carrier's phones, as the demo seeds it into the portal."""
    number, label = CUSTOMERS[index]
    name, _, company = label.partition(" (")
    return number, name, company.rstrip(")")


KIM, RACHEL = customer(0), customer(2)


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPortal]:
    """callbridge with its carrier, the portal registered as the demo app's redirect URI, Fabrikam's customers
    seeded, and the portal served as `callbridge demo` serves it."""
    port = free_port()
    with carrier_server(tmp_path_factory.mktemp("real-callbridge"),
                        demo_portal_url=f"https://localhost:{port}") as (demo, _app):
        settings = portal_settings(demo, tmp_path_factory.mktemp("real-portal"), port)
        asyncio.run(seed(settings, Path(demo.settings.data_dir) / "demo.json"))
        with serve_portal(settings, demo) as running:
            yield running


@pytest.fixture
async def contexts(browser: Browser) -> AsyncIterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    yield made
    for context in made:
        await context.close()


async def sign_in(real: RunningPortal, browser: Browser, contexts: list[BrowserContext], who: str) -> PortalTab:
    """A fresh browser: the portal's home page, "Sign in", callbridge's sign-in (and consent) page, back Home."""
    context = await browser.new_context(ignore_https_errors=True)
    context.set_default_timeout(TIMEOUT_MS)
    contexts.append(context)
    tab = PortalTab(await context.new_page())
    page = tab.page
    user: dict[str, Any] = real.callbridge.user(who)
    await page.goto(f"{real.url}/")
    await page.get_by_role("link", name=re.compile("^Sign in")).first.click()
    await page.wait_for_url(f"{real.callbridge.base_url}/**")
    await page.get_by_label("Email or user name").fill(user["upn"])
    await page.get_by_label("Password").fill(user["password"])
    await page.get_by_role("button", name="Sign in").click()
    accept = page.get_by_role("button", name="Accept")
    home = re.compile(re.escape(real.url) + r"/(#.*)?$")
    while not home.match(page.url):
        await page.wait_for_load_state()
        if await accept.count():
            await accept.click()
        await page.wait_for_timeout(50)
        if not (page.url.startswith(real.url) or page.url.startswith(real.callbridge.base_url)):
            raise AssertionError(f"sign-in went astray: {page.url}")
    await tab.ready()  # callbridge's SDK loaded and its socket connected under the server's CSP
    await expect(page.locator(".me-name")).to_have_text(user["display_name"])
    assert not [line for line in tab.console if "Content Security Policy" in line], tab.console
    return tab


async def test_alice_signs_in_and_calls_a_customer_who_hears_her(real: RunningPortal, browser: Browser,
                                                                 contexts: list[BrowserContext]) -> None:
    demo = real.callbridge
    alice = await sign_in(real, browser, contexts, "alice")
    await expect(alice.page.locator(".me-tenant")).to_have_text("Fabrikam")  # Graph's /organization
    number, name, _ = RACHEL
    await alice.page.get_by_role("button", name=f"Call {name} at {number}").click()
    ringing = await wait_for_phone(demo, number, lambda p: p["state"] == "ringing")
    assert ringing["call"]["peer"] == demo.user("alice")["phone_number"]
    async with api(demo) as c:
        assert (await c.post(f"/phones/{number}/answer")).status_code == 200
    await expect(alice.page.locator(".call-state")).to_have_text("Connected")
    await expect(alice.page.locator(".call .peer")).to_have_text(name)
    stats = await alice.hears()  # the page receives the phone's audio
    assert stats["codec"] == "audio/PCMU"
    await expect(alice.page.locator(".call-timer")).to_have_text("0:02", timeout=5000)
    await alice.page.get_by_role("button", name="Hang up").click()
    await expect(alice.page.locator(".end-reason")).to_have_text("The call ended.")
    await wait_for_phone(demo, number, lambda p: p["state"] == "idle")
    assert abs(await phone_heard(demo, number) - BROWSER_HZ) < 15  # the phone heard the browser's tone
    await alice.page.get_by_role("button", name="Back to home").click()
    await alice.page.get_by_role("link", name="History").click()
    await expect(alice.page.locator(".history-entry").first).to_contain_text(name)
    assert alice.errors == [], alice.errors


async def test_a_customer_rings_two_tabs_named_from_the_portal_database(real: RunningPortal, browser: Browser,
                                                                        contexts: list[BrowserContext]) -> None:
    demo = real.callbridge
    first = await sign_in(real, browser, contexts, "alice")
    second = PortalTab(await first.page.context.new_page())
    await second.page.goto(f"{real.url}/")
    await second.ready()
    number, name, company = KIM
    async with api(demo) as c:
        r = await c.post(f"/phones/{number}/dial", json={"to": demo.user("alice")["phone_number"]})
    assert r.status_code == 200, r.text
    for tab in (first, second):
        toast = tab.page.get_by_role("alertdialog", name="Incoming call")
        await expect(toast.locator(".caller-name")).to_have_text(name)
        await expect(toast.locator(".caller-about")).to_have_text(f"{company} · {number}")
        await expect(toast.locator(".caller-notes")).to_have_text(NOTES[company])
        assert await tab.page.evaluate("window.portal.ringer.ringing") is True
    await first.page.get_by_role("alertdialog", name="Incoming call").get_by_role("button", name="Answer").click()
    await expect(second.page.get_by_role("alertdialog", name="Incoming call")).to_have_count(0)
    assert await second.page.evaluate("window.portal.ringer.ringing") is False
    await expect(first.page.locator(".call-state")).to_have_text("Connected")
    await expect(first.page.locator(".call .peer")).to_have_text(name)
    await wait_for_phone(demo, number, lambda p: p["state"] == "connected")
    assert (await first.hears())["packetsReceived"]
    async with api(demo) as c:
        assert (await c.post(f"/phones/{number}/hangup")).status_code == 200
    await expect(first.page.locator(".end-reason")).to_have_text("The other side hung up.")
    assert first.errors == [] and second.errors == []


async def test_nina_of_northwind_sees_nothing_of_fabrikam(real: RunningPortal, browser: Browser,
                                                          contexts: list[BrowserContext]) -> None:
    demo = real.callbridge
    nina = await sign_in(real, browser, contexts, "nina")
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
    assert nina.errors == [], nina.errors
