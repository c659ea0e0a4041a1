"""Fixtures of the portal's page tests: the REAL callbridge (with its built-in carrier and the conference mixer), the
REAL portal server in front of it (src/portal, served as `callbridge demo` serves it, Fabrikam's customers seeded from
the carrier's phones), and Debian's chromium with a fake microphone playing 750 Hz (tests/browser's fixtures).

``sign_in(who)`` is a person signing in: the portal's "Sign in", callbridge's sign-in page (and its consent page
when it shows), back on Home. ``open_portal(who)`` is that person opening the portal on another device: the first
time it signs in through the pages, later it starts a fresh browser context from the signed-in cookies (the server
keeps the tokens per user), and waits until the page says calling is ready. ``another_tab(tab)`` opens a second tab
of the same browser."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from portal.demo import seed
from tests.browser.conftest import BROWSER_HZ, browser, chromium  # noqa: F401 - fixtures of this tier too
from tests.conftest import Demo
from tests.integration.test_carrier_api import carrier_server
from tests.portal.conftest import RunningPortal, portal_settings, serve_portal
from tests.support.server import free_port

TIMEOUT_MS = 15_000
# Every tab's fake microphone plays the same steady 750 Hz (one file per browser). Chrome's voice processing takes
# a steady tone for noise, or for the echo of the same tone it plays from the others, and brings it down to almost
# nothing within seconds (tests/browser/test_browser_calling.py measures it), so a test could not tell a silent
# call from a working one by its audio energy. People's voices are neither steady nor alike: the tests' microphones
# are opened without the voice processing.
NO_VOICE_PROCESSING = """(() => {
    const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = (constraints) => {
        if (constraints && constraints.audio) {
            const audio = constraints.audio === true ? {} : constraints.audio;
            constraints = { ...constraints, audio: { ...audio, echoCancellation: false, autoGainControl: false,
                                                      noiseSuppression: false } };
        }
        return open(constraints);
    };
})();"""
__all__ = ["BROWSER_HZ"]


@pytest.fixture(scope="package")
def portal_ui_port() -> int:
    return free_port()


@pytest.fixture(scope="package")
def platform(tmp_path_factory: pytest.TempPathFactory, portal_ui_port: int) -> Iterator[Demo]:
    """callbridge as `callbridge demo` runs it: the carrier in the server, the portal registered as the demo app's
    redirect URI."""
    with carrier_server(tmp_path_factory.mktemp("portal-callbridge"),
                        demo_portal_url=f"https://localhost:{portal_ui_port}") as (demo, _app):
        yield demo


@pytest.fixture(scope="package")
def portal(platform: Demo, tmp_path_factory: pytest.TempPathFactory, portal_ui_port: int) -> Iterator[RunningPortal]:
    settings = portal_settings(platform, tmp_path_factory.mktemp("portal"), portal_ui_port)
    asyncio.run(seed(settings, Path(platform.settings.data_dir) / "demo.json"))
    with serve_portal(settings, platform) as running:
        yield running


class PortalTab:
    """One tab of the portal, and what went wrong in it (uncaught errors, console lines)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.console: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))

    async def ready(self) -> None:
        await self.page.locator("#portal[data-ready=true]").wait_for()
        await self.page.locator(".connection", has_text="Ready for calls").wait_for()

    async def inbound_audio(self) -> dict[str, object] | None:
        result = await self.page.evaluate("window.portal.inboundAudio()")
        return dict(result) if result else None

    async def hears(self, timeout: float = 15.0) -> dict[str, object]:
        """getStats() of the call on screen, once inbound audio packets have arrived and carried sound (audio
        energy above silence: the other side's tone, not just packets)."""
        deadline = time.monotonic() + timeout
        while True:
            stats = await self.inbound_audio()
            if stats and int(str(stats["packetsReceived"])) > 0 and int(str(stats["bytesReceived"])) > 0 \
                    and float(str(stats.get("totalAudioEnergy") or 0)) > 1e-4:
                return stats
            if time.monotonic() > deadline:
                report = await self.page.evaluate("""async () => [...(await window.portal.phone.session.call
                    .getStats()).values()].map((s) => `${s.type} ${s.state ?? ''} ${s.dtlsState ?? ''}`)""")
                raise AssertionError(f"no inbound audio: {stats}; stats: {report}; console: {self.console[-20:]}")
            await asyncio.sleep(0.1)

    async def history(self) -> list[dict[str, Any]]:
        """The signed-in person's call history, as the portal's server keeps it (the page's own session)."""
        return list(await self.page.evaluate(
            "async () => (await (await fetch('/api/history', {credentials: 'same-origin'})).json()).value"))

    async def new_calls(self, known: set[str], timeout: float = 10.0) -> list[dict[str, Any]]:
        """The history's calls whose ids are not in ``known``, once there are some (a page records a call when it
        ends), and a moment longer so that a second, wrong entry would show too."""
        deadline = time.monotonic() + timeout
        while not [c for c in await self.history() if c["callId"] not in known]:
            if time.monotonic() > deadline:
                raise AssertionError("the call never reached the history")
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        return [c for c in await self.history() if c["callId"] not in known]


class Browsers:
    """The browser contexts a test opened (closed after it), and each person's signed-in cookies (for the package)."""

    def __init__(self, chromium_browser: Browser, portal: RunningPortal, sessions: dict[str, Any]) -> None:
        self.browser, self.portal, self.sessions = chromium_browser, portal, sessions
        self.contexts: list[BrowserContext] = []

    async def context(self, **options: Any) -> BrowserContext:
        context = await self.browser.new_context(ignore_https_errors=True, **options)
        context.set_default_timeout(TIMEOUT_MS)
        await context.add_init_script(NO_VOICE_PROCESSING)
        self.contexts.append(context)
        return context

    async def sign_in(self, who: str, **options: Any) -> PortalTab:
        """A fresh browser: the portal's home page, "Sign in", callbridge's sign-in (and consent) page, back Home."""
        demo = self.portal.callbridge
        tab = PortalTab(await (await self.context(**options)).new_page())
        page, user = tab.page, demo.user(who)
        await page.goto(f"{self.portal.url}/")
        await page.get_by_role("link", name=re.compile("^Sign in")).first.click()
        await page.wait_for_url(f"{demo.base_url}/**")
        await page.get_by_label("Email or user name").fill(user["upn"])
        await page.get_by_label("Password").fill(user["password"])
        await page.get_by_role("button", name="Sign in").click()
        accept = page.get_by_role("button", name="Accept")
        home = re.compile(re.escape(self.portal.url) + r"/(#.*)?$")
        while not home.match(page.url):
            await page.wait_for_load_state()
            if await accept.count():
                await accept.click()
            await page.wait_for_timeout(50)
            if not (page.url.startswith(self.portal.url) or page.url.startswith(demo.base_url)):
                raise AssertionError(f"sign-in went astray: {page.url}")
        await tab.ready()  # callbridge's SDK loaded and its socket connected under the server's CSP
        await expect(page.locator(".me-name")).to_have_text(user["display_name"])
        assert not [line for line in tab.console if "Content Security Policy" in line], tab.console
        self.sessions[who] = await page.context.storage_state()
        return tab

    async def open(self, who: str, **options: Any) -> PortalTab:
        if who not in self.sessions:
            return await self.sign_in(who, **options)
        context = await self.context(storage_state=self.sessions[who], **options)
        tab = PortalTab(await context.new_page())
        await tab.page.goto(f"{self.portal.url}/")
        await tab.ready()
        return tab

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


@pytest.fixture(scope="package")
def sessions() -> dict[str, Any]:
    return {}


@pytest.fixture
async def browsers(portal: RunningPortal, browser: Browser,  # noqa: F811
                   sessions: dict[str, Any]) -> AsyncIterator[Browsers]:
    opened = Browsers(browser, portal, sessions)
    yield opened
    await opened.close()


OpenPortal = Callable[[str], Awaitable[PortalTab]]


@pytest.fixture
def open_portal(browsers: Browsers) -> OpenPortal:
    return browsers.open


async def another_tab(tab: PortalTab, url: str) -> PortalTab:
    second = PortalTab(await tab.page.context.new_page())
    await second.page.goto(url)
    await second.ready()
    return second


async def screenshot(page: Page, name: str, *, full_page: bool = False) -> None:
    """With CALLBRIDGE_SCREENSHOTS=<dir> (how the README's pictures are made), the page as a person sees it."""
    folder = os.environ.get("CALLBRIDGE_SCREENSHOTS")
    if folder:
        await page.screenshot(path=str(Path(folder) / f"portal-{name}.png"), full_page=full_page)
