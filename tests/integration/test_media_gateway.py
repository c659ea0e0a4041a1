"""Contract tests of the media gateway port, over both adapters (the in-process aiortc bridge and a real rtpengine
daemon): an aiortc WebRTC peer (the agent, 1000 Hz) and a plain RTP endpoint (the phone, 440 Hz) talk through the
gateway. Each hears the other's tone, hold silences and resume brings the tones back, digits reach the phone,
delete frees the ports, and a phone that stops sending ends the call as dead media."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription

from callbridge.media import audio_sdp
from callbridge.media.aiortc_bridge import AiortcGateway
from callbridge.media.audio import Tone
from callbridge.media.errors import UnknownSession
from callbridge.media.gateway import MediaConfig, MediaGateway, Side
from callbridge.media.rtp_endpoint import PortRange, RtpEndpoint
from callbridge.media.rtpengine import RtpengineGateway
from callbridge.media.rtpengine_process import RtpengineProcess
from callbridge.sdk.media import Recorder, ToneSource, dominant_frequency, level
from tests.support.ice import loopback_ice  # noqa: F401 - the module's autouse fixture

AGENT_HZ, PHONE_HZ = 1000.0, 440.0
GATEWAY_PORTS = {"aiortc": PortRange(43_000, 43_199), "rtpengine": PortRange(43_200, 43_399)}
PHONE_PORTS = PortRange(43_400, 43_599)
DEAD_MEDIA_S = 1.0



@pytest.fixture(params=["aiortc", "rtpengine"])
async def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MediaGateway]:
    config = MediaConfig(ports=GATEWAY_PORTS[request.param], advertised_address="127.0.0.1",
                         dead_media_timeout=DEAD_MEDIA_S)
    made: MediaGateway
    if request.param == "aiortc":
        made = AiortcGateway(config)
    else:
        made = RtpengineGateway(config, process=RtpengineProcess(tmp_path, ports=config.ports))
    await made.start()
    yield made
    await made.close()


class Agent:
    """A WebRTC agent as aiortc is: G.711 only, and it keeps sending its tone whatever the SDP says."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.transceiver = self.pc.addTransceiver(ToneSource(AGENT_HZ), direction="sendrecv")
        self.transceiver.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("audio").codecs
                                              if c.mimeType.lower() in ("audio/pcmu", "audio/pcma")])
        self.recorder = Recorder()
        self.pc.on("track", self.recorder.attach)

    async def offer(self, direction: str = "sendrecv") -> str:
        self.transceiver.direction = direction
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def accept(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))

    async def answer(self, sdp: str) -> str:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)

    async def close(self) -> None:
        await self.recorder.stop()
        await self.pc.close()


@pytest.fixture
async def agent() -> AsyncIterator[Agent]:
    made = Agent()
    yield made
    await made.close()


@pytest.fixture
async def phone() -> AsyncIterator[RtpEndpoint]:
    made = RtpEndpoint(ports=PHONE_PORTS, source=Tone(PHONE_HZ))
    await made.open()
    yield made
    await made.close()


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


async def heard(agent: Agent, phone: RtpEndpoint, seconds: float = 0.6) -> tuple[tuple[float, float], ...]:
    """(dominant frequency, level) of what the agent and the phone hear during the next ``seconds``."""
    agent_mark, phone_mark = agent.recorder.mark(), phone.recording.mark()
    await asyncio.sleep(seconds)
    for_agent, for_phone = agent.recorder.since(agent_mark), phone.recording.since(phone_mark)
    return ((dominant_frequency(for_agent, agent.recorder.sample_rate), level(for_agent)),
            (dominant_frequency(for_phone, 8000), level(for_phone)))


async def both_hear_each_other(agent: Agent, phone: RtpEndpoint) -> None:
    await until(lambda: agent.recorder.frames > 10 and len(phone.recording.chunks) > 10)
    (agent_hz, agent_level), (phone_hz, phone_level) = await heard(agent, phone)
    assert abs(agent_hz - PHONE_HZ) < 15 and agent_level > 0.05, "the agent hears the phone"
    assert abs(phone_hz - AGENT_HZ) < 15 and phone_level > 0.05, "the phone hears the agent"


async def outbound(gateway: MediaGateway, agent: Agent, phone: RtpEndpoint, session: str) -> str:
    """The agent calls out; returns the trunk side's SDP."""
    to_trunk = await gateway.offer(session, await agent.offer(), towards=Side.TRUNK)
    assert " RTP/AVP " in to_trunk and "a=candidate" not in to_trunk and "a=fingerprint" not in to_trunk
    assert audio_sdp.read(to_trunk).telephone_event is not None
    to_agent = await gateway.answer(session, phone.answer(to_trunk), towards=Side.AGENT)
    assert "UDP/TLS/RTP/SAVPF" in to_agent and "127.0.0.1" in to_agent and "a=fingerprint" in to_agent
    await agent.accept(to_agent)
    phone.start()
    return to_trunk


async def test_outbound_call_audio_dtmf_hold_resume_delete(gateway: MediaGateway, agent: Agent,
                                                           phone: RtpEndpoint) -> None:
    to_trunk = await outbound(gateway, agent, phone, "out-1")
    await both_hear_each_other(agent, phone)

    await gateway.send_dtmf("out-1", "7")
    await gateway.send_dtmf("out-1", "#", duration_ms=60)
    await until(lambda: phone.digits == ["7", "#"])

    hold = await gateway.offer("out-1", await agent.offer("inactive"), towards=Side.TRUNK)
    assert audio_sdp.direction_of(hold).value == "inactive"
    to_agent = await gateway.answer("out-1", phone.answer(hold), towards=Side.AGENT)
    assert audio_sdp.direction_of(to_agent).value == "inactive"
    await agent.accept(to_agent)
    await asyncio.sleep(0.3)  # what was in flight drains
    (_, agent_level), (_, phone_level) = await heard(agent, phone)
    assert agent_level < 0.01 and phone_level < 0.01, "hold silences both ways"

    resume = await gateway.offer("out-1", await agent.offer("sendrecv"), towards=Side.TRUNK)
    await agent.accept(await gateway.answer("out-1", phone.answer(resume), towards=Side.AGENT))
    await both_hear_each_other(agent, phone)

    stats = await gateway.stats("out-1")
    assert stats.from_agent > 50 and stats.from_trunk > 50
    await gateway.delete("out-1")
    await gateway.delete("out-1")  # a second hang-up is harmless
    with pytest.raises(UnknownSession):
        await gateway.stats("out-1")
    await assert_port_freed(audio_sdp.read(to_trunk).port)


async def test_inbound_call_audio_hold_from_the_phone_and_resume(gateway: MediaGateway, agent: Agent,
                                                                 phone: RtpEndpoint) -> None:
    to_agent = await gateway.offer("in-1", phone.offer(), towards=Side.AGENT)
    assert "UDP/TLS/RTP/SAVPF" in to_agent and "a=fingerprint" in to_agent
    to_trunk = await gateway.answer("in-1", await agent.answer(to_agent), towards=Side.TRUNK)
    assert " RTP/AVP " in to_trunk and "a=candidate" not in to_trunk
    phone.accept(to_trunk)
    phone.start()
    await both_hear_each_other(agent, phone)
    await gateway.send_dtmf("in-1", "3")
    await until(lambda: phone.digits == ["3"])

    hold = await gateway.offer("in-1", phone.offer(audio_sdp.Direction.SENDONLY), towards=Side.AGENT)
    assert audio_sdp.direction_of(hold).value == "sendonly"
    answer = await gateway.answer("in-1", await agent.answer(hold), towards=Side.TRUNK)
    assert audio_sdp.direction_of(answer).value == "recvonly"
    phone.accept(answer)
    await asyncio.sleep(0.3)
    (agent_hz, agent_level), (_, phone_level) = await heard(agent, phone)
    assert abs(agent_hz - PHONE_HZ) < 15 and agent_level > 0.05, "the phone's music on hold reaches the agent"
    assert phone_level < 0.01, "a phone on hold (sendonly) is sent nothing"

    resume = await gateway.offer("in-1", phone.offer(audio_sdp.Direction.SENDRECV), towards=Side.AGENT)
    phone.accept(await gateway.answer("in-1", await agent.answer(resume), towards=Side.TRUNK))
    await both_hear_each_other(agent, phone)
    await gateway.delete("in-1")
    await assert_port_freed(audio_sdp.read(to_trunk).port)


async def test_dead_media_when_the_phone_stops_sending(gateway: MediaGateway, agent: Agent,
                                                       phone: RtpEndpoint) -> None:
    dead: list[str] = []
    gateway.on_dead_media(dead.append)
    await outbound(gateway, agent, phone, "dead-1")
    await until(lambda: len(phone.recording.chunks) > 10)
    await asyncio.sleep(DEAD_MEDIA_S * 1.5)
    assert dead == [], "media flows: the call is alive"
    await phone.stop()
    await until(lambda: bool(dead), timeout=DEAD_MEDIA_S * 4)
    await asyncio.sleep(DEAD_MEDIA_S / 2)
    assert dead == ["dead-1"], "reported once"
    await gateway.delete("dead-1")


async def assert_port_freed(port: int) -> None:
    """The gateway's port can be bound again (rtpengine closes it a moment after answering delete)."""
    def free() -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
            return True

    await until(free, timeout=2.0)


async def test_a_call_on_hold_both_ways_silent_is_not_dead_media(gateway: MediaGateway, agent: Agent,
                                                                 phone: RtpEndpoint) -> None:
    """Held ``inactive``, the phone sends nothing by agreement: the watch waits for the resume."""
    dead: list[str] = []
    gateway.on_dead_media(dead.append)
    await outbound(gateway, agent, phone, "held-1")
    await both_hear_each_other(agent, phone)
    hold = await gateway.offer("held-1", await agent.offer("inactive"), towards=Side.TRUNK)
    await agent.accept(await gateway.answer("held-1", phone.answer(hold), towards=Side.AGENT))
    assert not phone.sending
    await asyncio.sleep(DEAD_MEDIA_S * 2.5)
    assert dead == [], "silence on hold is not dead media"
    resume = await gateway.offer("held-1", await agent.offer("sendrecv"), towards=Side.TRUNK)
    await agent.accept(await gateway.answer("held-1", phone.answer(resume), towards=Side.AGENT))
    await both_hear_each_other(agent, phone)
    assert dead == []
    await gateway.delete("held-1")
