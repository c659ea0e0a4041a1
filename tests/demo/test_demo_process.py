"""The real `callbridge demo` process, started as `make demo` starts it (its console script, its environment, its
own event loop and media engine), driven only over its sockets: HTTPS, SIP over UDP and TCP, and the carrier's
API. What the rest of the suite proves on a server in the test process, this tier proves on the shipped one."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from callbridge.config import Settings
from callbridge.demo import CUSTOMERS
from callbridge.sdk import (
    CallClient,
    CommunicationTokenCredential,
    TeamsCallAgent,
    TeamsMeetingLinkLocator,
    ToneSource,
)
from callbridge.sdk.media import dominant_frequency
from callbridge.sip.endpoint import Endpoint
from callbridge.sip.transport import Address
from callbridge.sip.useragent import UserAgent
from callbridge.tls import TlsFiles
from portal.settings import PortalSettings
from tests.conftest import Demo
from tests.integration.test_calling_audio import collect_incoming, heard, until
from tests.portal.conftest import PortalBrowser, RunningPortal
from tests.support.ice import loopback_ice
from tests.support.server import free_port, free_sip_port

__all__ = ["loopback_ice"]

AGENT_HZ, PHONE_HZ = 1000.0, 440.0  # the phones play 440 Hz unless told otherwise
CUSTOMER = CUSTOMERS[0][0]
STARTUP_S = 60.0


def _stop(process: subprocess.Popen[bytes]) -> float:
    """Ctrl-C, as a person stops it; if it does not end in time, its whole process group goes (its rtpengine, Janus
    and portal children with it: nothing is left holding ports for the next run). How long it took."""
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
    took = time.monotonic() - started
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    return took


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Demo, subprocess.Popen[bytes]]]:
    """`callbridge demo` as `make demo` runs it, from a fresh checkout-like directory with its default data directory
    (`var`, relative to where it runs), on free ports; the demo's own description (demo.json)."""
    checkout = tmp_path_factory.mktemp("demo-process")
    data_dir = checkout / "var"
    data_dir.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBRIDGE_")}
    env.update({"CALLBRIDGE_HTTPS_PORT": str(port),
                "CALLBRIDGE_SIP_PORT": str(free_sip_port()), "CALLBRIDGE_CARRIER_PORT": str(free_sip_port()),
                "CALLBRIDGE_RTP_PORT_MIN": "46000", "CALLBRIDGE_RTP_PORT_MAX": "46199",
                "CALLBRIDGE_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1",
                "CALLBRIDGE_DEMO_PORTAL_URL": f"https://localhost:{free_port()}"})
    env = {k: v for k, v in env.items() if not k.startswith("PORTAL_")}
    log = (data_dir / "demo.log").open("wb")
    process = subprocess.Popen([str(Path(sys.executable).parent / "callbridge"), "demo"], env=env, cwd=checkout,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        settings = Settings(data_dir=data_dir, https_port=port, sip_port=int(env["CALLBRIDGE_SIP_PORT"]),
                            demo_portal_url=env["CALLBRIDGE_DEMO_PORTAL_URL"])
        tls = data_dir / "tls"
        files = TlsFiles(tls / "server.crt", tls / "server.key", tls / "ca.crt")
        demo = Demo(settings, {"base_url": f"https://localhost:{port}"}, files, None)  # type: ignore[arg-type]
        _wait_until_serving(demo, process, data_dir)
        demo.info = json.loads((data_dir / "demo.json").read_text())
        # a client left connected, as a browser tab is
        with httpx.Client(verify=ssl.create_default_context(cafile=files.ca_file)) as idle:
            idle.get(f"{demo.base_url}/organizations/v2.0/.well-known/openid-configuration")
            yield demo, process
            took = _stop(process)
    finally:
        if process.poll() is None:
            _stop(process)
        log.close()
    # Ctrl-C does not wait out the TLS close of idle keep-alive clients (asyncio's 30 s): the server bounds it
    assert took < 10, f"the demo took {took:.1f} s to stop after Ctrl-C"


def _wait_until_serving(demo: Demo, process: subprocess.Popen[bytes], data_dir: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"callbridge demo exited: {(data_dir / 'demo.log').read_text()[-3000:]}")
        if demo.tls.ca_file is not None and demo.tls.ca_file.exists():
            try:
                with httpx.Client(verify=ssl.create_default_context(cafile=str(demo.tls.ca_file)), timeout=2) as c:
                    if c.get(f"{demo.base_url}/healthz").status_code == 200:
                        return
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    raise RuntimeError(f"callbridge demo did not serve within {STARTUP_S} s")


@pytest.fixture
async def alice(shipped: tuple[Demo, subprocess.Popen[bytes]]) -> AsyncIterator[TeamsCallAgent]:
    demo, _ = shipped
    token = await asyncio.to_thread(demo.communication_token, "alice")
    agent = await CallClient(demo.base_url, ca_file=demo.ca_file).create_teams_call_agent(
        CommunicationTokenCredential(token))
    yield agent
    await agent.dispose()


def test_the_demo_runs_on_uvloop_and_serves_discovery(shipped: tuple[Demo, subprocess.Popen[bytes]]) -> None:
    demo, process = shipped
    assert "uvloop" in Path(f"/proc/{process.pid}/maps").read_text()  # the loop `serve` picks, loaded
    tenant = demo.tenant("Fabrikam")
    with demo.client() as c:
        document = c.get(f"{tenant['authority']}/v2.0/.well-known/openid-configuration").json()
    assert document["issuer"].endswith(f"/{tenant['id']}/v2.0")
    printed = (demo.settings.data_dir / "demo.log").read_text()  # the summary `callbridge demo` prints
    assert f"token exchange   {demo.base_url}/teamsUser/:exchangeAccessToken\n" in printed
    assert f"sign-in (OIDC)   {demo.base_url}/organizations/v2.0/.well-known/openid-configuration\n" in printed


def test_the_portal_answers_on_its_port_with_the_seeded_customers(
        shipped: tuple[Demo, subprocess.Popen[bytes]]) -> None:
    """`callbridge demo` runs Contoso's portal too: its address printed, Alice signs in to it through callbridge's
    sign-in page, and Fabrikam's customers are the carrier's phones."""
    demo, _ = shipped
    url = demo.settings.demo_portal_url
    browser = PortalBrowser(RunningPortal(PortalSettings(redirect_base=url), None, demo))
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:  # the portal starts beside the platform; it may answer a moment later
            try:
                home = browser.http.get(f"{url}/")
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert home.status_code == 200 and '<script type="module" src="/static/app.js">' in home.text
        assert f"  portal           {url}/" in (demo.settings.data_dir / "demo.log").read_text()
        assert browser.api("GET", "/api/customers").status_code == 401
        assert browser.sign_in("alice").status_code == 200
        seeded = browser.api("GET", "/api/customers").json()["value"]
        assert sorted((c["phoneNumbers"][0], f"{c['name']} ({c['company']})") for c in seeded) == sorted(CUSTOMERS)
        assert all(c["notes"] for c in seeded)
        token = browser.api("GET", "/api/token")
        assert token.status_code == 200 and token.json()["token"]
        assert browser.api("GET", "/api/customers/lookup", params={"number": CUSTOMER}).json()["name"] == "Kim Akers"
    finally:
        browser.close()


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
async def test_sip_answers_on_each_transport(shipped: tuple[Demo, subprocess.Popen[bytes]], transport: str) -> None:
    demo, _ = shipped
    probe = Endpoint(lambda event: None)
    await probe.listen(transport, "127.0.0.1", 0)
    try:
        target = Address("127.0.0.1", demo.settings.sip_port, transport)
        status = await asyncio.wait_for(UserAgent(probe).options(target), 10)
        assert status is not None and 200 <= status < 700  # an answer, whatever screening makes of this source
    finally:
        await probe.close()


async def test_a_customer_calls_alice_and_both_hear_each_other(
    shipped: tuple[Demo, subprocess.Popen[bytes]], alice: TeamsCallAgent
) -> None:
    """Use case 2 on the shipped process: the carrier's phone dials Alice's number through the demo trunk."""
    demo, _ = shipped
    incoming = collect_incoming(alice)
    headers = {"Origin": demo.base_url, "Content-Type": "application/json"}
    verify = ssl.create_default_context(cafile=demo.ca_file)
    async with httpx.AsyncClient(base_url=f"{demo.base_url}/carrier/api/phones", verify=verify) as carrier:
        dial = json.dumps({"to": demo.user("alice")["phone_number"]})
        r = await carrier.post(f"/{CUSTOMER}/dial", headers=headers, content=dial)
        assert r.status_code == 200, r.text
        await until(lambda: bool(incoming), 20)
        assert incoming[0].caller_info.identifier.raw_id == f"4:{CUSTOMER}"
        call = await incoming[0].accept(audio=ToneSource(AGENT_HZ))
        await call.wait_for_state("Connected")
        frequency, _ = await heard(call.media.recorder)
        assert abs(frequency - PHONE_HZ) < 15
        assert abs(await phone_hears(carrier) - AGENT_HZ) < 15
        await call.hang_up()
        await call.wait_for_state("Disconnected")
        for _ in range(100):
            if (await carrier.get(f"/{CUSTOMER}")).json()["state"] == "idle":
                break
            await asyncio.sleep(0.1)
        assert (await carrier.get(f"/{CUSTOMER}")).json()["call"]["outcome"]


async def phone_hears(carrier: httpx.AsyncClient, seconds: float = 1.0) -> float:
    """The dominant frequency of the last ``seconds`` the phone heard, from its recording, once it has them."""
    for _ in range(100):
        r = await carrier.get(f"/{CUSTOMER}/recording.wav")
        if r.status_code == 200:
            with wave.open(io.BytesIO(r.content)) as w:
                samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
            if len(samples) >= 8000 * (seconds + 1):  # a second more than asked: what came before the answer
                return dominant_frequency(samples[-int(8000 * seconds):].astype(np.float32) / 32768.0, 8000)
        await asyncio.sleep(0.1)
    raise AssertionError("the phone heard too little")


async def test_the_printed_meeting_opens_its_join_page_and_alice_joins_it(
        shipped: tuple[Demo, subprocess.Popen[bytes]], alice: TeamsCallAgent) -> None:
    """Use case 5 on the shipped process: the meeting `callbridge demo` prints opens the join page in a browser,
    and Alice joins it (organizer) with the mixer the demo runs, its offer answered."""
    demo, _ = shipped
    meeting = json.loads((demo.settings.data_dir / "demo.json").read_text())["meeting"]
    printed = (demo.settings.data_dir / "demo.log").read_text()
    assert meeting["join_url"] in printed and f"conference id {meeting['conference_id']}#" in printed
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=demo.ca_file)) as c:
        page = await c.get(meeting["join_url"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    call = await alice.join(TeamsMeetingLinkLocator(meeting["join_url"]))
    await call.wait_for_state("Connected")
    first = call.media
    assert call.role == "Organizer"
    await call.wait_for(lambda: call.media is not first, 10)  # the mixer's media session, answered
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=demo.ca_file)) as c:
        exposed = (await c.get(f"{demo.base_url}/metrics")).text  # the process's own metrics
    assert "callbridge_meetings_active 1.0" in exposed and "callbridge_mixed_participants 1.0" in exposed
    await call.hang_up()
