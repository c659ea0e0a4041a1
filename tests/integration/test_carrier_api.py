"""The built-in carrier as the demo runs it: in the server process (``carrier_enabled``), its phones and actions at
``/carrier/api`` over the server's TLS, the Server-Sent Events stream of their changes, the recording as WAV, and
``callbridge phone ...`` against it. A virtual phone calls Alice (a Python agent) through the real trunk side."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import ssl
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from click.testing import CliRunner
from fastapi import FastAPI

from callbridge.carrier import routes
from callbridge.carrier.phone import RINGBACK_HZ
from callbridge.cli import main
from callbridge.demo import CUSTOMERS
from callbridge.sdk import (
    CallClient,
    CommunicationTokenCredential,
    PhoneNumberIdentifier,
    TeamsCall,
    TeamsCallAgent,
    ToneSource,
)
from callbridge.sdk.media import dominant_frequency
from tests.conftest import Demo, seeded_platform
from tests.integration.test_calling_audio import collect_incoming, heard, loopback_ice, until
from tests.support.server import free_port, free_sip_port

__all__ = ["loopback_ice"]  # the fixture pins ICE to 127.0.0.1 for this module too

CUSTOMER = CUSTOMERS[0][0]


@contextlib.contextmanager
def carrier_server(data_dir: Path, **overrides: Any) -> Iterator[tuple[Demo, FastAPI]]:
    """A demo platform of its own with the carrier running in the server, as ``callbridge demo`` runs it; the
    demo and the served app (whose ``state.carrier_hub`` is the carrier's hub)."""
    sip_port = free_sip_port()
    carrier_port = free_sip_port()
    while carrier_port == sip_port:
        carrier_port = free_sip_port()
    with seeded_platform(data_dir, log_level="WARNING", ring_time_s=10.0, reconnect_grace_s=2.0, sip_port=sip_port,
                         media_engine="aiortc", carrier_port=carrier_port, carrier_enabled=True,
                         api_docs_enabled=True, **overrides) as served:
        yield served, served.app


@pytest.fixture(scope="module")
def carrier_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """A demo platform of its own with the carrier running in the server, as ``callbridge demo`` runs it."""
    with carrier_server(tmp_path_factory.mktemp("callbridge-carrier")) as (demo, _app):
        yield demo


@pytest.fixture
async def agent_alice(carrier_demo: Demo) -> AsyncIterator[TeamsCallAgent]:
    client = CallClient(carrier_demo.base_url, ca_file=carrier_demo.ca_file)
    agent = await client.create_teams_call_agent(CommunicationTokenCredential(
        carrier_demo.communication_token("alice")))
    yield agent
    await agent.dispose()


def api(demo: Demo) -> httpx.AsyncClient:
    """A client of the carrier's API as ``callbridge phone`` is one: JSON bodies, no browser headers."""
    return httpx.AsyncClient(base_url=f"{demo.base_url}/carrier/api", timeout=10,
                             headers={"Content-Type": "application/json"},
                             verify=ssl.create_default_context(cafile=demo.ca_file))


async def phone_json(demo: Demo, number: str) -> dict[str, Any]:
    async with api(demo) as c:
        r = await c.get(f"/phones/{number}")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def wait_for_phone(demo: Demo, number: str, predicate: Any, timeout: float = 10.0) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def poll() -> None:
        nonlocal seen
        while not predicate(seen := await phone_json(demo, number)):
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"{number} never got there; last seen {seen}") from None
    return seen


async def listen(demo: Demo, into: list[dict[str, Any]], opened: asyncio.Event) -> None:
    """The event stream's phones (and comment lines as {"comment": ...}) as they arrive."""
    async with api(demo) as c, c.stream("GET", "/events", timeout=httpx.Timeout(10, read=30)) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        opened.set()
        async for line in r.aiter_lines():
            if line.startswith("data: "):
                into.append(json.loads(line[6:]))
            elif line.startswith(":"):
                into.append({"comment": line})


def states_of(events: list[dict[str, Any]], number: str) -> list[str]:
    states: list[str] = []
    for event in events:
        if event.get("number") == number and (not states or states[-1] != event["state"]):
            states.append(event["state"])
    return states


def test_the_api_lists_the_five_demo_phones(carrier_demo: Demo) -> None:
    with carrier_demo.client() as c:
        r = c.get("/carrier/api/phones")
        page = c.get("/carrier")
        schema = c.get("/openapi.json").json()
    assert r.status_code == 200
    phones = r.json()["phones"]
    assert [(p["number"], p["name"]) for p in phones] == CUSTOMERS
    assert {p["state"] for p in phones} == {"idle"} and {p["answerMode"] for p in phones} == {"manual"}
    assert set(phones[0]) == {"number", "name", "state", "held", "answerMode", "earlyMedia", "playing", "call",
                              "digits", "level"}
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "new EventSource(" in page.text and "/events" in page.text
    assert not [path for path in schema["paths"] if path.startswith("/carrier")]  # a demo tool, not the API


async def test_a_phone_calls_alice_who_accepts_live_on_the_api_and_the_stream(
        carrier_demo: Demo, agent_alice: TeamsCallAgent, tmp_path: Path) -> None:
    alice_number = carrier_demo.user("alice")["phone_number"]
    events: list[dict[str, Any]] = []
    opened = asyncio.Event()
    listener = asyncio.create_task(listen(carrier_demo, events, opened))
    try:
        await asyncio.wait_for(opened.wait(), 10)
        await until(lambda: len(events) >= len(CUSTOMERS), 10)  # every phone once, first
        incoming = collect_incoming(agent_alice)
        async with api(carrier_demo) as c:
            r = await c.post(f"/phones/{CUSTOMER}/dial", json={"to": alice_number})
        assert r.status_code == 200, r.text
        assert r.json()["state"] in ("dialing", "ringback") and r.json()["call"]["peer"] == alice_number
        await until(lambda: bool(incoming), 10)
        assert incoming[0].caller_info.display_name == CUSTOMERS[0][1]
        ringing = await wait_for_phone(carrier_demo, CUSTOMER, lambda p: p["state"] == "ringback")
        assert ringing["call"]["direction"] == "out" and ringing["call"]["sipCallId"]

        call: TeamsCall = await incoming[0].accept(audio=ToneSource(1000.0))
        await call.wait_for_state("Connected")
        await wait_for_phone(carrier_demo, CUSTOMER, lambda p: p["state"] == "connected" and p["level"] > 0.05)
        await call.send_dtmf("7")
        await wait_for_phone(carrier_demo, CUSTOMER, lambda p: p["digits"] == "7")

        held = cli(carrier_demo, "hold", CUSTOMER)  # the customer puts Alice on hold, from the command line
        assert held.exit_code == 0 and "connected, holding" in held.output, held.output
        await call.wait_for_state("RemoteHold")
        await until(lambda: any(e.get("number") == CUSTOMER and e["held"] for e in events), 5)  # live there too
        async with api(carrier_demo) as c:
            r = await c.post(f"/phones/{CUSTOMER}/resume")
        assert r.status_code == 200 and r.json()["held"] is False, r.text
        await call.wait_for_state("Connected")
        await asyncio.sleep(1.0)  # a second of Alice's tone for the recording

        async with api(carrier_demo) as c:
            r = await c.post(f"/phones/{CUSTOMER}/hangup")
            assert r.status_code == 200, r.text
            assert r.json()["state"] == "idle" and r.json()["call"]["outcome"] == "hung up here"
            await call.wait_for_state("Disconnected")
            wav = await c.get(f"/phones/{CUSTOMER}/recording.wav")
        assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav"
        with wave.open(io.BytesIO(wav.content)) as heard:
            assert (heard.getframerate(), heard.getnchannels(), heard.getsampwidth()) == (8000, 1, 2)
            assert heard.getnframes() > 4000  # half a second at least
            samples = np.frombuffer(heard.readframes(heard.getnframes()), dtype="<i2")
        assert abs(dominant_frequency(samples[-4000:].astype(np.float32) / 32768.0, 8000) - 1000.0) < 15
        saved = cli(carrier_demo, "record", CUSTOMER, "--out", str(tmp_path / "call.wav"))
        assert saved.exit_code == 0 and (tmp_path / "call.wav").read_bytes() == wav.content

        await until(lambda: len(states_of(events, CUSTOMER)) >= 5, 5)
        assert states_of(events, CUSTOMER) == ["idle", "dialing", "ringback", "connected", "idle"]
        await until(lambda: [e for e in events if e.get("number") == CUSTOMER][-1]["call"]["outcome"]
                    == "hung up here", 5)  # the stream ends where the API does
        assert any(e.get("number") == CUSTOMER and e["digits"] == "7" for e in events)  # digits and level, live
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)


async def test_alice_calls_a_phone_answered_then_declined_through_the_api(carrier_demo: Demo,
                                                                         agent_alice: TeamsCallAgent) -> None:
    number = CUSTOMERS[1][0]
    call = await agent_alice.start_call(PhoneNumberIdentifier(number))
    ringing = await wait_for_phone(carrier_demo, number, lambda p: p["state"] == "ringing")
    assert ringing["call"]["direction"] == "in" and ringing["call"]["peerName"] == "Alice Smith"
    assert ringing["call"]["peer"] == carrier_demo.user("alice")["phone_number"]
    async with api(carrier_demo) as c:
        answered = await c.post(f"/phones/{number}/answer")
        assert answered.status_code == 200 and answered.json()["state"] == "connected", answered.text
        await call.wait_for_state("Connected")
        assert (await c.post(f"/phones/{number}/dtmf", json={"digits": "1"})).status_code == 200
        assert (await c.post(f"/phones/{number}/hangup")).json()["state"] == "idle"
        await call.wait_for_state("Disconnected")

        second = await agent_alice.start_call(PhoneNumberIdentifier(number))
        await wait_for_phone(carrier_demo, number, lambda p: p["state"] == "ringing")
        declined = await c.post(f"/phones/{number}/decline", json={"status": 486})
        assert declined.json()["state"] == "idle" and declined.json()["call"]["outcome"] == "declined with 486"
    await second.wait_for_state("Disconnected")
    assert (second.call_end_reason.code, second.call_end_reason.sub_code) == (486, 560486)  # type: ignore[union-attr]


async def test_the_stream_sends_a_comment_when_quiet(carrier_demo: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routes, "KEEP_ALIVE_S", 0.3)
    monkeypatch.setattr(routes, "TICK_S", 0.1)
    events: list[dict[str, Any]] = []
    listener = asyncio.create_task(listen(carrier_demo, events, asyncio.Event()))
    try:
        await until(lambda: any("comment" in e for e in events), 5)
        assert [e["number"] for e in events if "number" in e][:len(CUSTOMERS)] == [n for n, _ in CUSTOMERS]
        assert next(e for e in events if "comment" in e) == {"comment": ": keep-alive"}
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)


@pytest.mark.parametrize(("path", "body", "status", "code"), [
    ("/phones/+19995550000/answer", None, 404, "PhoneNotFound"),
    (f"/phones/{CUSTOMER}/fly", None, 404, "UnknownAction"),
    (f"/phones/{CUSTOMER}/answer", None, 409, "PhoneBusy"),
    (f"/phones/{CUSTOMER}/hangup", None, 409, "PhoneBusy"),
    (f"/phones/{CUSTOMER}/decline", None, 409, "PhoneBusy"),
    (f"/phones/{CUSTOMER}/dtmf", {"digits": "12"}, 409, "PhoneBusy"),
    (f"/phones/{CUSTOMER}/play", {"what": "tone:99999"}, 400, "BadRequest"),
    (f"/phones/{CUSTOMER}/play", {"what": "wav:/nonexistent.wav"}, 400, "BadRequest"),
    (f"/phones/{CUSTOMER}/play", {"what": "trumpet"}, 400, "BadRequest"),
    (f"/phones/{CUSTOMER}/play", {}, 400, "BadRequest"),
    (f"/phones/{CUSTOMER}/play", b"{not json", 400, "InvalidJson"),
    (f"/phones/{CUSTOMER}/play", b"[1, 2]", 400, "InvalidJson"),
    (f"/phones/{CUSTOMER}/dial", {"to": "+1 800 FLOWERS"}, 400, "BadNumber"),
    (f"/phones/{CUSTOMER}/dial", {"to": 14255550101}, 400, "BadRequest"),
    (f"/phones/{CUSTOMER}/mode", {"mode": "sometimes"}, 400, "BadRequest"),
    (f"/phones/{CUSTOMER}/decline", {"status": 200}, 400, "BadRequest"),
    (f"/phones/{CUSTOMER}/dtmf", {"digits": "12x"}, 400, "BadRequest"),
])
async def test_bad_requests_are_json_errors(carrier_demo: Demo, path: str, body: Any, status: int,
                                            code: str) -> None:
    async with api(carrier_demo) as c:
        if isinstance(body, bytes):
            r = await c.post(path, content=body, headers={"Content-Type": "application/json"})
        else:
            r = await c.post(path, json=body) if body is not None else await c.post(path)
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
    assert r.json()["error"]["message"]


async def test_errors_of_reads(carrier_demo: Demo) -> None:
    async with api(carrier_demo) as c:
        missing = await c.get("/phones/+19995550000/recording.wav")
        nothing_heard = await c.get(f"/phones/{CUSTOMERS[4][0]}/recording.wav")
        without_plus = await c.get(f"/phones/{CUSTOMERS[4][0][1:]}")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "PhoneNotFound")
    assert (nothing_heard.status_code, nothing_heard.json()["error"]["code"]) == (404, "NoRecording")
    assert without_plus.status_code == 200 and without_plus.json()["number"] == CUSTOMERS[4][0]


async def test_play_and_mode_change_the_phone(carrier_demo: Demo) -> None:
    number = CUSTOMERS[3][0]
    async with api(carrier_demo) as c:
        played = await c.post(f"/phones/{number}/play", json={"what": "echo"})
        auto = await c.post(f"/phones/{number}/mode", json={"mode": "auto"})
        await c.post(f"/phones/{number}/play", json={"what": "tone:440"})
        await c.post(f"/phones/{number}/mode", json={"mode": "manual"})
    assert played.json()["playing"] == "echo" and auto.json()["answerMode"] == "auto"


async def test_ringback_then_play_during_a_call_change_what_alice_hears(carrier_demo: Demo,
                                                                        agent_alice: TeamsCallAgent) -> None:
    number = CUSTOMERS[3][0]
    on = cli(carrier_demo, "ringback", number, "on")
    assert on.exit_code == 0, on.output
    try:
        assert (await phone_json(carrier_demo, number))["earlyMedia"] is True
        call = await agent_alice.start_call(PhoneNumberIdentifier(number), audio=ToneSource(1000.0))
        await call.wait_for_state("EarlyMedia")
        assert abs((await heard(call.media.recorder))[0] - RINGBACK_HZ) < 15
        async with api(carrier_demo) as c:
            assert (await c.post(f"/phones/{number}/answer")).status_code == 200
            await call.wait_for_state("Connected")
            assert abs((await heard(call.media.recorder))[0] - 440.0) < 15
            assert (await c.post(f"/phones/{number}/play", json={"what": "tone:700"})).status_code == 200
            await asyncio.sleep(0.3)  # what was in flight drains
            assert abs((await heard(call.media.recorder))[0] - 700.0) < 15
            await c.post(f"/phones/{number}/play", json={"what": "tone:440"})
        await call.hang_up()
        await wait_for_phone(carrier_demo, number, lambda p: p["state"] == "idle")
    finally:
        assert cli(carrier_demo, "ringback", number, "off").exit_code == 0


def cli(demo: Demo, *args: str) -> Any:
    return CliRunner().invoke(main, ["phone", "--base-url", demo.base_url, "--ca-file", demo.ca_file, *args])


async def test_the_phone_commands(carrier_demo: Demo, agent_alice: TeamsCallAgent, tmp_path: Path) -> None:
    listed = cli(carrier_demo, "list")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert len(lines) == len(CUSTOMERS) and lines[0].split()[:3] == [CUSTOMER, "idle", "manual"]
    assert CUSTOMERS[0][1] in lines[0]

    number = CUSTOMERS[2][0]
    busy = cli(carrier_demo, "mode", number, "busy")
    assert busy.exit_code == 0 and busy.output.split()[:3] == [number, "idle", "busy"]
    assert cli(carrier_demo, "mode", number, "manual").output.split()[2] == "manual"

    incoming = collect_incoming(agent_alice)  # Alice's agent rings and nobody answers
    dialled = cli(carrier_demo, "dial", number, carrier_demo.user("alice")["phone_number"])
    assert dialled.exit_code == 0, dialled.output
    assert dialled.output.split()[:2] in ([number, "dialing"], [number, "ringback"])
    await until(lambda: bool(incoming), 10)
    await wait_for_phone(carrier_demo, number, lambda p: p["state"] == "ringback")
    hung_up = cli(carrier_demo, "hangup", number)
    assert hung_up.exit_code == 0 and hung_up.output.split()[:2] == [number, "idle"]
    assert "hung up here" in hung_up.output

    again = cli(carrier_demo, "hangup", number)
    assert again.exit_code == 1 and again.output.strip() == f"error: {number} is idle"
    unknown = cli(carrier_demo, "answer", "+19995550000")
    assert unknown.exit_code == 1 and unknown.output.startswith("error: The carrier has no phone")
    nothing = cli(carrier_demo, "record", CUSTOMERS[4][0], "--out", str(tmp_path / "x.wav"))
    assert nothing.exit_code == 1 and nothing.output.startswith("error:") and not (tmp_path / "x.wav").exists()
    unreachable = CliRunner().invoke(main, ["phone", "--base-url", f"https://localhost:{free_port()}",
                                            "--ca-file", carrier_demo.ca_file, "list"])
    assert unreachable.exit_code == 1 and unreachable.output.startswith("error: cannot reach the carrier")


async def test_the_server_may_be_named_after_the_subcommand_or_in_the_environment(carrier_demo: Demo) -> None:
    """As people type them: `phone list --base-url ...`; the later of two wins; flags win over the environment."""
    where = ["--base-url", carrier_demo.base_url, "--ca-file", carrier_demo.ca_file]
    nowhere = ["--base-url", f"https://localhost:{free_port()}"]
    env = {"CALLBRIDGE_PHONE_BASE_URL": carrier_demo.base_url, "CALLBRIDGE_PHONE_CA_FILE": carrier_demo.ca_file}
    runs = {
        "after": CliRunner().invoke(main, ["phone", "list", *where]),
        "later wins": CliRunner().invoke(main, ["phone", *nowhere, "list", *where]),
        "environment": CliRunner(env=env).invoke(main, ["phone", "list"]),
        "flag over environment": CliRunner(env={**env, "CALLBRIDGE_PHONE_BASE_URL": nowhere[1]}).invoke(
            main, ["phone", "list", "--base-url", carrier_demo.base_url]),
    }
    for how, run in runs.items():
        assert run.exit_code == 0 and run.output.startswith(CUSTOMER), (how, run.output)
    wrong = CliRunner(env=env).invoke(main, ["phone", "list", *nowhere])
    assert wrong.exit_code == 1 and wrong.output.startswith("error: cannot reach the carrier")
