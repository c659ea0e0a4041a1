"""The conference engine port: the audio mixer of meetings and group calls. Each participant hears everyone else in
the room but not itself (mix-minus).

Rooms and participants are named by the caller of the port (strings: a meeting's id, a participant's id). A
participant joins one of three ways:

    browser / SDK       offer  -> join_webrtc(...)                    -> answer to the browser
    WebRTC peer that    join_offering(...) -> the mixer's offer -> the peer ... its answer -> complete(...)
      answers           (e.g. the media gateway's agent side in front of a phone: the phone hears the meeting,
                        but Janus 1.1.2 drops rtpengine's undeclared SSRC, so the meeting does not hear the phone)
    phone (PSTN leg)    rtpengine anchors it with plain RTP on both sides; join_rtp(pcmu, rtpengine's address)
                        -> the mixer's plain RTP address, for rtpengine's answer (heard both ways)
    load generator      join_rtp(codec, remote address)               -> the mixer's plain RTP address

    lobby               move(participant, "<room>-lobby") and back: same media, another mix
    roster changes      Talking / Left / MediaLost, to the handler given to ``on_event``

Every verb is bounded in time: an engine that is missing or does not answer raises ``ConferenceUnavailable``
(joining a meeting fails with a clear error, it never hangs). Adapter: ``janus.JanusConference`` (Janus
AudioBridge over its WebSocket API, run by ``janus_process.JanusProcess``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from callbridge.media.errors import EngineRejected, EngineUnavailable, MediaError

# 8 kHz: G.711 phone legs are mixed without resampling. Janus 1.1.2 resamples 8 kHz legs into 16/48 kHz rooms
# without filtering (zero-stuffing up, plain decimation down), which images a phone's audio at 8000-f and makes it
# 6 dB quieter for browsers (docs/operations.md, "Conference mixer"). Browsers then hear narrowband audio.
DEFAULT_SAMPLING_RATE = 8000
SAMPLING_RATES = (8000, 12000, 16000, 24000, 48000)


class RtpCodec(StrEnum):
    """The codec of a participant's leg (plain RTP, or a WebRTC leg the mixer offers)."""

    PCMU = "pcmu"
    PCMA = "pcma"
    OPUS = "opus"


@dataclass(frozen=True)
class RtpAddress:
    ip: str
    port: int


@dataclass(frozen=True)
class RtpLeg:
    """The mixer's side of a plain-RTP participant: where to send its RTP, with which payload type."""

    local: RtpAddress
    payload_type: int


class LeftReason(StrEnum):
    KICKED = "kicked"
    ROOM_CLOSED = "room-closed"
    HANGUP = "hangup"  # the participant's WebRTC media ended (peer connection closed, ICE or DTLS failed)


@dataclass(frozen=True)
class Talking:
    """A WebRTC participant started or stopped talking (the mixer measures no plain-RTP leg: measure those at the
    media edge)."""

    room: str
    participant: str
    talking: bool


@dataclass(frozen=True)
class Left:
    """A participant left the mix without being asked to by ``leave`` (kicked, room closed, media ended)."""

    room: str
    participant: str
    reason: LeftReason


@dataclass(frozen=True)
class MediaLost:
    """The engine was lost (it exited, or its API connection dropped and could not be reclaimed): every room and
    participant is gone."""

    reason: str


ConferenceEvent = Talking | Left | MediaLost
EventHandler = Callable[[ConferenceEvent], None]


class ConferenceError(MediaError):
    """A conference verb failed."""


class ConferenceUnavailable(ConferenceError, EngineUnavailable):
    """The conference engine is not installed, not running or did not answer in time."""


class ConferenceRejected(ConferenceError, EngineRejected):
    """The engine refused the request; ``code`` is its own error code."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class NoSuchRoom(ConferenceRejected):
    pass


class RoomExists(ConferenceRejected):
    pass


class NoSuchParticipant(ConferenceError):
    """No participant by that id (never joined, or already left)."""


class AlreadyJoined(ConferenceError):
    """A participant by that id is already in the engine (ids are unique per engine, not per room)."""


class ConferenceEngine(Protocol):
    def on_event(self, handler: EventHandler) -> None:
        """``handler(event)`` runs for each Talking, Left and MediaLost, on the event loop; it must not block."""

    async def close(self) -> None:
        """Leaves every participant and closes every room this engine opened."""

    async def open_room(self, room_id: str, sampling_rate: int | None = None) -> None:
        """A room mixing at ``sampling_rate`` Hz (None: the engine's default). Raises RoomExists if open already."""

    async def close_room(self, room_id: str) -> None:
        """Everyone in it leaves (Left with ROOM_CLOSED) and its media stops. Raises NoSuchRoom."""

    async def join_webrtc(self, room_id: str, participant_id: str, display: str, offer_sdp: str) -> str:
        """A WebRTC participant that made the offer; returns the mixer's answer."""

    async def join_offering(self, room_id: str, participant_id: str, display: str,
                            codec: RtpCodec = RtpCodec.OPUS) -> str:
        """A WebRTC participant for which the mixer makes the offer (of ``codec`` only: PCMU for a phone behind
        the media gateway, so nothing is transcoded); ``complete`` takes the answer."""

    async def complete(self, room_id: str, participant_id: str, answer_sdp: str) -> None: ...

    async def join_rtp(self, room_id: str, participant_id: str, display: str, codec: RtpCodec,
                       remote: RtpAddress) -> RtpLeg:
        """A plain-RTP participant sending from and receiving at ``remote``. The mixer sends nothing to it until it
        has sent its first packet."""

    async def leave(self, room_id: str, participant_id: str) -> None:
        """Unknown participants are ignored (hang-ups race)."""

    async def mute(self, room_id: str, participant_id: str, muted: bool) -> None:
        """A muted participant still hears the room; nobody hears it."""

    async def move(self, participant_id: str, to_room: str) -> None:
        """To another open room with the same media (a lobby and back)."""

    async def kick(self, room_id: str, participant_id: str) -> None: ...

    async def play_file(self, room_id: str, path: Path, *, loop: bool = False) -> str:
        """An Ogg Opus file to everyone in the room; returns its id for ``stop_file``."""

    async def stop_file(self, room_id: str, file_id: str) -> None: ...

    def rooms(self) -> frozenset[str]:
        """The rooms open now."""

    def participants(self, room_id: str) -> frozenset[str]:
        """Who is in the room now, as this engine knows it."""
