"""Media gateway adapter: an rtpengine daemon, driven over its ng control protocol.

Each session is an rtpengine call (call-id = session id) with two tags, ``agent`` and ``trunk``. An offer carries
the tag of the side the SDP came from as from-tag (and, on a re-offer, the other as to-tag); an answer carries the
offerer's tag as from-tag and the answerer's as to-tag. The flags are the ones measured on this kind of machine
(docs/reference): towards the trunk ICE and DTLS are removed and RTCP is demultiplexed; towards the agent ICE is
forced, SDES left out and RTCP multiplexed. Offers also ask for ``inject-DTMF`` and keep telephone-event on the
trunk leg, so ``play DTMF`` reaches the phone as RFC 4733 events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from callbridge.logs import Throttled
from callbridge.media import bencode
from callbridge.media.audio_sdp import Direction, direction_of
from callbridge.media.errors import EngineRejected, MediaError, UnknownSession
from callbridge.media.gateway import DeadMediaHandler, DeadMediaWatch, MediaConfig, MediaStats, Side
from callbridge.media.ng import NgClient
from callbridge.media.rtpengine_process import RtpengineProcess
from callbridge.tasks import cancelled

log = logging.getLogger(__name__)
throttled = Throttled(log)  # for what others can repeat at will: one line a minute per kind

_COMMON: dict[str, bencode.Value] = {"replace": ["origin", "session-connection"]}
_TOWARDS: dict[Side, dict[str, bencode.Value]] = {
    Side.TRUNK: {"transport-protocol": "RTP/AVP", "ICE": "remove", "DTLS": "off", "rtcp-mux": ["demux"]},
    Side.AGENT: {"transport-protocol": "UDP/TLS/RTP/SAVPF", "ICE": "force", "rtcp-mux": ["offer", "require"],
                 "SDES": ["off"]},
}
# The trunk leg always carries telephone-event, so ``play DTMF`` has a way to the phone (measured with rtpengine
# 10.5): added to the agent's offers, which never have it from aiortc; and on the trunk's offers, kept in the
# answer back to the trunk by transcoding, even when the agent does not take it.
_OFFER_EXTRAS: dict[Side, dict[str, bencode.Value]] = {
    Side.TRUNK: {"flags": ["inject-DTMF"], "codec": {"transcode": ["PCMU", "PCMA", "telephone-event"]}},
    Side.AGENT: {"flags": ["inject-DTMF", "always-transcode"]},
}


@dataclass
class _Session:
    trunk_direction: Direction = Direction.SENDRECV  # as the trunk's last SDP says
    answered: bool = False


class RtpengineGateway:
    def __init__(self, config: MediaConfig, *, ng_host: str = "127.0.0.1", ng_port: int = 22222,
                 process: RtpengineProcess | None = None, timeout: float = 1.0) -> None:
        self.config, self.process = config, process
        self._ng_address, self._timeout = (ng_host, ng_port), timeout
        self._client: NgClient | None = None
        self._sessions: dict[str, _Session] = {}
        self._watch = DeadMediaWatch(config.dead_media_timeout)
        self._handlers: list[DeadMediaHandler] = []
        self._watching: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.process is not None:
            await self.process.start()
            self._ng_address = ("127.0.0.1", self.process.ng_port)
        self._client = NgClient(*self._ng_address, timeout=self._timeout)
        await self._client.request("ping")
        if self.config.dead_media_timeout:
            self._watching = asyncio.ensure_future(self._watch_dead_media())

    async def close(self) -> None:
        await cancelled(self._watching)
        for session_id in list(self._sessions):
            with contextlib.suppress(MediaError):
                await self.delete(session_id)
        if self._client is not None:
            await self._client.close()
        if self.process is not None:
            await self.process.stop()

    def on_dead_media(self, handler: DeadMediaHandler) -> None:
        self._handlers.append(handler)

    async def offer(self, session_id: str, sdp: str, *, towards: Side) -> str:
        session = self._sessions.get(session_id)
        arguments = self._arguments(session_id, sdp, towards, from_tag=towards.other)
        if session is not None and session.answered:  # a re-offer, from either side
            arguments["to-tag"] = towards.value
        arguments.update(_OFFER_EXTRAS[towards])
        reply = await self._request("offer", arguments)
        session = self._sessions.setdefault(session_id, _Session())
        if towards is Side.AGENT:
            session.trunk_direction = direction_of(sdp)
        return _sdp(reply)

    async def answer(self, session_id: str, sdp: str, *, towards: Side) -> str:
        session = self._session(session_id)
        arguments = self._arguments(session_id, sdp, towards, from_tag=towards)
        arguments["to-tag"] = towards.other.value
        reply = await self._request("answer", arguments)
        session.answered = True
        if towards is Side.AGENT:
            session.trunk_direction = direction_of(sdp)
        return _sdp(reply)

    async def send_dtmf(self, session_id: str, digit: str, duration_ms: int = 100) -> None:
        self._session(session_id)
        await self._request("play DTMF", {"call-id": session_id, "from-tag": Side.AGENT.value, "code": digit,
                                          "duration": duration_ms})

    async def delete(self, session_id: str) -> None:
        if self._sessions.pop(session_id, None) is None:
            return
        self._watch.forget(session_id)
        with contextlib.suppress(EngineRejected):  # already gone (rtpengine's own timeout)
            await self._request("delete", {"call-id": session_id})

    async def stats(self, session_id: str) -> MediaStats:
        self._session(session_id)
        reply = await self._request("query", {"call-id": session_id})
        tags = reply.get("tags")
        tags = tags if isinstance(tags, dict) else {}
        return MediaStats(from_agent=_packets(tags.get(Side.AGENT.value)),
                          from_trunk=_packets(tags.get(Side.TRUNK.value)))

    # -- internals --------------------------------------------------------------------------------------------
    def _arguments(self, session_id: str, sdp: str, towards: Side, *, from_tag: Side) -> dict[str, bencode.Value]:
        return {"call-id": session_id, "from-tag": from_tag.value, "sdp": sdp, **_COMMON, **_TOWARDS[towards]}

    def _session(self, session_id: str) -> _Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise UnknownSession(f"no media session {session_id!r}")
        return session

    async def _request(self, command: str, arguments: dict[str, bencode.Value]) -> dict[str, bencode.Value]:
        if self._client is None:
            raise MediaError("the rtpengine gateway is not started")
        return await self._client.request(command, **arguments)

    async def _watch_dead_media(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._watch.interval)
            for session_id, session in list(self._sessions.items()):
                if not session.answered:  # still ringing: no media need flow yet
                    continue
                try:
                    packets = (await self.stats(session_id)).from_trunk
                except MediaError as exc:
                    throttled.warning("media query failed", extra={"session": session_id, "error": str(exc)})
                    continue
                if self._watch.observe(session_id, packets, loop.time(), trunk_sends=session.trunk_direction.sends):
                    for handler in self._handlers:
                        handler(session_id)


def _sdp(reply: dict[str, bencode.Value]) -> str:
    sdp = reply.get("sdp")
    if not isinstance(sdp, str):
        raise MediaError("rtpengine answered without an SDP")
    return sdp


def _packets(tag: bencode.Value | None) -> int:
    """RTP packets received from the party of one tag: the stats of the first stream of its first medium."""
    if not isinstance(tag, dict):
        return 0
    medias = tag.get("medias")
    if not isinstance(medias, list) or not medias or not isinstance(medias[0], dict):
        return 0
    streams = medias[0].get("streams")
    if not isinstance(streams, list) or not streams or not isinstance(streams[0], dict):
        return 0
    stats = streams[0].get("stats")
    packets = stats.get("packets") if isinstance(stats, dict) else 0
    return packets if isinstance(packets, int) else 0
