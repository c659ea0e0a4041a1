"""The portal's server against a real callbridge: a platform of the folder's own, seeded with the demo data and
with the portal's origin registered as the demo app's redirect URI, and the portal app served in-process by
uvicorn over TLS (callbridge's local CA) on a free port, configured exactly as `callbridge demo` configures it."""

from __future__ import annotations

import asyncio
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
import uvicorn

from portal.app import create_app
from portal.bootstrap import Adapters
from portal.demo import seed
from portal.settings import PortalSettings
from tests.conftest import Demo, seeded_platform
from tests.interop.conftest import parse_form
from tests.support.server import free_port, free_sip_port


@dataclass
class RunningPortal:
    settings: PortalSettings
    app: Any
    callbridge: Demo

    @property
    def url(self) -> str:
        return self.settings.redirect_base

    def browser(self) -> PortalBrowser:
        return PortalBrowser(self)


class PortalBrowser:
    """A person's browser: one cookie jar for the portal and callbridge, following redirects one by one and
    filling callbridge's sign-in and consent pages as they come."""

    def __init__(self, portal: RunningPortal) -> None:
        self.portal = portal
        self.http = httpx.Client(verify=ssl.create_default_context(cafile=portal.callbridge.ca_file), timeout=30)
        self.origin = {"Origin": portal.url}
        self.pages: list[str] = []  # titles of the identity provider's pages seen on the way
        self.trail: list[httpx.Response] = []  # every response on the way

    def close(self) -> None:
        self.http.close()

    def follow(self, response: httpx.Response, fill: Callable[[httpx.Response], httpx.Response | None]) \
            -> httpx.Response:
        for _ in range(20):
            self.trail.append(response)
            if response.is_redirect:
                response = self.http.get(urljoin(str(response.url), response.headers["location"]))
                continue
            filled = fill(response) if response.status_code == 200 else None
            if filled is None:
                return response
            response = filled
        raise AssertionError("too many redirects")

    def sign_in(self, who: str, *, consent: bool = True, user: dict[str, str] | None = None) -> httpx.Response:
        """Sign in as the demo user ``who`` (or as ``user``: its upn and password) through the portal."""
        user = user or self.portal.callbridge.user(who)

        def fill(page: httpx.Response) -> httpx.Response | None:
            if not str(page.url).startswith(self.portal.callbridge.base_url) or "<form" not in page.text:
                return None
            title = re.search(r"<title>([^<]*)</title>", page.text)
            self.pages.append(unescape(title.group(1)) if title else "")
            form = parse_form(page.text)
            fields = dict(form.fields)
            if form.fields.get("action") == "signin":
                fields.update(username=user["upn"], password=user["password"])
            elif "consent" in form.buttons:
                fields[form.buttons["consent"]] = "consent" if consent else "cancel"
            else:
                return None
            return self.http.post(urljoin(str(page.url), unescape(form.action)), data=fields)
        return self.follow(self.http.get(f"{self.portal.url}/signin"), fill)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.origin, **kwargs.pop("headers", {})}
        return self.http.request(method, f"{self.portal.url}{path}", headers=headers, **kwargs)


@contextmanager
def serve_portal(settings: PortalSettings, callbridge: Demo, adapters: Adapters | None = None) \
        -> Iterator[RunningPortal]:
    app = create_app(settings, adapters)
    config = uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning", lifespan="on",
                            ssl_certfile=str(callbridge.tls.cert_file), ssl_keyfile=str(callbridge.tls.key_file),
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the portal did not start")
        time.sleep(0.02)
    try:
        yield RunningPortal(settings, app, callbridge)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def portal_settings(callbridge: Demo, data_dir: Path, port: int, **overrides: Any) -> PortalSettings:
    """The portal configured against ``callbridge`` from demo.json, as `callbridge demo` configures it."""
    info = callbridge.info
    values: dict[str, Any] = {
        "authority": f"{info['base_url']}/organizations", "client_id": info["app"]["client_id"],
        "client_secret": info["app"]["client_secret"], "redirect_base": f"https://localhost:{port}",
        "acs_connection_string": info["communication"]["connection_string"],
        "graph_base_url": info["graph_base_url"], "callbridge_sdk_url": f"{info['base_url']}/sdk/calling.js",
        "session_secret": "portal-tests-session-secret", "data_dir": data_dir, "port": port,
        "ca_file": Path(callbridge.ca_file), **overrides}
    return PortalSettings(**values)


@pytest.fixture(scope="session")
def portal_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def callbridge(tmp_path_factory: pytest.TempPathFactory, portal_port: int) -> Iterator[Demo]:
    with seeded_platform(tmp_path_factory.mktemp("portal-callbridge"), log_level="WARNING",
                         sip_port=free_sip_port(), carrier_port=free_sip_port(), media_engine="aiortc",
                         demo_portal_url=f"https://localhost:{portal_port}") as served:
        yield served


@pytest.fixture(scope="session")
def portal(callbridge: Demo, tmp_path_factory: pytest.TempPathFactory, portal_port: int) -> Iterator[RunningPortal]:
    settings = portal_settings(callbridge, tmp_path_factory.mktemp("portal"), portal_port)
    asyncio.run(seed(settings, callbridge.settings.data_dir / "demo.json"))  # Fabrikam's customers, as the demo's
    with serve_portal(settings, callbridge) as running:
        yield running


@pytest.fixture
def browser(portal: RunningPortal) -> Iterator[PortalBrowser]:
    b = portal.browser()
    yield b
    b.close()


@pytest.fixture
def signed_in(portal: RunningPortal) -> Iterator[Callable[[str], PortalBrowser]]:
    made: list[PortalBrowser] = []

    def make(who: str) -> PortalBrowser:
        b = portal.browser()
        made.append(b)
        landed = b.sign_in(who)
        assert landed.status_code == 200 and urlsplit(str(landed.url)).path == "/", landed.text
        return b
    yield make
    for b in made:
        b.close()
