"""Fixtures of the portal's page tests: the REAL callbridge (with its built-in carrier and the conference mixer),
the stub portal server in front of it (stub.py; the lead swaps in the real portal server), and Debian's chromium
with a fake microphone playing 750 Hz (tests/browser's fixtures). ``open_portal("alice")`` signs a fresh browser
context in and waits until the page says calling is ready; ``another_tab(tab)`` opens a second tab of the same
person (the same cookies)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page

from tests.browser.conftest import BROWSER_HZ, browser, chromium  # noqa: F401 - fixtures of this tier too
from tests.conftest import Demo
from tests.integration.test_carrier_api import carrier_server
from tests.portal_ui.stub import StubState, running_stub

TIMEOUT_MS = 15_000
__all__ = ["BROWSER_HZ"]


@pytest.fixture(scope="package")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """callbridge as `callbridge demo` runs it: the carrier in the server, ring time 10 s."""
    with carrier_server(tmp_path_factory.mktemp("portal-callbridge")) as (demo, _app):
        yield demo


@pytest.fixture(scope="package")
def stub(platform: Demo) -> Iterator[tuple[str, StubState]]:
    with running_stub(platform) as served:
        yield served


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
        """getStats() of the call on screen, once inbound audio packets and bytes have arrived."""
        deadline = time.monotonic() + timeout
        while True:
            stats = await self.inbound_audio()
            if stats and int(str(stats["packetsReceived"])) > 0 and int(str(stats["bytesReceived"])) > 0:
                return stats
            if time.monotonic() > deadline:
                report = await self.page.evaluate("""async () => [...(await window.portal.phone.session.call
                    .getStats()).values()].map((s) => `${s.type} ${s.state ?? ''} ${s.dtlsState ?? ''}`)""")
                raise AssertionError(f"no inbound audio: {stats}; stats: {report}; console: {self.console[-20:]}")
            await asyncio.sleep(0.1)


OpenPortal = Callable[[str], Awaitable[PortalTab]]


@pytest.fixture
async def open_portal(stub: tuple[str, StubState], browser: Browser) -> AsyncIterator[OpenPortal]:  # noqa: F811
    url, _ = stub
    contexts: list[BrowserContext] = []

    async def open_as(who: str) -> PortalTab:
        context = await browser.new_context(ignore_https_errors=True)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        tab = PortalTab(await context.new_page())
        await tab.page.goto(f"{url}/stub/signin/{who}")
        await tab.ready()
        return tab

    yield open_as
    for context in contexts:
        await context.close()


async def another_tab(tab: PortalTab, url: str) -> PortalTab:
    second = PortalTab(await tab.page.context.new_page())
    await second.page.goto(url)
    await second.ready()
    return second


async def screenshot(page: Page, name: str) -> None:
    """With CALLBRIDGE_SCREENSHOTS=<dir> (how the README's pictures are made), the page as a person sees it."""
    import os

    folder = os.environ.get("CALLBRIDGE_SCREENSHOTS")
    if folder:
        await page.screenshot(path=str(Path(folder) / f"portal-{name}.png"))
