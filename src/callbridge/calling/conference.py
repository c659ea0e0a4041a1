"""The calling service's mixer (``calling/mixing.py``'s port) on a conference engine (``media/conference.py``:
Janus's AudioBridge): a room per group call or meeting, a participant per party.

Browsers and SDK agents get the mixer's WebRTC offer and answer it. A phone's media comes as a plain-RTP offer
(through the media gateway, its fixed anchor) and the mixer answers it with its own plain-RTP address: Janus 1.1.2
takes only plain RTP from a gateway (it drops WebRTC packets of an SSRC the SDP does not declare). The engine's
participant ids are global, so each is the room's id and the participant's.
"""

from __future__ import annotations

import logging
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
_PLAIN_CODECS = {Codec.PCMU: RtpCodec.PCMU, Codec.PCMA: RtpCodec.PCMA}


def _engine_id(room_id: str, participant_id: str) -> str:
    return f"{room_id}:{participant_id}"


def is_plain_rtp(sdp: str) -> bool:
    """An offer of plain RTP (a phone through the gateway), not WebRTC (ICE, DTLS-SRTP)."""
    return "RTP/AVP" in sdp and "a=ice-ufrag" not in sdp and "a=fingerprint" not in sdp


class ConferenceMixer:
    def __init__(self, engine: ConferenceEngine, on_talking: TalkingHandler, codec: RtpCodec = RtpCodec.PCMU) -> None:
        """``codec``: what the mixer offers endpoints (G.711 in 8 kHz rooms: nothing is resampled)."""
        self.engine, self._on_talking, self.codec = engine, on_talking, codec
        engine.on_event(self._event)

    async def open_room(self, room_id: str) -> None:
        await self._do(self.engine.open_room(room_id))

    async def offer(self, room_id: str, participant_id: str, display_name: str | None) -> str:
        pid = _engine_id(room_id, participant_id)
        await self._quietly(self.engine.leave(room_id, pid))  # a new media session replaces the last one
        return await self._do(self.engine.join_offering(room_id, pid, display_name or participant_id, self.codec))

    async def answer(self, room_id: str, participant_id: str, display_name: str | None, offer: str) -> str:
        pid, display = _engine_id(room_id, participant_id), display_name or participant_id
        await self._quietly(self.engine.leave(room_id, pid))
        if not is_plain_rtp(offer):
            return await self._do(self.engine.join_webrtc(room_id, pid, display, offer))
        try:
            remote = audio_sdp.read(offer)
        except ValueError as exc:
            raise MixerError(f"the offer cannot be read: {exc}") from None
        codec = next((c for c in remote.codecs if c in _PLAIN_CODECS), None)
        if codec is None:
            raise MixerError("a phone's offer to the mixer must have G.711")
        leg = await self._do(self.engine.join_rtp(room_id, pid, display, _PLAIN_CODECS[codec],
                                                  RtpAddress(remote.address, remote.port)))
        return audio_sdp.write(leg.local.ip, leg.local.port, [codec], telephone_event=None)

    async def complete(self, room_id: str, participant_id: str, answer: str) -> None:
        await self._do(self.engine.complete(room_id, _engine_id(room_id, participant_id), answer))

    async def trickle(self, room_id: str, participant_id: str, candidate: dict[str, Any] | None) -> None:
        """Janus takes the candidates of its peers in their SDP (half trickle): endpoints finish gathering
        before they answer the mixer, so a trickled candidate adds nothing."""

    async def mute(self, room_id: str, participant_id: str, muted: bool) -> None:
        await self._do(self.engine.mute(room_id, _engine_id(room_id, participant_id), muted))

    async def leave(self, room_id: str, participant_id: str) -> None:
        await self._quietly(self.engine.leave(room_id, _engine_id(room_id, participant_id)))

    async def close_room(self, room_id: str) -> None:
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
