"""The calling protocol's frames from agents: JSON text, validated into frozen commands (version 1).

Every frame is an object with a ``type``; anything else is a ``ProtocolError`` with a code the agent can read,
and the connection stays up (only a missing or bad ``hello`` closes it). docs/protocol.md lists every frame.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from callbridge.calling.end_reasons import EndReason
from callbridge.json_body import JsonRejected, read_json

VERSION = 1
MAX_FRAME_BYTES = 64 * 1024
MAX_SDP_BYTES = 32 * 1024


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, request_id: str | None = None, call_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.call_id = call_id

    def to_wire(self) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "error", "code": self.code, "message": self.message}
        if self.request_id is not None:
            frame["requestId"] = self.request_id
        if self.call_id is not None:
            frame["callId"] = self.call_id
        return frame


CLIENT_KINDS = ("browser", "app")  # what an agent says it runs in (for meeting records)


@dataclass(frozen=True)
class Hello:
    version: int
    token: str
    client: str | None = None  # one of CLIENT_KINDS, when the SDK says


@dataclass(frozen=True)
class TokenUpdate:
    token: str


@dataclass(frozen=True)
class StartCall:
    request_id: str
    target: str  # raw id
    thread_id: str | None
    sdp: str | None


class CallCommandKind(Enum):
    """What a command does to a call. ``ALERTING`` and ``EARLY_MEDIA`` come only from a phone leg."""

    ACCEPT = "accept"
    REJECT = "reject"
    HANG_UP = "hang_up"
    HOLD = "hold"
    RESUME = "resume"
    MUTE = "mute"
    UNMUTE = "unmute"
    DTMF = "dtmf"
    SDP = "sdp"
    ICE = "ice"
    ALERTING = "alerting"
    EARLY_MEDIA = "early_media"
    ADD_PARTICIPANT = "add_participant"
    REMOVE_PARTICIPANT = "remove_participant"
    ADMIT = "admit"  # meetings: from the lobby
    REJECT_FROM_LOBBY = "reject_from_lobby"
    ADMIT_ALL = "admit_all"
    MUTE_PARTICIPANT = "mute_participant"
    MUTE_ALL = "mute_all"
    RAISE_HAND = "raise_hand"
    LOWER_HAND = "lower_hand"
    LOWER_ALL_HANDS = "lower_all_hands"
    AUDIO_CONFERENCING = "audio_conferencing"


@dataclass(frozen=True)
class Accept:
    sdp: str | None = None  # the answer to the caller's offer


@dataclass(frozen=True)
class Reject:
    reason: EndReason | None = None  # a phone network's refusal (agents' frames never carry one)


@dataclass(frozen=True)
class HangUp:
    reason: EndReason | None = None  # why a phone leg's far end went (agents' frames never carry one)
    for_everyone: bool = False  # end the call for every participant (ACS's hangUp({forEveryone: true}))


@dataclass(frozen=True)
class AddParticipant:
    request_id: str
    target: str  # raw id: a Teams user or a phone number
    thread_id: str | None = None


@dataclass(frozen=True)
class RemoveParticipant:
    participant_id: str


@dataclass(frozen=True)
class OfParticipant:
    """The participant a meeting command is about (admit, reject from the lobby, mute)."""

    participant_id: str


@dataclass(frozen=True)
class LowerHand:
    participant_id: str | None = None  # None: one's own


@dataclass(frozen=True)
class Details:
    request_id: str


@dataclass(frozen=True)
class JoinMeeting:
    """Join a meeting by its link, or by its id and passcode (ACS's ``TeamsCallAgent.join``); a guest gives the
    name the others see."""

    request_id: str
    meeting_link: str | None = None
    meeting_id: str | None = None
    passcode: str | None = None
    display_name: str | None = None


@dataclass(frozen=True)
class Dtmf:
    tone: str


@dataclass(frozen=True)
class Sdp:
    sdp: str


@dataclass(frozen=True)
class Ice:
    candidate: dict[str, Any] | None  # None: the end of the candidates


@dataclass(frozen=True)
class EarlyMedia:
    sdp: str | None = None  # the phone's early answer, through the gateway


Payload = (Accept | Reject | HangUp | Dtmf | Sdp | Ice | EarlyMedia | AddParticipant | RemoveParticipant | OfParticipant
           | LowerHand | Details)
P = TypeVar("P", Accept, Reject, HangUp, Dtmf, Sdp, Ice, EarlyMedia, AddParticipant, RemoveParticipant, OfParticipant,
            LowerHand, Details)
_PAYLOADS: dict[CallCommandKind, type[Payload]] = {
    CallCommandKind.ACCEPT: Accept, CallCommandKind.REJECT: Reject, CallCommandKind.HANG_UP: HangUp,
    CallCommandKind.DTMF: Dtmf, CallCommandKind.SDP: Sdp, CallCommandKind.ICE: Ice,
    CallCommandKind.EARLY_MEDIA: EarlyMedia, CallCommandKind.ADD_PARTICIPANT: AddParticipant,
    CallCommandKind.REMOVE_PARTICIPANT: RemoveParticipant, CallCommandKind.ADMIT: OfParticipant,
    CallCommandKind.REJECT_FROM_LOBBY: OfParticipant, CallCommandKind.MUTE_PARTICIPANT: OfParticipant,
    CallCommandKind.LOWER_HAND: LowerHand, CallCommandKind.AUDIO_CONFERENCING: Details}


@dataclass(frozen=True)
class CallCommand:
    """A command about one call; its payload is the one its kind takes (none for hold, resume, mute, unmute and
    alerting; an empty one, e.g. ``HangUp()``, when given none)."""

    kind: CallCommandKind
    call_id: str
    payload: Payload | None = None
    request_id: str | None = None  # when given, an error about this command carries it back

    def __post_init__(self) -> None:
        wanted = _PAYLOADS.get(self.kind)
        if wanted is None:
            if self.payload is not None:
                raise TypeError(f"{self.kind.name} takes no payload")
        elif self.payload is None:
            object.__setattr__(self, "payload", wanted())  # type: ignore[call-arg]
        elif not isinstance(self.payload, wanted):
            raise TypeError(f"{self.kind.name} takes {wanted.__name__}, not {type(self.payload).__name__}")

    def payload_as(self, kind: type[P]) -> P:
        assert isinstance(self.payload, kind)
        return self.payload


@dataclass(frozen=True)
class Ping:
    pass


Command = Hello | TokenUpdate | StartCall | JoinMeeting | CallCommand | Ping
CALL_COMMANDS = {"call.accept": CallCommandKind.ACCEPT, "call.reject": CallCommandKind.REJECT,
                 "call.hangUp": CallCommandKind.HANG_UP, "call.hold": CallCommandKind.HOLD,
                 "call.resume": CallCommandKind.RESUME, "call.mute": CallCommandKind.MUTE,
                 "call.unmute": CallCommandKind.UNMUTE, "call.dtmf": CallCommandKind.DTMF,
                 "call.sdp": CallCommandKind.SDP, "call.ice": CallCommandKind.ICE,
                 "call.addParticipant": CallCommandKind.ADD_PARTICIPANT,
                 "call.removeParticipant": CallCommandKind.REMOVE_PARTICIPANT,
                 "call.lobby.admit": CallCommandKind.ADMIT, "call.lobby.reject": CallCommandKind.REJECT_FROM_LOBBY,
                 "call.lobby.admitAll": CallCommandKind.ADMIT_ALL,
                 "call.muteParticipant": CallCommandKind.MUTE_PARTICIPANT, "call.muteAll": CallCommandKind.MUTE_ALL,
                 "call.raiseHand": CallCommandKind.RAISE_HAND, "call.lowerHand": CallCommandKind.LOWER_HAND,
                 "call.lowerAllHands": CallCommandKind.LOWER_ALL_HANDS,
                 "call.audioConferencing": CallCommandKind.AUDIO_CONFERENCING}


def _text(frame: dict[str, Any], key: str, *, required: bool = True, limit: int = 256) -> str | None:
    value = frame.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ProtocolError("InvalidFrame", f"'{key}' must be a non-empty string of at most {limit} characters.",
                            request_id=frame.get("requestId") if isinstance(frame.get("requestId"), str) else None)
    return value


def _frame(raw: str | bytes) -> Any:
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
    if len(data) > MAX_FRAME_BYTES:
        raise ProtocolError("FrameTooLarge", f"Frames are limited to {MAX_FRAME_BYTES} bytes.")
    try:
        if not data.strip():
            raise JsonRejected("empty")
        return read_json(data)
    except JsonRejected:  # bad JSON, bad UTF-8, absurd numbers, absurd nesting, lone surrogates
        raise ProtocolError("InvalidJson", "The frame is not valid JSON.") from None


def parse(raw: str | bytes) -> Command:
    frame = _frame(raw)
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise ProtocolError("InvalidFrame", "A frame is a JSON object with a 'type'.")
    kind = frame["type"]
    if kind == "hello":
        return _hello(frame)
    if kind == "token.update":
        return TokenUpdate(_text(frame, "token", limit=8192) or "")
    if kind == "ping":
        return Ping()
    if kind == "call.start":
        request_id = _text(frame, "requestId", limit=64) or ""
        target = frame.get("target")
        raw_id = target.get("rawId") if isinstance(target, dict) else None
        if not isinstance(raw_id, str) or not raw_id or len(raw_id) > 256:
            raise ProtocolError("InvalidFrame", "'target.rawId' must name who to call.", request_id=request_id)
        return StartCall(request_id, raw_id, _text(frame, "threadId", required=False),
                         _text(frame, "sdp", required=False, limit=MAX_SDP_BYTES))
    if kind == "call.join":
        return _join(frame)
    if kind in CALL_COMMANDS:
        call_id = _text(frame, "callId", limit=128) or ""
        return CallCommand(CALL_COMMANDS[kind], call_id, _payload(kind, frame, call_id),
                           _text(frame, "requestId", required=False, limit=64))
    raise ProtocolError("UnknownType", f"Unknown frame type '{kind[:64]}'.")


def _hello(frame: dict[str, Any]) -> Hello:
    version = frame.get("version")
    if type(version) is not int or version != VERSION:
        raise ProtocolError("UnsupportedVersion", f"This service speaks version {VERSION} of the protocol.")
    client = frame.get("client")
    return Hello(VERSION, _text(frame, "token", limit=8192) or "", client if client in CLIENT_KINDS else None)


def _join(frame: dict[str, Any]) -> JoinMeeting:
    request_id = _text(frame, "requestId", limit=64) or ""
    link = _text(frame, "meetingLink", required=False, limit=2048)
    meeting_id = _text(frame, "meetingId", required=False, limit=64)
    if (link is None) == (meeting_id is None):
        raise ProtocolError("InvalidFrame", "'call.join' takes a 'meetingLink', or a 'meetingId' with its 'passcode'.",
                            request_id=request_id)
    return JoinMeeting(request_id, link, meeting_id, _text(frame, "passcode", required=False, limit=64),
                       _text(frame, "displayName", required=False, limit=256))


def _add_participant(frame: dict[str, Any], call_id: str) -> AddParticipant:
    request_id = _text(frame, "requestId", limit=64) or ""
    target = frame.get("target")
    raw_id = target.get("rawId") if isinstance(target, dict) else None
    if not isinstance(raw_id, str) or not raw_id or len(raw_id) > 256:
        raise ProtocolError("InvalidFrame", "'target.rawId' must name who to add.", request_id=request_id,
                            call_id=call_id)
    return AddParticipant(request_id, raw_id, _text(frame, "threadId", required=False))


def _hang_up(frame: dict[str, Any], call_id: str) -> HangUp:
    for_everyone = frame.get("forEveryone", False)
    if not isinstance(for_everyone, bool):
        raise ProtocolError("InvalidFrame", "'forEveryone' must be true or false.", call_id=call_id)
    return HangUp(for_everyone=for_everyone)


def _ice(frame: dict[str, Any], call_id: str) -> Ice:
    candidate = frame.get("candidate")
    if not isinstance(candidate, dict | type(None)) or len(json.dumps(candidate)) > 4096:
        raise ProtocolError("InvalidFrame", "'candidate' must be an ICE candidate object.", call_id=call_id)
    return Ice(candidate)


def _participant_id(frame: dict[str, Any]) -> str:
    return _text(frame, "participantId", limit=128) or ""


# each call command's frame -> its typed payload (the kinds not here take none)
_READERS: dict[str, Callable[[dict[str, Any], str], Payload]] = {
    "call.hangUp": _hang_up,
    "call.ice": _ice,
    "call.addParticipant": _add_participant,
    "call.accept": lambda frame, _: Accept(_text(frame, "sdp", required=False, limit=MAX_SDP_BYTES)),
    "call.sdp": lambda frame, _: Sdp(_text(frame, "sdp", limit=MAX_SDP_BYTES) or ""),
    "call.dtmf": lambda frame, _: Dtmf(_text(frame, "tone", limit=8) or ""),
    "call.removeParticipant": lambda frame, _: RemoveParticipant(_participant_id(frame)),
    "call.lobby.admit": lambda frame, _: OfParticipant(_participant_id(frame)),
    "call.lobby.reject": lambda frame, _: OfParticipant(_participant_id(frame)),
    "call.muteParticipant": lambda frame, _: OfParticipant(_participant_id(frame)),
    "call.lowerHand": lambda frame, _: LowerHand(_text(frame, "participantId", required=False, limit=128)),
    "call.audioConferencing": lambda frame, _: Details(_text(frame, "requestId", limit=64) or ""),
}


def _payload(kind: str, frame: dict[str, Any], call_id: str) -> Payload | None:
    reader = _READERS.get(kind)
    return None if reader is None else reader(frame, call_id)
