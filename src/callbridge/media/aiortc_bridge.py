"""Media gateway adapter, in process: per session an aiortc peer connection towards the agent and an RTP endpoint
towards the trunk, relaying decoded audio both ways (frames from the agent's track become G.711 RTP packets; RTP
from the trunk becomes frames of a track sent to the agent). Digits go to the trunk as RFC 4733 events.

The peer connection has no ICE servers (aiortc would otherwise add a public STUN server), prefers PCMU and PCMA
(set before the remote description, or aiortc ignores them), and advertises only its host candidates on the
configured address. Plan about 8 sessions per process: Python media costs about 10 % of a core per endpoint.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from callbridge.media import audio_sdp
from callbridge.media.agent_track import AgentTrack, relay_frames
from callbridge.media.audio_sdp import direction_of
from callbridge.media.errors import BadSdp, MediaError, UnknownSession
from callbridge.media.g711 import Codec, Samples
from callbridge.media.gateway import DeadMediaHandler, DeadMediaWatch, MediaConfig, MediaStats, Side
from callbridge.media.rtp_endpoint import RtpEndpoint
from callbridge.tasks import cancelled

log = logging.getLogger(__name__)


@dataclass
class _Session:
    endpoint: RtpEndpoint
    track: AgentTrack
    pc: RTCPeerConnection | None = None
    transceiver: RTCRtpTransceiver | None = None
    agent_offer: str | None = None  # waiting for the trunk's answer
    trunk_offer: str | None = None  # waiting for the agent's answer
    answered: bool = False
    from_agent: int = 0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class AiortcGateway:
    def __init__(self, config: MediaConfig) -> None:
        self.config = config
        self._sessions: dict[str, _Session] = {}
        self._watch = DeadMediaWatch(config.dead_media_timeout)
        self._handlers: list[DeadMediaHandler] = []
        self._watching: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.config.dead_media_timeout:
            self._watching = asyncio.ensure_future(self._watch_dead_media())

    async def close(self) -> None:
        await cancelled(self._watching)
        for session_id in list(self._sessions):
            await self.delete(session_id)

    def on_dead_media(self, handler: DeadMediaHandler) -> None:
        self._handlers.append(handler)

    async def offer(self, session_id: str, sdp: str, *, towards: Side) -> str:
        session = await self._session_for(session_id)
        if towards is Side.TRUNK:  # the agent offers: the trunk hears of it first
            session.agent_offer = sdp
            return session.endpoint.offer(direction_of(sdp))
        session.trunk_offer = sdp
        codecs = audio_sdp.read(sdp).codecs
        if not codecs:
            raise BadSdp("the trunk offered no G.711 codec")
        transceiver = self._peer(session, codecs)
        transceiver.direction = direction_of(sdp).value
        pc = _pc(session)
        await pc.setLocalDescription(await pc.createOffer())
        return self._local_sdp(session)

    async def answer(self, session_id: str, sdp: str, *, towards: Side) -> str:
        session = self._session(session_id)
        if towards is Side.AGENT:  # the trunk answered the agent's offer
            if session.agent_offer is None:
                raise MediaError(f"no offer from the agent waits for an answer in {session_id!r}")
            session.endpoint.accept(sdp)
            transceiver = self._peer(session, [session.endpoint.stream.codec])
            transceiver.direction = direction_of(sdp).value
            pc = _pc(session)
            await pc.setRemoteDescription(RTCSessionDescription(session.agent_offer, "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            session.agent_offer, session.answered = None, True
            return self._local_sdp(session)
        if session.trunk_offer is None:
            raise MediaError(f"no offer from the trunk waits for an answer in {session_id!r}")
        await _pc(session).setRemoteDescription(RTCSessionDescription(sdp, "answer"))
        plain = session.endpoint.answer(session.trunk_offer, direction_of(sdp))
        session.trunk_offer, session.answered = None, True
        return plain

    async def send_dtmf(self, session_id: str, digit: str, duration_ms: int = 100) -> None:
        endpoint = self._session(session_id).endpoint
        try:
            await endpoint.send_dtmf(digit, duration_ms)
        except ValueError as exc:
            raise MediaError(str(exc)) from exc

    async def delete(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is None:
            return
        self._watch.forget(session_id)
        for task in session.tasks:
            task.cancel()
        if session.pc is not None:
            await session.pc.close()
        await session.endpoint.close()

    async def stats(self, session_id: str) -> MediaStats:
        session = self._session(session_id)
        return MediaStats(from_agent=session.from_agent, from_trunk=session.endpoint.stats.packets_received)

    # -- internals --------------------------------------------------------------------------------------------
    def _session(self, session_id: str) -> _Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise UnknownSession(f"no media session {session_id!r}")
        return session

    async def _session_for(self, session_id: str) -> _Session:
        session = self._sessions.get(session_id)
        if session is None:
            endpoint = RtpEndpoint(bind=self.config.advertised_address, ports=self.config.ports,
                                   advertised=self.config.advertised_address)
            await endpoint.open()
            session = self._sessions[session_id] = _Session(endpoint, AgentTrack())
            endpoint.on_audio = session.track.push
        return session

    def _peer(self, session: _Session, codecs: list[Codec]) -> RTCRtpTransceiver:
        """The session's peer connection and its one audio transceiver, made on first use with G.711 only."""
        if session.pc is None or session.transceiver is None:
            session.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            session.transceiver = session.pc.addTransceiver(session.track, direction="sendrecv")
            names = [f"audio/{codec.name.lower()}" for codec in codecs + [c for c in Codec if c not in codecs]]
            offered = RTCRtpSender.getCapabilities("audio").codecs
            preferred = sorted((c for c in offered if c.mimeType.lower() in names),
                               key=lambda c: names.index(c.mimeType.lower()))
            session.transceiver.setCodecPreferences(preferred)
            session.pc.on("track", lambda track: self._relay(session, track))
        return session.transceiver

    def _relay(self, session: _Session, track: MediaStreamTrack) -> None:
        if session.tasks:  # one relay per session, whatever renegotiation does
            return

        def heard(samples: Samples) -> None:
            session.from_agent += 1
            if self._agent_sends(session):
                session.endpoint.send_audio(samples)

        session.tasks.append(asyncio.ensure_future(relay_frames(track, heard)))

    @staticmethod
    def _agent_sends(session: _Session) -> bool:
        local = session.pc.localDescription if session.pc is not None else None
        return local is not None and direction_of(local.sdp).receives

    def _local_sdp(self, session: _Session) -> str:
        """The local description with only the candidates on the advertised address (when it has any); the track
        to the agent plays silence while it says the gateway does not send."""
        sdp = _pc(session).localDescription.sdp
        session.track.sending = direction_of(sdp).sends
        lines = sdp.split("\r\n")
        ours = [line for line in lines if line.startswith("a=candidate:")
                and line.split()[4:5] == [self.config.advertised_address]]
        if not ours:
            log.warning("no ICE candidate on the advertised address", extra={"address": self.config.advertised_address})
            return str(sdp)
        return "\r\n".join(line for line in lines if not line.startswith("a=candidate:") or line in ours)

    async def _watch_dead_media(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._watch.interval)
            for session_id, session in list(self._sessions.items()):
                endpoint = session.endpoint
                if session.answered and self._watch.observe(session_id, endpoint.stats.packets_received, loop.time(),
                                                            trunk_sends=endpoint.remote_direction.sends):
                    for handler in self._handlers:
                        handler(session_id)


def _pc(session: _Session) -> RTCPeerConnection:
    assert session.pc is not None
    return session.pc

