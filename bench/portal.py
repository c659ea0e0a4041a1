"""The portal as a person meets it, in Debian's chromium on loopback, each figure beside a baseline of the same run:

- incoming call to the toast: a carrier phone dials Alice, who has the portal open (signed in through callbridge's
  sign-in page) and, in a second tab, callbridge's bare SDK test page (``/sdk/test.html``) connected as her too.
  The same call rings both; each page notes (a MutationObserver, epoch milliseconds) when its incoming call
  appears: the portal's toast, which waits for ``/api/customers/lookup`` to name the caller, and the test page's
  "is calling" section (the SDK's ``incomingCall`` event, nothing else: the baseline). From just before the
  carrier API's dial request; then the phone hangs up and both pages are idle again before the next call.
- home page ready: a new tab of the signed-in portal until it says "Ready for calls" (``/api/me`` through Graph,
  the communication token through the exchange, the SDK's import and its WebSocket), beside a new tab of the SDK
  test page until "Connected" (the SDK's import and its WebSocket with a token already in hand).

Run from the repository root (about a minute)::

    PYTHONPATH=src .venv/bin/python -m bench.portal [--calls 50] [--loads 20]

It starts a throwaway callbridge with its carrier and a portal in this process, with the tests' helpers.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from tests.browser.conftest import BROWSER_HZ, CHROMIUM, write_tone
from tests.integration.test_carrier_api import api, carrier_server, wait_for_phone
from tests.portal.conftest import RunningPortal, portal_settings, serve_portal
from tests.portal_ui.conftest import Browsers
from tests.support.server import free_port

from callbridge.demo import CUSTOMERS
from portal.demo import seed

CALLER = CUSTOMERS[0][0]
NOTE_SHOWN = """(selector) => {
    window.benchShown = null;
    const check = () => {
        const el = document.querySelector(selector);
        if (window.benchShown !== null || !el || el.hidden) return;
        window.benchShown = performance.timeOrigin + performance.now();
    };
    new MutationObserver(check).observe(document.body, { subtree: true, childList: true, attributes: true });
}"""
PORTAL_TOAST = ".toasts [role=alertdialog]"
TEST_PAGE_INCOMING = "#incoming"


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):7.1f} ms  p99 {p99:7.1f} ms  (n={len(ordered)})"


async def launch(playwright: object, folder: Path) -> Browser:
    tone = write_tone(folder / "tone.wav", BROWSER_HZ)
    chromium = playwright.chromium  # type: ignore[attr-defined]
    browser: Browser = await chromium.launch(executable_path=CHROMIUM, headless=True, args=[
        "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={tone}", "--allow-loopback-in-peer-connection",
        "--disable-features=WebRtcHideLocalIpsWithMdns,LocalNetworkAccessChecks", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
        "--autoplay-policy=no-user-gesture-required"])
    return browser


async def portal_ready(context: BrowserContext, url: str) -> float:
    page = await context.new_page()
    started = time.perf_counter()
    await page.goto(url)
    await page.locator("#portal[data-ready=true]").wait_for()
    await page.locator(".connection", has_text="Ready for calls").wait_for()
    took = (time.perf_counter() - started) * 1000
    await page.close()
    return took


async def test_page_ready(context: BrowserContext, url: str) -> float:
    page = await context.new_page()
    started = time.perf_counter()
    await page.goto(url)
    await page.locator("#connection").filter(has_text="Connected").wait_for()
    took = (time.perf_counter() - started) * 1000
    await page.close()
    return took


async def shown_at(page: Page) -> float:
    """The page's own note of when the call appeared (polled from here: the CSP forbids wait_for_function's eval,
    and the poll's period does not touch the figure)."""
    deadline = time.monotonic() + 15
    while (shown := await page.evaluate("window.benchShown")) is None:
        if time.monotonic() > deadline:
            raise TimeoutError("the incoming call did not show")
        await asyncio.sleep(0.01)
    return float(shown)


async def toasts(real: RunningPortal, portal_tab: Page, test_tab: Page, calls: int) -> tuple[list[float], list[float]]:
    demo = real.callbridge
    alice = demo.user("alice")["phone_number"]
    portal_ms: list[float] = []
    sdk_ms: list[float] = []
    await portal_tab.evaluate(NOTE_SHOWN, PORTAL_TOAST)
    await test_tab.evaluate(NOTE_SHOWN, TEST_PAGE_INCOMING)
    async with api(demo) as carrier:
        for _ in range(calls):
            dialled = time.time() * 1000
            r = await carrier.post(f"/phones/{CALLER}/dial", json={"to": alice})
            assert r.status_code == 200, r.text
            portal_ms.append(await shown_at(portal_tab) - dialled)
            sdk_ms.append(await shown_at(test_tab) - dialled)
            assert (await carrier.post(f"/phones/{CALLER}/hangup")).status_code == 200
            await portal_tab.locator(PORTAL_TOAST).wait_for(state="detached")
            await test_tab.locator(TEST_PAGE_INCOMING).wait_for(state="hidden")
            await wait_for_phone(demo, CALLER, lambda p: p["state"] == "idle")
            for tab in (portal_tab, test_tab):
                await tab.evaluate("window.benchShown = null")
    return portal_ms, sdk_ms


async def run(real: RunningPortal, folder: Path, calls: int, loads: int) -> None:
    demo = real.callbridge
    test_url = f"{demo.base_url}/sdk/test.html#token={demo.communication_token('alice')}"
    async with async_playwright() as playwright:
        browser = await launch(playwright, folder)
        alice = await Browsers(browser, real, {}).sign_in("alice")
        context = alice.page.context
        for _ in range(2):  # warm-up: modules cached, connections open, as for a person's second visit
            await portal_ready(context, f"{real.url}/")
            await test_page_ready(context, test_url)
        portal_loads, sdk_loads = [], []
        for _ in range(loads):
            portal_loads.append(await portal_ready(context, f"{real.url}/"))
            sdk_loads.append(await test_page_ready(context, test_url))
        test_tab = await context.new_page()
        await test_tab.goto(test_url)
        await test_tab.locator("#connection").filter(has_text="Connected").wait_for()
        portal_ms, sdk_ms = await toasts(real, alice.page, test_tab, calls)
        await browser.close()
    print("incoming call, carrier dials -> shown in the page")
    print(f"  portal toast (named from the customer database)  {summary(portal_ms)}")
    print(f"  baseline: SDK test page's incoming call          {summary(sdk_ms)}")
    print("page ready on loopback (new tab, warm cache)")
    print(f"  portal home, 'Ready for calls'                   {summary(portal_loads)}")
    print(f"  baseline: SDK test page, 'Connected'             {summary(sdk_loads)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--loads", type=int, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    port = free_port()
    with carrier_server(folder / "callbridge", demo_portal_url=f"https://localhost:{port}") as (demo, _app):
        settings = portal_settings(demo, folder / "portal", port)
        asyncio.run(seed(settings, Path(demo.settings.data_dir) / "demo.json"))
        with serve_portal(settings, demo) as real:
            asyncio.run(run(real, folder, args.calls, args.loads))


if __name__ == "__main__":
    main()
