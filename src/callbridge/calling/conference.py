"""The calling service's mixer (``calling/mixing.py``'s port) on a conference engine (``media/conference.py``:
Janus's AudioBridge): a room per group call or meeting, a participant per party.

Browsers and SDK agents get the mixer's WebRTC offer and answer it. A phone's plain RTP G.711 goes straight to the
mixer (the media gateway steps aside: Janus 1.1.2 drops a gateway's WebRTC packets of an SSRC the SDP does not
declare): the mixer offers a plain leg, and moves it to the phone's address once the phone's answer names it. The
engine's participant ids are global, so each is the room's id, the participant's, and the join's number.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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
from callbridge.media.errors import BadSdp
from callbridge.media.g711 import Codec

log = logging.getLogger("callbridge.calling.mixer")
throttled = Throttled(log)
TalkingHandler = Callable[[str, str, bool], None]  # (room, participant, talking); must not block
T = TypeVar("T")
_DISCARD = "127.0.0.1"  # where a plain leg's mix goes until the phone's address is known (port 9: discard)
_PLAIN_CODECS = {Codec.PCMU: RtpCodec.PCMU, Codec.PCMA: RtpCodec.PCMA}


@dataclass
class _Member:
    """A participant as the engine knows it: a new engine id at each join (Janus lets a leaving id go only a moment
    later, so joining again under the same one can collide), and a plain leg's address and SDP version."""

    engine_id: str = ""
    joins: int = 0
    plain: RtpAddress | None = None  # the mixer's address last offered to a phone
    version: int = 0  # that SDP's o= version: each new SDP a higher one (RFC 3264 8)


def _g711(remote: audio_sdp.AudioDescription) -> Codec:
    codec = next((c for c in remote.codecs if c in _PLAIN_CODECS), None)
    if codec is None:
        raise MixerError("a phone's media with the mixer must be G.711")
    return codec


class ConferenceMixer:
    def __init__(self, engine: ConferenceEngine, on_talking: TalkingHandler, codec: RtpCodec = RtpCodec.PCMU) -> None:
        """``codec``: what the mixer offers endpoints (G.711 in 8 kHz rooms: nothing is resampled)."""
        self.engine, self._on_talking, self.codec = engine, on_talking, codec
        self._members: dict[tuple[str, str], _Member] = {}
        engine.on_event(self._event)

    async def open_room(self, room_id: str) -> None:
        await self._do(self.engine.open_room(room_id))

    async def offer(self, room_id: str, participant_id: str, display_name: str | None, plain: bool) -> str:
        """WebRTC: Janus's own offer. Plain RTP: Janus takes a plain leg's address only as it joins and never
        learns one, so the leg joins towards a discard address and moves to the phone's once its answer names it
        (``complete``)."""
        member = await self._rejoin(room_id, participant_id)
        display = display_name or participant_id
        if not plain:
            return await self._do(self.engine.join_offering(room_id, member.engine_id, display, self.codec))
        return await self._join_plain(room_id, member, display, Codec.PCMU, RtpAddress(_DISCARD, 9))

    async def answer(self, room_id: str, participant_id: str, display_name: str | None, offer: str) -> str:
        member = await self._rejoin(room_id, participant_id)
        display = display_name or participant_id
        if not audio_sdp.is_plain_rtp(offer):
            return await self._do(self.engine.join_webrtc(room_id, member.engine_id, display, offer))
        remote = _read(offer)
        return await self._join_plain(room_id, member, display, _g711(remote), RtpAddress(remote.address, remote.port))

    async def complete(self, room_id: str, participant_id: str, answer: str) -> str | None:
        member = self._members.get((room_id, participant_id))
        if member is None:
            raise MixerError(f"{participant_id} has no media session with the mixer")
        if not audio_sdp.is_plain_rtp(answer):
            await self._do(self.engine.complete(room_id, member.engine_id, answer))
            return None
        remote = _read(answer)  # a phone answered the plain offer: the leg moves to the phone's address
        offered = member.plain
        await self._rejoin(room_id, participant_id)
        sdp = await self._join_plain(room_id, member, participant_id, _g711(remote),
                                     RtpAddress(remote.address, remote.port))
        return None if member.plain == offered else sdp  # the same port again: nothing to tell the phone

    async def _rejoin(self, room_id: str, participant_id: str) -> _Member:
        """The participant's last media session (if any) goes; the next one joins under a new engine id."""
        member = self._members.setdefault((room_id, participant_id), _Member())
        if member.engine_id:
            await self._quietly(self.engine.leave(room_id, member.engine_id))
        member.joins += 1
        member.engine_id = f"{room_id}:{participant_id}:{member.joins}"
        return member

    async def _join_plain(self, room_id: str, member: _Member, display: str, codec: Codec,
                          remote: RtpAddress) -> str:
        leg = await self._do(self.engine.join_rtp(room_id, member.engine_id, display, _PLAIN_CODECS[codec], remote))
        member.plain, member.version = leg.local, member.version + 1
        return audio_sdp.write(leg.local.ip, leg.local.port, [codec], telephone_event=None,
                               session_id=zlib.crc32(member.engine_id.rpartition(":")[0].encode()),
                               version=member.version)

    async def trickle(self, room_id: str, participant_id: str, candidate: dict[str, Any] | None) -> None:
        """Janus takes the candidates of its peers in their SDP (half trickle): endpoints finish gathering
        before they answer the mixer, so a trickled candidate adds nothing."""

    async def mute(self, room_id: str, participant_id: str, muted: bool) -> None:
        member = self._members.get((room_id, participant_id))
        if member is not None:
            await self._do(self.engine.mute(room_id, member.engine_id, muted))

    async def leave(self, room_id: str, participant_id: str) -> None:
        member = self._members.pop((room_id, participant_id), None)
        if member is not None:
            await self._quietly(self.engine.leave(room_id, member.engine_id))

    async def close_room(self, room_id: str) -> None:
        for key in [key for key in self._members if key[0] == room_id]:
            del self._members[key]
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
            participant = event.participant.removeprefix(f"{event.room}:").rpartition(":")[0]
            self._on_talking(event.room, participant, event.talking)
        elif isinstance(event, MediaLost):
            throttled.error("the conference mixer was lost", extra={"why": event.reason})


def _read(sdp: str) -> audio_sdp.AudioDescription:
    try:
        return audio_sdp.read(sdp)
    except BadSdp as exc:
        raise MixerError(f"the SDP cannot be read: {exc}") from None
