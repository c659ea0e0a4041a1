"""The phone side against peers nobody here wrote, on both media gateways: sipp (Debian sip-tester) as a carrier
that calls a user and as a phone that answers calls placed over a trunk; baresip (Debian baresip) as a real
phone, calling Alice and answering her, with audio checked both ways by FFT (baresip sends ``ausine``, records
what it hears with ``sndfile``; the Python agent sends its own tone and records).

baresip listens for SIP on 127.0.0.1, so the demo trunk's allowlist admits it, but it puts the machine's first
interface address (eth0) in its SDP and sends RTP from there. The gateway sends RTP to the address the SDP gives
(an address of this machine, so the packets stay local) and takes baresip's packets from that address too: audio
flows both ways on both engines, as the tests show. Every wait is bounded; baresip quits by itself (``-t``) and
every process started here is ended by its own handle."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callbridge.media.rtp_endpoint import PortRange
from callbridge.pstn import trunks
from callbridge.sdk import PhoneNumberIdentifier, TeamsCall, TeamsCallAgent, TeamsIncomingCall, ToneSource
from callbridge.sdk.media import dominant_frequency
from tests.conftest import Demo
from tests.integration.test_calling_audio import loopback_ice, until
from tests.integration.test_pstn_calls import ENGINES, alice, phone_platform
from tests.support.server import free_sip_port

__all__ = ["alice", "loopback_ice"]

SCENARIOS = Path(__file__).parent / "sipp"
AGENT_HZ, PEER_HZ = 1000.0, 440.0
CUSTOMER = "+12065550100"  # who sipp and baresip say they are
SIPP_NUMBER, BARESIP_NUMBER = "+13125550123", "+13125550222"  # numbers the test trunks carry
RTP_PORTS = {"aiortc": PortRange(44_700, 44_849), "rtpengine": PortRange(44_850, 44_999)}


@pytest.fixture(scope="module", params=ENGINES)
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """A server per media engine; dead media after 10 s (baresip's audio starts about 3 s after the answer); no
    OPTIONS keep-alive to the trunks added here during a test (sipp in server mode takes every request with a new
    Call-ID as a call of its scenario, and cannot run an out-of-call scenario to answer OPTIONS)."""
    with phone_platform(tmp_path_factory, request.param, RTP_PORTS[request.param], dead_media_timeout_s=10.0,
                        sip_options_interval_s=3600.0) as server:
        yield server


def accept_every_call(agent: TeamsCallAgent, delay: float = 0.5) -> list[TeamsCall]:
    """``agent`` answers each incoming call after ``delay`` (so the caller sees 180 first) with its own tone."""
    calls: list[TeamsCall] = []

    async def accept(incoming: TeamsIncomingCall) -> None:
        await asyncio.sleep(delay)
        calls.append(await incoming.accept(audio=ToneSource(AGENT_HZ)))

    agent.on("incoming_call", lambda args: asyncio.ensure_future(accept(args.incoming_call)))
    return calls


async def hears(call: TeamsCall, hz: float, within: float = 12.0) -> None:
    """The agent's recording carries ``hz`` within ``within`` seconds (the peer's audio may start late)."""
    recorder = call.media.recorder

    def tone() -> bool:
        samples = recorder.samples(0.5)
        return len(samples) > recorder.sample_rate // 4 and abs(dominant_frequency(samples, recorder.sample_rate)
                                                                 - hz) < 15

    await until(tone, within)


@contextlib.asynccontextmanager
async def trunk_to(demo: Demo, name: str, port: int, prefix: str) -> AsyncIterator[None]:
    """A trunk of Alice's tenant to 127.0.0.1:``port`` carrying ``prefix``, in the screening snapshot."""
    tenant = demo.user("alice")["tenant_id"]
    await demo.change(lambda s: trunks.add_trunk(s, tenant, name, trunks.TrunkChanges(
        host="127.0.0.1", port=port, number_prefixes=[prefix], allow_sources=["127.0.0.1"])))
    bridge: Any = demo.platform.calling.phones
    try:
        await until(lambda: any(t.name == name for t in bridge.screening.trunks), 10)
        yield
    finally:
        await demo.change(lambda s: trunks.remove_trunk(s, tenant, name))
        await until(lambda: all(t.name != name for t in bridge.screening.trunks), 10)


# -- sipp ---------------------------------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def sipp(tmp_path: Path, *args: str, limit: float = 60) -> AsyncIterator[asyncio.subprocess.Process]:
    binary = shutil.which("sipp")
    assert binary is not None, "sipp missing: apt-get install sip-tester (scripts/system-deps.sh does)"
    process = await asyncio.create_subprocess_exec(
        binary, *args, "-i", "127.0.0.1", "-nostdin", "-timeout", str(int(limit)), "-timeout_error",
        "-trace_err", "-error_file", str(tmp_path / "sipp-errors.log"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path)
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def outcome(process: asyncio.subprocess.Process, tmp_path: Path, within: float = 60) -> tuple[int, str]:
    output, _ = await asyncio.wait_for(process.communicate(), within)
    errors = tmp_path / "sipp-errors.log"
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")[-3000:] + (
        errors.read_text()[-3000:] if errors.exists() else "")


async def listening(port: int) -> None:
    """Something answers on UDP ``port`` once datagrams to it draw no ICMP refusal."""
    async def probe() -> None:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect(("127.0.0.1", port))
                s.send(b"\r\n\r\n")
                await asyncio.sleep(0.1)
                try:
                    s.send(b"\r\n\r\n")
                    return
                except ConnectionRefusedError:
                    continue

    await asyncio.wait_for(probe(), 10)


async def test_sipp_as_the_carrier_calls_alice_three_times(demo: Demo, alice: TeamsCallAgent,
                                                           tmp_path: Path) -> None:
    calls = accept_every_call(alice)
    async with sipp(tmp_path, "-sf", str(SCENARIOS / "uac_call_alice.xml"), "-s", demo.user("alice")["phone_number"],
                    f"127.0.0.1:{demo.settings.sip_port}", "-p", str(free_sip_port()), "-m", "3", "-l", "1",
                    "-r", "2") as process:
        code, output = await outcome(process, tmp_path)
    assert code == 0, output
    assert len(calls) == 3
    for call in calls:
        await call.wait_for_state("Disconnected")
        assert (call.call_end_reason.code, call.call_end_reason.sub_code) == (0, 560000)  # type: ignore[union-attr]


async def test_sipp_as_a_phone_answers_the_calls_alice_places(demo: Demo, alice: TeamsCallAgent,
                                                             tmp_path: Path) -> None:
    port = free_sip_port()
    async with trunk_to(demo, "sipp", port, "+1312555012"), sipp(
            tmp_path, "-sf", str(SCENARIOS / "uas_answer.xml"), "-p", str(port), "-m", "3") as process:
        await listening(port)
        for _ in range(3):
            call = await alice.start_call(PhoneNumberIdentifier(SIPP_NUMBER), audio=ToneSource(AGENT_HZ))
            await call.wait_for_state("Connected")
            await call.hang_up()
            await call.wait_for_state("Disconnected")
        code, output = await outcome(process, tmp_path)
    assert code == 0, output


# -- baresip ------------------------------------------------------------------------------------------------------
class Baresip:
    """One baresip: SIP on 127.0.0.1:``port``, one account, sends a sine of ``hz`` and records what it hears."""

    def __init__(self, home: Path, number: str, *, auto_answer: bool = False, hz: float = PEER_HZ) -> None:
        self.home, self.port = home, free_sip_port()
        self.recordings = home / "recordings"
        self.recordings.mkdir(parents=True, exist_ok=True)
        answer = ";answermode=auto" if auto_answer else ""
        (home / "accounts").write_text(f"<sip:{number}@127.0.0.1:{self.port}>;regint=0{answer};audio_codecs=PCMU\n")
        (home / "config").write_text("\n".join([
            "poll_method epoll", f"sip_listen 127.0.0.1:{self.port}", "audio_player aufile,/dev/null",
            f"audio_source ausine,{int(hz)}", "audio_alert aufile,/dev/null", "ausrc_srate 48000",
            "auplay_srate 48000", "ausrc_channels 2", "auplay_channels 1",  # ausine: 48 kHz, 2 channels only
            "module_path /usr/lib/baresip/modules", "module g711.so", "module ausine.so", "module aufile.so",
            "module sndfile.so", f"snd_path {self.recordings}", "module_app account.so", "module_app menu.so", ""]))
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, seconds: int, command: str | None = None) -> None:
        binary = shutil.which("baresip")
        assert binary is not None, "baresip missing: apt-get install baresip (scripts/system-deps.sh does)"
        extra = ["-e", command] if command else []
        self.process = await asyncio.create_subprocess_exec(
            binary, "-f", str(self.home), "-t", str(seconds), *extra, stdin=asyncio.subprocess.DEVNULL,
            stdout=(self.home / "baresip.log").open("wb"), stderr=asyncio.subprocess.STDOUT)

    async def finish(self, within: float) -> None:
        """baresip quits by itself (``-t``); killed if it has not within ``within`` seconds."""
        if self.process is None:
            return
        try:
            await asyncio.wait_for(self.process.wait(), within)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise

    def heard(self) -> float:
        """The dominant frequency of what baresip decoded (its ``sndfile`` dump of the incoming audio)."""
        [dump] = [p for p in self.recordings.iterdir() if p.name.endswith("-dec.wav")]
        with wave.open(str(dump)) as w:
            data = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
            rate, channels = w.getframerate(), w.getnchannels()
        samples = data.reshape(-1, channels)[:, 0].astype(np.float32) / 32768.0
        return dominant_frequency(samples, rate)

    def log(self) -> str:
        return (self.home / "baresip.log").read_text(errors="replace")[-3000:]


@pytest.fixture
async def baresip_home(tmp_path: Path) -> AsyncIterator[list[Baresip]]:
    made: list[Baresip] = []
    yield made
    for peer in made:  # a failed test leaves no baresip behind
        if peer.process is not None and peer.process.returncode is None:
            peer.process.kill()
            await peer.process.wait()


async def test_baresip_calls_alice_and_both_hear_the_other(demo: Demo, alice: TeamsCallAgent, tmp_path: Path,
                                                          baresip_home: list[Baresip]) -> None:
    calls = accept_every_call(alice)
    phone = Baresip(tmp_path / "caller", CUSTOMER)
    baresip_home.append(phone)
    await phone.start(14, f"/dial sip:{demo.user('alice')['phone_number']}@127.0.0.1:{demo.settings.sip_port}")
    await until(lambda: bool(calls), 10)
    [call] = calls
    await call.wait_for_state("Connected")
    assert call.remote_participants[0].identifier.raw_id == f"4:{CUSTOMER}"
    await hears(call, PEER_HZ)
    await asyncio.sleep(2.0)  # baresip records Alice's tone meanwhile
    await call.hang_up()
    await phone.finish(20)
    assert abs(phone.heard() - AGENT_HZ) < 15, phone.log()


async def test_baresip_answers_a_call_alice_places_and_both_hear_the_other(
        demo: Demo, alice: TeamsCallAgent, tmp_path: Path, baresip_home: list[Baresip]) -> None:
    phone = Baresip(tmp_path / "callee", BARESIP_NUMBER, auto_answer=True)
    baresip_home.append(phone)
    await phone.start(14)
    async with trunk_to(demo, "baresip", phone.port, "+1312555022"):
        await listening(phone.port)
        call = await alice.start_call(PhoneNumberIdentifier(BARESIP_NUMBER), audio=ToneSource(AGENT_HZ))
        await call.wait_for_state("Connected")
        await hears(call, PEER_HZ)
        await asyncio.sleep(2.0)
        await call.hang_up()
        await call.wait_for_state("Disconnected")
    await phone.finish(20)
    assert abs(phone.heard() - AGENT_HZ) < 15, phone.log()
