"""The calling service's mixer (``calling/mixing.py``'s port) on a conference engine (``media/conference.py``:
Janus's AudioBridge): a room per group call or meeting, a participant per party.

Browsers and SDK agents get the mixer's WebRTC offer and answer it. A phone's media comes as a plain-RTP offer
(through the media gateway, its fixed anchor) and the mixer answers it with its own plain-RTP address: Janus 1.1.2
takes only plain RTP from a gateway (it drops WebRTC packets of an SSRC the SDP does not declare). The engine's
participant ids are global, so each is the room's id and the participant's.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from callbridge.calling.mixing import MixerError
from callbridge.logs import Throttled
from callbridge.media import audio_sdp
from callbridge.media.conference import (
    ConferenceEngine,
    ConferenceError,
    ConferenceEvent,
    MediaLost,
    NoSuchParticipant,
    NoSuchRoom,
    RtpAddress,
    RtpCodec,
    Talking,
)
from callbridge.media.g711 import Codec

log = logging.getLogger("callbridge.calling.mixer")
throttled = Throttled(log)
TalkingHandler = Callable[[str, str, bool], None]  # (room, participant, talking); must not block
T = TypeVar("T")
_DISCARD = "127.0.0.1"  # where a plain leg's mix goes until the phone's address is known (port 9: discard)
_PLAIN_CODECS = {Codec.PCMU: RtpCodec.PCMU, Codec.PCMA: RtpCodec.PCMA}


def _engine_id(room_id: str, participant_id: str) -> str:
    return f"{room_id}:{participant_id}"


def _g711(remote: audio_sdp.AudioDescription) -> Codec:
    codec = next((c for c in remote.codecs if c in _PLAIN_CODECS), None)
    if codec is None:
        raise MixerError("a phone's media with the mixer must be G.711")
    return codec


class ConferenceMixer:
    def __init__(self, engine: ConferenceEngine, on_talking: TalkingHandler, codec: RtpCodec = RtpCodec.PCMU) -> None:
        """``codec``: what the mixer offers endpoints (G.711 in 8 kHz rooms: nothing is resampled)."""
        self.engine, self._on_talking, self.codec = engine, on_talking, codec
        self._plain: dict[str, RtpAddress] = {}  # a plain leg -> the mixer's address it was last offered
        self._versions: dict[str, int] = {}  # a plain leg -> its SDP's o= version (each new SDP a higher one)
        engine.on_event(self._event)

    async def open_room(self, room_id: str) -> None:
        await self._do(self.engine.open_room(room_id))

    async def offer(self, room_id: str, participant_id: str, display_name: str | None, plain: bool) -> str:
        """WebRTC: Janus's own offer. Plain RTP: Janus takes a plain leg's address only as it joins and never
        learns one, so the leg joins towards a discard address and moves to the phone's once its answer names it
        (``complete``)."""
        pid, display = _engine_id(room_id, participant_id), display_name or participant_id
        await self._quietly(self.engine.leave(room_id, pid))  # a new media session replaces the last one
        if not plain:
            return await self._do(self.engine.join_offering(room_id, pid, display, self.codec))
        return await self._join_plain(room_id, pid, display, Codec.PCMU, RtpAddress(_DISCARD, 9))

    async def answer(self, room_id: str, participant_id: str, display_name: str | None, offer: str) -> str:
        pid, display = _engine_id(room_id, participant_id), display_name or participant_id
        await self._quietly(self.engine.leave(room_id, pid))
        if not audio_sdp.is_plain_rtp(offer):
            return await self._do(self.engine.join_webrtc(room_id, pid, display, offer))
        try:
            remote = audio_sdp.read(offer)
        except ValueError as exc:
            raise MixerError(f"the offer cannot be read: {exc}") from None
        return await self._join_plain(room_id, pid, display, _g711(remote), RtpAddress(remote.address, remote.port))

    async def complete(self, room_id: str, participant_id: str, answer: str) -> str | None:
        pid = _engine_id(room_id, participant_id)
        if not audio_sdp.is_plain_rtp(answer):
            await self._do(self.engine.complete(room_id, pid, answer))
            return None
        try:  # a phone answered the plain offer: the leg moves to the phone's address (and maybe its port)
            remote = audio_sdp.read(answer)
        except ValueError as exc:
            raise MixerError(f"the answer cannot be read: {exc}") from None
        offered = self._plain.get(pid)
        await self._quietly(self.engine.leave(room_id, pid))
        sdp = await self._join_plain(room_id, pid, participant_id, _g711(remote),
                                     RtpAddress(remote.address, remote.port))
        return None if self._plain.get(pid) == offered else sdp  # the same port again: nothing to tell the phone

    async def _join_plain(self, room_id: str, pid: str, display: str, codec: Codec, remote: RtpAddress) -> str:
        leg = await self._do(self.engine.join_rtp(room_id, pid, display, _PLAIN_CODECS[codec], remote))
        self._plain[pid] = leg.local
        version = self._versions[pid] = self._versions.get(pid, 0) + 1  # RFC 3264 8: a changed SDP, a new version
        return audio_sdp.write(leg.local.ip, leg.local.port, [codec], telephone_event=None,
                               session_id=zlib.crc32(pid.encode()), version=version)

    async def trickle(self, room_id: str, participant_id: str, candidate: dict[str, Any] | None) -> None:
        """Janus takes the candidates of its peers in their SDP (half trickle): endpoints finish gathering
        before they answer the mixer, so a trickled candidate adds nothing."""

    async def mute(self, room_id: str, participant_id: str, muted: bool) -> None:
        await self._do(self.engine.mute(room_id, _engine_id(room_id, participant_id), muted))

    async def leave(self, room_id: str, participant_id: str) -> None:
        pid = _engine_id(room_id, participant_id)
        self._plain.pop(pid, None)
        self._versions.pop(pid, None)
        await self._quietly(self.engine.leave(room_id, pid))

    async def close_room(self, room_id: str) -> None:
        for pid in [p for p in self._versions if p.startswith(f"{room_id}:")]:
            self._plain.pop(pid, None)
            del self._versions[pid]
        await self._quietly(self.engine.close_room(room_id))

    async def _do(self, work: Awaitable[T]) -> T:
        try:
            return await work
        except ConferenceError as exc:
            raise MixerError(str(exc)) from exc

    async def _quietly(self, work: Awaitable[None]) -> None:
        """Leaving what is gone already is done."""
        try:
            await work
        except (NoSuchParticipant, NoSuchRoom):
            pass
        except ConferenceError as exc:
            throttled.warning("the mixer could not let go", extra={"why": str(exc)})

    def _event(self, event: ConferenceEvent) -> None:
        if isinstance(event, Talking):
            self._on_talking(event.room, event.participant.removeprefix(f"{event.room}:"), event.talking)
        elif isinstance(event, MediaLost):
            throttled.error("the conference mixer was lost", extra={"why": event.reason})
