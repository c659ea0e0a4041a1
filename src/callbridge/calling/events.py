"""What the calling service tells an agent (or a phone leg): typed events, serialised once at the edge.

Each event's ``to_wire`` is the JSON frame docs/protocol.md documents (the SDKs read exactly these keys); the
WebSocket writes it, the phone side reads the typed values themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from callbridge.calling.end_reasons import EndReason
from callbridge.calling.states import CallState, ParticipantRole, ParticipantState

Wire = dict[str, Any]


@dataclass(frozen=True)
class CallStarted:
    """The call a ``call.start`` asked for has an id."""

    request_id: str
    call_id: str

    def to_wire(self) -> Wire:
        return {"type": "call.started", "requestId": self.request_id, "callId": self.call_id}


@dataclass(frozen=True)
class CallIncoming:
    """A call rings on this endpoint (with the caller's offer, when it made one)."""

    call_id: str
    thread_id: str | None
    caller_raw_id: str
    caller_name: str | None
    sdp: str | None = None

    def to_wire(self) -> Wire:
        frame: Wire = {"type": "call.incoming", "callId": self.call_id, "threadId": self.thread_id,
                       "caller": {"rawId": self.caller_raw_id, "displayName": self.caller_name}}
        if self.sdp is not None:
            frame["sdp"] = self.sdp
        return frame


@dataclass(frozen=True)
class CallIncomingEnded:
    """A call that rang here stopped ringing (answered elsewhere, declined, cancelled, unanswered)."""

    call_id: str
    end_reason: EndReason

    def to_wire(self) -> Wire:
        return {"type": "call.incoming.ended", "callId": self.call_id, "endReason": self.end_reason.to_wire()}


@dataclass(frozen=True)
class CallStateChanged:
    """The call's state as this endpoint sees it (with the end reason once Disconnected)."""

    call_id: str
    state: CallState
    end_reason: EndReason | None = None

    def to_wire(self) -> Wire:
        frame: Wire = {"type": "call.state", "callId": self.call_id, "state": self.state.value}
        if self.end_reason is not None:
            frame["endReason"] = self.end_reason.to_wire()
        return frame


@dataclass(frozen=True)
class Participant:
    raw_id: str
    display_name: str | None
    state: ParticipantState
    muted: bool
    participant_id: str = ""  # unique in the call (one identity may take part from two endpoints)
    role: ParticipantRole = ParticipantRole.UNKNOWN
    speaking: bool = False

    def to_wire(self) -> Wire:
        return {"rawId": self.raw_id, "displayName": self.display_name, "state": self.state.value,
                "isMuted": self.muted, "participantId": self.participant_id, "role": self.role.value,
                "isSpeaking": self.speaking}


@dataclass(frozen=True)
class ParticipantChanged:
    """The other party changed (its state, or its mute)."""

    call_id: str
    participant: Participant

    def to_wire(self) -> Wire:
        return {"type": "call.participant", "callId": self.call_id, "participant": self.participant.to_wire()}


@dataclass(frozen=True)
class CallSdp:
    """The other side's SDP (an answer, or a re-offer). With ``media_session``, the mixer's offer for a new media
    session of that number: the endpoint answers it on a new peer connection and drops the previous one."""

    call_id: str
    sdp: str
    media_session: int | None = None

    def to_wire(self) -> Wire:
        frame: Wire = {"type": "call.sdp", "callId": self.call_id, "sdp": self.sdp}
        if self.media_session is not None:
            frame["mediaSession"] = self.media_session
        return frame


@dataclass(frozen=True)
class CallIce:
    """The other side's ICE candidate (None: the end of its candidates)."""

    call_id: str
    candidate: dict[str, Any] | None

    def to_wire(self) -> Wire:
        return {"type": "call.ice", "callId": self.call_id, "candidate": self.candidate}


@dataclass(frozen=True)
class CallDtmf:
    """The other side sent a DTMF tone."""

    call_id: str
    tone: str

    def to_wire(self) -> Wire:
        return {"type": "call.dtmf", "callId": self.call_id, "tone": self.tone}


@dataclass(frozen=True)
class ParticipantAdded:
    """The participant a ``call.addParticipant`` asked for is being reached, under this participant id."""

    request_id: str
    call_id: str
    participant_id: str

    def to_wire(self) -> Wire:
        return {"type": "call.participantAdded", "requestId": self.request_id, "callId": self.call_id,
                "participantId": self.participant_id}


@dataclass(frozen=True)
class RoleChanged:
    """This endpoint's own role in the call (a meeting's: Organizer, Presenter, Attendee...)."""

    call_id: str
    role: ParticipantRole

    def to_wire(self) -> Wire:
        return {"type": "call.role", "callId": self.call_id, "role": self.role.value}


@dataclass(frozen=True)
class Capability:
    name: str  # ACS's ParticipantCapabilityName, e.g. "manageLobby"
    present: bool
    reason: str  # ACS's ParticipantCapabilityReason, e.g. "Capable", "RoleRestricted"


@dataclass(frozen=True)
class CapabilitiesChanged:
    """What this endpoint may do in the call now, and why (its role changed, or it just joined)."""

    call_id: str
    capabilities: tuple[Capability, ...]
    reason: str = "RoleChanged"

    def to_wire(self) -> Wire:
        return {"type": "call.capabilities", "callId": self.call_id, "reason": self.reason,
                "capabilities": {c.name: {"isPresent": c.present, "reason": c.reason} for c in self.capabilities}}


@dataclass(frozen=True)
class MutedByOthers:
    """Someone with the capability muted this endpoint's participant (it is out of the mix until it unmutes)."""

    call_id: str

    def to_wire(self) -> Wire:
        return {"type": "call.mutedByOthers", "callId": self.call_id}


@dataclass(frozen=True)
class HandChanged:
    """A participant raised (with its place in the order) or lowered its hand."""

    call_id: str
    raw_id: str
    participant_id: str
    order: int | None  # None: lowered

    def to_wire(self) -> Wire:
        if self.order is None:
            return {"type": "call.loweredHand", "callId": self.call_id,
                    "identifier": {"rawId": self.raw_id}, "participantId": self.participant_id}
        return {"type": "call.raisedHand", "callId": self.call_id, "identifier": {"rawId": self.raw_id},
                "participantId": self.participant_id, "order": self.order}


@dataclass(frozen=True)
class DominantSpeakers:
    """The participants who spoke last, the most recent first (from the mixer's talking events)."""

    call_id: str
    speakers: tuple[tuple[str, str], ...]  # (raw id, participant id)
    timestamp: datetime

    def to_wire(self) -> Wire:
        return {"type": "call.dominantSpeakers", "callId": self.call_id, "timestamp": self.timestamp.isoformat(),
                "speakers": [{"rawId": raw, "participantId": pid} for raw, pid in self.speakers]}


@dataclass(frozen=True)
class AudioConferencing:
    """The meeting's dial-in details (ACS's ``TeamsMeetingAudioConferencingDetails``), answering a request."""

    request_id: str
    call_id: str
    conference_id: str
    toll_number: str | None

    def to_wire(self) -> Wire:
        numbers = [{"tollPhoneNumber": {"phoneNumber": self.toll_number}}] if self.toll_number else []
        return {"type": "call.audioConferencing", "requestId": self.request_id, "callId": self.call_id,
                "phoneConferenceId": self.conference_id, "phoneNumbers": numbers}


Event = (CallStarted | ParticipantAdded | CallIncoming | CallIncomingEnded | CallStateChanged | ParticipantChanged
         | CallSdp | CallIce | CallDtmf | RoleChanged | CapabilitiesChanged | MutedByOthers | HandChanged
         | DominantSpeakers | AudioConferencing)
