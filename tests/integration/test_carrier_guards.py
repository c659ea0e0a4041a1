"""The carrier's guards, as an attacker meets them: a page of another origin cannot drive its phones (no JSON
without ``Content-Type: application/json``, no cross-origin request), ``play wav:`` plays files of one directory
only and tells nothing of files elsewhere, event streams are bounded per client and in total and end when idle,
and the carrier is not served on a non-loopback address unless the operator says so."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from fastapi import FastAPI

from callbridge.app import create_app
from callbridge.carrier.routes import CarrierHub
from callbridge.cli import main
from callbridge.config import Settings
from callbridge.demo import CUSTOMERS
from tests.browser.conftest import write_tone
from tests.conftest import Demo
from tests.integration.test_carrier_api import api, carrier_server, phone_json

NUMBER = CUSTOMERS[2][0]
ELSEWHERE = "+14255550123"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Demo, FastAPI]]:
    """A carrier with small stream limits (2 per client, 3 in all, idle ones end after 1 s) and a WAV directory."""
    data_dir = tmp_path_factory.mktemp("callbridge-guarded")
    wav_dir = data_dir / "sounds"
    wav_dir.mkdir()
    write_tone(wav_dir / "hello.wav", 440.0, seconds=0.5, rate=8000)
    with carrier_server(data_dir, carrier_wav_dir=wav_dir, carrier_streams_per_client=2, carrier_streams_total=3,
                        carrier_stream_idle_s=1.0) as served:
        yield served


@pytest.fixture
def demo(guarded: tuple[Demo, FastAPI]) -> Demo:
    return guarded[0]


def hub_of(guarded: tuple[Demo, FastAPI]) -> CarrierHub:
    hub = guarded[1].state.carrier_hub
    assert isinstance(hub, CarrierHub)
    return hub


def raw(demo: Demo, local_address: str = "127.0.0.1") -> httpx.AsyncClient:
    """A client that sends only the headers a test gives (no JSON content type by default)."""
    return httpx.AsyncClient(base_url=f"{demo.base_url}/carrier/api", timeout=10,
                             transport=httpx.AsyncHTTPTransport(
                                 local_address=local_address,
                                 verify=ssl.create_default_context(cafile=demo.ca_file)))


def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


# -- cross-site requests ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [
    {"Content-Type": "text/plain"},
    {"Content-Type": "application/x-www-form-urlencoded"},
    {"Content-Type": "multipart/form-data; boundary=x"},
    {},
])
async def test_a_dial_without_a_json_content_type_is_refused(demo: Demo, headers: dict[str, str]) -> None:
    async with raw(demo) as c:
        r = await c.post(f"/phones/{NUMBER}/dial", content=f'{{"to": "{ELSEWHERE}"}}', headers=headers)
    assert error_of(r) == (415, "UnsupportedMediaType")
    assert (await phone_json(demo, NUMBER))["state"] == "idle"


@pytest.mark.parametrize("headers", [
    {"Origin": "https://attacker.example"},
    {"Origin": "null"},
    {"Origin": "https://localhost:1"},  # same site, another port: another origin
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
])
async def test_a_cross_origin_dial_is_refused(demo: Demo, headers: dict[str, str]) -> None:
    async with raw(demo) as c:
        r = await c.post(f"/phones/{NUMBER}/dial", json={"to": ELSEWHERE}, headers=headers)
    assert error_of(r) == (403, "CrossOriginRequest")
    assert r.json()["error"]["message"]
    assert (await phone_json(demo, NUMBER))["state"] == "idle"


async def test_the_pages_own_requests_pass(demo: Demo) -> None:
    async with raw(demo) as c:
        r = await c.post(f"/phones/{NUMBER}/mode", json={"mode": "manual"},
                         headers={"Origin": demo.base_url, "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 200 and r.json()["answerMode"] == "manual"


async def test_a_cross_origin_event_stream_is_refused(demo: Demo) -> None:
    async with raw(demo) as c:
        r = await c.get("/events", headers={"Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site"})
    assert error_of(r) == (403, "CrossOriginRequest")


# -- wav: files ------------------------------------------------------------------------------------------------------
async def test_a_wav_file_of_the_audio_directory_plays(demo: Demo) -> None:
    async with api(demo) as c:
        r = await c.post(f"/phones/{NUMBER}/play", json={"what": "wav:hello.wav"})
        assert r.status_code == 200 and r.json()["playing"] == "wav:hello.wav"
        assert (await c.post(f"/phones/{NUMBER}/play", json={"what": "tone:440"})).status_code == 200


async def test_wav_paths_elsewhere_get_one_answer_whether_or_not_the_file_exists(demo: Demo) -> None:
    existing = [str(demo.settings.data_dir / "demo.json"), "/etc/passwd", "../demo.json", "../callbridge.db",
                str(demo.settings.data_dir / "sounds" / ".." / "demo.json")]
    missing = ["/nonexistent.wav", "../nonexistent.wav", "nonexistent.wav", "/etc/nonexistent"]
    async with api(demo) as c:
        answers = {(r.status_code, r.content) for what in existing + missing
                   for r in [await c.post(f"/phones/{NUMBER}/play", json={"what": f"wav:{what}"})]}
    assert len(answers) == 1, answers
    status, body = answers.pop()
    assert status == 400 and b"BadRequest" in body
    assert (await phone_json(demo, NUMBER))["playing"] == "tone:440"


# -- event streams ---------------------------------------------------------------------------------------------------
READERS: list[Any] = []  # the line iterators of open streams (an iterator collected would close its stream)


async def open_stream(client: httpx.AsyncClient) -> httpx.Response:
    response = await client.send(client.build_request("GET", "/events"), stream=True)
    if response.status_code == 200:
        READERS.append(lines := response.aiter_lines())
        assert await anext(lines) == "retry: 1000"
    else:
        await response.aread()
    return response


async def test_event_streams_are_bounded_per_client_and_in_total(guarded: tuple[Demo, FastAPI]) -> None:
    demo = guarded[0]
    opened: list[httpx.Response] = []
    async with raw(demo) as here, raw(demo, "127.0.0.2") as there:
        try:
            opened += [await open_stream(here), await open_stream(here)]
            assert [r.status_code for r in opened] == [200, 200]
            third = await open_stream(here)
            assert error_of(third) == (429, "TooManyStreams") and "Retry-After" in third.headers
            opened.append(await open_stream(there))
            assert opened[-1].status_code == 200
            full = await open_stream(there)
            assert error_of(full) == (503, "TooManyStreams") and "Retry-After" in full.headers
        finally:
            for response in opened:
                await response.aclose()
            READERS.clear()


async def test_an_idle_event_stream_ends_and_frees_its_place(guarded: tuple[Demo, FastAPI]) -> None:
    demo = guarded[0]
    lines: list[str] = []

    async def read_to_the_end() -> None:
        async with raw(demo) as c, c.stream("GET", "/events") as r:
            assert r.status_code == 200
            lines.extend([line async for line in r.aiter_lines()])

    await asyncio.wait_for(read_to_the_end(), 10)  # ends by itself after 1 s without a change
    assert lines[0] == "retry: 1000" and any(line.startswith("data: ") for line in lines)
    await asyncio.sleep(0)
    assert hub_of(guarded).streams == 0


# -- where the carrier is served -------------------------------------------------------------------------------------
async def page_status(app: FastAPI) -> int:
    """What GET /carrier answers on the app (200: the carrier's page; 404: no carrier here)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://localhost") as c:
        return (await c.get("/carrier")).status_code


async def test_the_carrier_is_not_served_on_a_network_address(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        app = create_app(Settings(data_dir=tmp_path, host="0.0.0.0", carrier_enabled=True))
    assert await page_status(app) == 404
    assert any("CALLBRIDGE_CARRIER_ALLOW_REMOTE" in r.getMessage() for r in caplog.records)


async def test_the_carrier_on_a_network_address_when_allowed_warns(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        app = create_app(Settings(data_dir=tmp_path, host="192.0.2.10", carrier_enabled=True,
                                  carrier_allow_remote=True))
    assert await page_status(app) == 200
    assert any("no sign-in" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "::1"])
async def test_the_carrier_on_loopback_is_served(tmp_path: Path, host: str) -> None:
    assert await page_status(create_app(Settings(data_dir=tmp_path, host=host, carrier_enabled=True))) == 200


def test_the_standalone_carrier_refuses_a_network_address(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: served.append(kwargs))
    monkeypatch.setenv("CALLBRIDGE_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["carrier", "--host", "0.0.0.0", "--trunk", "127.0.0.1:5060"])
    assert result.exit_code == 1 and "CALLBRIDGE_CARRIER_ALLOW_REMOTE" in result.output
    assert served == []
