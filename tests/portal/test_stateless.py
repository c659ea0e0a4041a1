"""The portal's server keeps nothing between requests but its database: a second `portal serve` process (a
separate OS process, as `PORTAL_WORKERS` or a second machine behind a load balancer would run it, with the same
settings and database) serves a user who signed in through the first one: her profile, her communication token
(msal's cache, read from the database), a customer she adds there is seen here, and when she signs out there,
this one forgets her too."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from portal.settings import PortalSettings
from tests.portal.conftest import PortalBrowser, RunningPortal
from tests.support.server import free_port


def environment(settings: PortalSettings, **overrides: object) -> dict[str, str]:
    """The PORTAL_* variables that configure a process as ``settings`` does."""
    values = {**settings.model_dump(), **overrides}
    env = {**os.environ}
    for name, value in values.items():
        if value is None:
            continue
        text = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        env[f"PORTAL_{name.upper()}"] = str(text)
    return env


@dataclass
class Process:
    url: str
    metrics: str
    log: Path


@pytest.fixture
def second_process(portal: RunningPortal, tmp_path: Path) -> Iterator[Process]:
    port, metrics_port = free_port(), free_port()
    cert, key = portal.callbridge.tls.cert_file, portal.callbridge.tls.key_file
    log = (tmp_path / "portal.log").open("w")
    child = subprocess.Popen([sys.executable, "-m", "portal", "serve"], stdout=log, stderr=subprocess.STDOUT,
                             env=environment(portal.settings, port=port, tls_cert_file=cert, tls_key_file=key,
                                             log_level="INFO", metrics_port=metrics_port))
    url = f"https://localhost:{port}"
    try:
        deadline = time.monotonic() + 30
        with httpx.Client(verify=ssl.create_default_context(cafile=portal.callbridge.ca_file)) as probe:
            while True:
                try:
                    probe.get(f"{url}/api/me")
                    break
                except httpx.TransportError:
                    if child.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError((tmp_path / "portal.log").read_text()) from None
                    time.sleep(0.1)
        yield Process(url, f"http://127.0.0.1:{metrics_port}/metrics", tmp_path / "portal.log")
    finally:
        stopping = time.monotonic()
        child.terminate()
        try:
            child.wait(timeout=15)
        finally:
            child.kill()
            log.close()
        # a stop does not wait out the TLS close of the test's idle keep-alive connection (asyncio's 30 s)
        assert time.monotonic() - stopping < 8


def test_a_second_process_serves_a_user_signed_in_through_the_first(
        portal: RunningPortal, browser: PortalBrowser, second_process: Process) -> None:
    """And it logs a JSON line per request and counts them on its metrics listener."""
    url = second_process.url
    landed = browser.sign_in("megan")
    assert landed.status_code == 200, landed.text
    there = browser.http.get(f"{url}/api/me")
    assert there.status_code == 200 and there.json()["displayName"] == "Megan Bowen", there.text
    token = browser.http.get(f"{url}/api/token")
    assert token.status_code == 200 and token.json()["token"].count(".") == 2, token.text
    made = browser.http.post(f"{url}/api/customers", headers=browser.origin,
                             json={"name": "Stateless Test", "phoneNumbers": ["+14255550777"]})
    assert made.status_code == 201, made.text
    found = browser.api("GET", "/api/customers", params={"search": "Stateless"}).json()["value"]
    assert [c["id"] for c in found] == [made.json()["id"]]
    assert browser.api("DELETE", f"/api/customers/{made.json()['id']}").status_code == 204

    out = browser.http.post(f"{url}/signout", headers=browser.origin)
    assert out.status_code == 303
    assert browser.api("GET", "/api/me").status_code == 401  # the first process forgot her too

    scraped = httpx.get(second_process.metrics).text
    assert 'portal_http_requests_total{method="GET",route="/api/me",status="200"} 1.0' in scraped
    assert 'portal_http_requests_total{method="POST",route="/api/customers",status="201"} 1.0' in scraped
    lines = [json.loads(line) for line in second_process.log.read_text().splitlines() if line.startswith("{")]
    assert {(e["method"], e["route"], e["status"]) for e in lines if e["msg"] == "request"} >= {
        ("GET", "/api/me", 200), ("GET", "/api/token", 200), ("POST", "/signout", 303)}
