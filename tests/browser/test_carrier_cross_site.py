"""A page of another origin, opened in the operator's Chromium, tries to dial a virtual phone of the carrier (the
classic cross-site request: a ``no-cors`` fetch with a ``text/plain`` JSON body, and a form posting JSON-shaped
text); the phone stays idle. And the carrier's page says so when it may open no event stream, then goes live."""

from __future__ import annotations

import contextlib
import http.server
import ssl
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect
from prometheus_client import REGISTRY

from callbridge.demo import CUSTOMERS
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.test_carrier_page import phone_on_api
from tests.conftest import Demo
from tests.integration.test_calling_audio import until
from tests.integration.test_carrier_api import carrier_demo
from tests.support.server import free_port

__all__ = ["carrier_demo"]

pytestmark = pytest.mark.browser

VICTIM = CUSTOMERS[3][0]

ATTACK = """<!doctype html><html><body>
<iframe name="sink" id="sink"></iframe>
<form id="form" method="POST" enctype="text/plain" target="sink" action="{url}">
  <input name='{{"to": "{to}", "x": "' value='"}}'>
</form>
<script>
window.fetched = fetch("{url}", {{method: "POST", mode: "no-cors", body: JSON.stringify({{to: "{to}"}}),
                                  headers: {{"Content-Type": "text/plain"}}}}).then(() => "sent", (e) => String(e));
window.posted = new Promise((resolve) => {{ document.getElementById("sink").onload = () => resolve("posted"); }});
document.getElementById("form").submit();
</script></body></html>"""


def refused_actions() -> float:
    """Phone actions the server (in this process) refused as cross-origin (403) or not JSON (415)."""
    return sum(sample.value for metric in REGISTRY.collect() if metric.name == "callbridge_http_requests"
               for sample in metric.samples if sample.name.endswith("_total")
               and sample.labels.get("route", "").startswith("/carrier/api/phones")
               and sample.labels.get("status") in ("403", "415"))


@contextlib.contextmanager
def attacker_site(page: str, directory: Path) -> Iterator[str]:
    """A plain HTTP server on another port of localhost (same site, another origin) serving ``page``."""
    (directory / "attack.html").write_text(page)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/attack.html"
    finally:
        server.shutdown()
        server.server_close()


async def test_a_page_of_another_origin_cannot_dial(carrier_demo: Demo, browser: Browser, tmp_path: Path) -> None:
    url = f"{carrier_demo.base_url}/carrier/api/phones/{VICTIM}/dial"
    to = carrier_demo.user("alice")["phone_number"]
    context = await browser.new_context(ignore_https_errors=True)  # the test server's CA is a local one
    context.set_default_timeout(TIMEOUT_MS)
    before = refused_actions()
    try:
        with attacker_site(ATTACK.format(url=url, to=to), tmp_path) as attack_url:
            page = await context.new_page()
            await page.goto(attack_url)
            assert await page.evaluate("window.fetched") == "sent"  # the request left the browser
            assert await page.evaluate("window.posted") == "posted"  # and so did the form
            # the refusals' bodies cannot be read here (every answer forbids framing), but the server counts them
            await until(lambda: refused_actions() >= before + 2, 10)
        phone = phone_on_api(carrier_demo, VICTIM)
        assert (phone["state"], phone["call"]) == ("idle", None)
    finally:
        await context.close()


async def test_the_page_says_when_it_may_not_listen_then_goes_live(carrier_demo: Demo, browser: Browser) -> None:
    held: list[httpx.Response] = []
    context = await browser.new_context(ignore_https_errors=True)
    context.set_default_timeout(TIMEOUT_MS)
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=carrier_demo.ca_file)) as client:
        try:
            while (r := await client.send(client.build_request("GET", f"{carrier_demo.base_url}/carrier/api/events"),
                                          stream=True)).status_code == 200:  # every place this address may hold
                held.append(r)
                assert len(held) <= carrier_demo.settings.carrier_streams_per_client
            assert r.status_code == 429
            page = await context.new_page()
            await page.goto(f"{carrier_demo.base_url}/carrier")
            await expect(page.locator("#connection")).to_contain_text("too many carrier pages")
            for response in held:
                await response.aclose()
            await expect(page.locator("#connection")).to_have_text("live", timeout=TIMEOUT_MS)
            await expect(page.locator("#phones tr")).to_have_count(len(CUSTOMERS))
        finally:
            for response in held:
                await response.aclose()
            await context.close()
