"""What a call asks of its conference mixer, sans-I/O: typed actions the service carries out against the
conference engine (``media/conference.py``), in the order a call emits them.

A call of two parties sends media peer to peer (the SDPs are relayed between them); once a third party is added,
or for a meeting from its start, every participant sends its media to the mixer instead, which gives each
participant the mix of everyone but itself. The mixer makes every offer (``Negotiate`` with no offer) and each
participant answers, so browsers, Python agents and phone legs (through the media gateway) are treated alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class OpenRoom:
    """The call's media moves to the mixer: a room for it (named by the call's id)."""

    call_id: str


@dataclass(frozen=True)
class Negotiate:
    """A media session between the mixer and a participant: the mixer offers (``offer`` None), or answers the
    participant's own offer. The result comes back as ``Call.mixer_sdp``, or ``Call.mixer_failed``. A ``plain``
    participant (a phone) gets plain RTP G.711, the others WebRTC."""

    call_id: str
    participant_id: str
    display_name: str | None
    offer: str | None = None
    plain: bool = False


@dataclass(frozen=True)
class AnswerRoom:
    """The participant's answer to the mixer's offer (when the mixer's side must move for it, as a plain-RTP leg's
    does to the phone's address, its new SDP comes back as ``Call.mixer_sdp``)."""

    call_id: str
    participant_id: str
    answer: str


@dataclass(frozen=True)
class TrickleRoom:
    """An ICE candidate of the participant (None: the end of its candidates)."""

    call_id: str
    participant_id: str
    candidate: dict[str, Any] | None


@dataclass(frozen=True)
class MuteInRoom:
    """The participant's audio leaves (or rejoins) everyone's mix: hold, or muted by others."""

    call_id: str
    participant_id: str
    muted: bool


@dataclass(frozen=True)
class LeaveRoom:
    call_id: str
    participant_id: str


@dataclass(frozen=True)
class CloseRoom:
    call_id: str


@dataclass(frozen=True)
class DialPhone:
    """A phone number added to the call: its leg is to be opened with the mixer's ``offer`` (``Call.reach``
    then rings it), as an agent's offer opens a 1:1 phone call."""

    call_id: str
    participant_id: str
    raw_id: str
    offer: str


MixerAction = OpenRoom | Negotiate | AnswerRoom | TrickleRoom | MuteInRoom | LeaveRoom | CloseRoom
Action = MixerAction | DialPhone


class Mixer(Protocol):
    """The conference mixer as the calling service uses it (a room per group call, a participant per party);
    ``media/conference.py``'s engine is one. Every method raises ``MixerError`` when it cannot do its part."""

    async def open_room(self, room_id: str) -> None: ...

    async def offer(self, room_id: str, participant_id: str, display_name: str | None, plain: bool) -> str:
        """The mixer's offer of a media session to a participant joining the room (or joining anew): WebRTC, or
        ``plain`` RTP G.711 for a phone."""

    async def answer(self, room_id: str, participant_id: str, display_name: str | None, offer: str) -> str:
        """The mixer's answer to a participant's own offer."""

    async def complete(self, room_id: str, participant_id: str, answer: str) -> str | None:
        """A participant's answer to the mixer's offer; the mixer's new SDP when its side had to move for it."""

    async def trickle(self, room_id: str, participant_id: str, candidate: dict[str, Any] | None) -> None: ...

    async def mute(self, room_id: str, participant_id: str, muted: bool) -> None: ...

    async def leave(self, room_id: str, participant_id: str) -> None: ...

    async def close_room(self, room_id: str) -> None: ...


class MixerError(Exception):
    """The mixer could not do what was asked (it is not running, or refused)."""
