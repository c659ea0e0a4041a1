"""Fixtures of the browser tier: Debian's chromium (never a downloaded browser) driven by playwright, with a fake
microphone playing a 750 Hz tone, on pages of the test server that load the browser SDK (/sdk/calling.js).

A missing /usr/bin/chromium fails these tests (scripts/system-deps.sh installs it as root);
CALLBRIDGE_SKIP_BROWSER=1 skips them instead.
"""

from __future__ import annotations

import os
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from playwright.async_api import Browser, Page, async_playwright

from callbridge.sdk import CallClient, CommunicationTokenCredential, TeamsCallAgent
from tests.conftest import Demo
from tests.support.ice import loopback_ice  # noqa: F401 - the module's autouse fixture

CHROMIUM = "/usr/bin/chromium"
SKIP_BROWSER = "CALLBRIDGE_SKIP_BROWSER"
BROWSER_HZ = 750.0
TIMEOUT_MS = 10_000


def write_tone(path: Path, frequency: float, seconds: float = 2.0, rate: int = 48_000) -> Path:
    """A 16-bit mono WAV of a sine with a whole number of cycles, so the fake microphone loops it seamlessly."""
    t = np.arange(int(seconds * rate)) / rate
    pcm = (np.sin(2 * np.pi * frequency * t) * 0.3 * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
    return path


@pytest.fixture(scope="session")
def chromium() -> str:
    if os.environ.get(SKIP_BROWSER) == "1":
        pytest.skip(f"{SKIP_BROWSER}=1")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `make test` as root (scripts/system-deps.sh installs Debian's "
                    f"chromium), or set {SKIP_BROWSER}=1", pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Browser]:
    tone = write_tone(tmp_path_factory.mktemp("audio") / "tone750.wav", BROWSER_HZ)
    # LocalNetworkAccessChecks off: a page the test serves through playwright's routing (no address of its own)
    # counts as public to Chromium, which then refuses its WebSocket to the service on localhost
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=chromium, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={tone}", "--allow-loopback-in-peer-connection",
            "--disable-features=WebRtcHideLocalIpsWithMdns,LocalNetworkAccessChecks", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
            "--autoplay-policy=no-user-gesture-required"])
        yield launched
        await launched.close()



class PageOf:
    """A tab of the test page (/sdk/test.html) signed in as someone, and what went wrong in it."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.console: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))

    async def inbound_audio(self) -> dict[str, object] | None:
        result = await self.page.evaluate("window.callbridgeTest.inboundAudio()")
        return dict(result) if result else None


@pytest.fixture
async def open_page(demo: Demo, browser: Browser) -> AsyncIterator[object]:
    """``await open_page("megan")``: a fresh context (its own microphone, cookies) with the test page connected."""
    contexts = []

    async def open_as(who: str) -> PageOf:
        context = await browser.new_context(ignore_https_errors=True)  # the test server's CA is a local one
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        tab = PageOf(await context.new_page())
        await tab.page.goto(f"{demo.base_url}/sdk/test.html#token={demo.communication_token(who)}")
        await tab.page.locator("#connection").filter(has_text="Connected").wait_for()
        return tab

    yield open_as
    for context in contexts:
        await context.close()


@pytest.fixture
async def alice(demo: Demo) -> AsyncIterator[TeamsCallAgent]:
    client = CallClient(demo.base_url, ca_file=demo.ca_file)
    agent = await client.create_teams_call_agent(CommunicationTokenCredential(demo.communication_token("alice")))
    yield agent
    await agent.dispose()
