"""The call's and the participant's state machines, each one transition table.

A transition not in a table is an error (``InvalidTransition``), never a silent no-op. The participant states are
the service's own (``Idle, Connecting, Ringing, EarlyMedia, Connected, Hold, InLobby, Disconnected``); the call
state an agent sees follows ACS's values (``None, Connecting, Ringing, EarlyMedia, Connected, LocalHold,
RemoteHold, InLobby, Disconnecting, Disconnected``).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from callbridge.state_tables import InvalidTransition, moves_by_state


class ParticipantState(StrEnum):
    IDLE = "Idle"
    CONNECTING = "Connecting"
    RINGING = "Ringing"
    EARLY_MEDIA = "EarlyMedia"
    CONNECTED = "Connected"
    HOLD = "Hold"
    IN_LOBBY = "InLobby"
    DISCONNECTED = "Disconnected"


class ParticipantRole(StrEnum):
    """ACS's ``ParticipantRole``: a meeting gives each participant one; in other calls it is ``Unknown``."""

    UNKNOWN = "Unknown"
    ATTENDEE = "Attendee"
    PRESENTER = "Presenter"
    ORGANIZER = "Organizer"
    CO_ORGANIZER = "Co-organizer"
    CONSUMER = "Consumer"
    COLLABORATOR = "Collaborator"


class ParticipantEvent(StrEnum):
    DIAL = "dial"  # the service starts reaching the participant
    ALERT = "alert"  # an endpoint rings
    EARLY_MEDIA = "early_media"
    ANSWER = "answer"
    HOLD = "hold"
    RESUME = "resume"
    PARK_IN_LOBBY = "park_in_lobby"
    ADMIT = "admit"
    END = "end"


P, PE = ParticipantState, ParticipantEvent
PARTICIPANT_TRANSITIONS: dict[tuple[ParticipantState, ParticipantEvent], ParticipantState] = {
    (P.IDLE, PE.DIAL): P.CONNECTING,
    (P.IDLE, PE.PARK_IN_LOBBY): P.IN_LOBBY,
    (P.CONNECTING, PE.ALERT): P.RINGING,
    (P.CONNECTING, PE.EARLY_MEDIA): P.EARLY_MEDIA,
    (P.CONNECTING, PE.ANSWER): P.CONNECTED,
    (P.RINGING, PE.ALERT): P.RINGING,  # another of the callee's endpoints rings
    (P.RINGING, PE.EARLY_MEDIA): P.EARLY_MEDIA,
    (P.RINGING, PE.ANSWER): P.CONNECTED,
    (P.EARLY_MEDIA, PE.ANSWER): P.CONNECTED,
    (P.IN_LOBBY, PE.ADMIT): P.CONNECTED,
    (P.CONNECTED, PE.HOLD): P.HOLD,
    (P.HOLD, PE.RESUME): P.CONNECTED,
    **{(state, PE.END): P.DISCONNECTED for state in ParticipantState if state is not P.DISCONNECTED},
}


def participant_next(state: ParticipantState, event: ParticipantEvent) -> ParticipantState:
    try:
        return PARTICIPANT_TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition("participant", state, event) from None


class CallState(StrEnum):
    NONE = "None"
    CONNECTING = "Connecting"
    RINGING = "Ringing"
    EARLY_MEDIA = "EarlyMedia"
    CONNECTED = "Connected"
    LOCAL_HOLD = "LocalHold"
    REMOTE_HOLD = "RemoteHold"
    IN_LOBBY = "InLobby"
    DISCONNECTING = "Disconnecting"
    DISCONNECTED = "Disconnected"


class CallEvent(StrEnum):
    START = "start"  # placing, joining or accepting
    REMOTE_RINGING = "remote_ringing"
    EARLY_MEDIA = "early_media"
    CONNECTED = "connected"
    HOLD = "hold"  # this agent put the call on hold
    REMOTE_HOLD = "remote_hold"  # the other side did
    RESUME = "resume"
    REMOTE_RESUME = "remote_resume"
    LOBBY = "lobby"
    ADMITTED = "admitted"
    HANG_UP = "hang_up"
    ENDED = "ended"


C, CE = CallState, CallEvent
_LIVE = (C.CONNECTING, C.RINGING, C.EARLY_MEDIA, C.CONNECTED, C.LOCAL_HOLD, C.REMOTE_HOLD, C.IN_LOBBY)
CALL_TRANSITIONS: dict[tuple[CallState, CallEvent], CallState] = {
    (C.NONE, CE.START): C.CONNECTING,
    (C.CONNECTING, CE.REMOTE_RINGING): C.RINGING,
    (C.CONNECTING, CE.EARLY_MEDIA): C.EARLY_MEDIA,
    (C.CONNECTING, CE.CONNECTED): C.CONNECTED,
    (C.CONNECTING, CE.LOBBY): C.IN_LOBBY,
    (C.RINGING, CE.REMOTE_RINGING): C.RINGING,
    (C.RINGING, CE.EARLY_MEDIA): C.EARLY_MEDIA,
    (C.RINGING, CE.CONNECTED): C.CONNECTED,
    (C.EARLY_MEDIA, CE.CONNECTED): C.CONNECTED,
    (C.IN_LOBBY, CE.ADMITTED): C.CONNECTED,
    (C.CONNECTED, CE.HOLD): C.LOCAL_HOLD,
    (C.CONNECTED, CE.REMOTE_HOLD): C.REMOTE_HOLD,
    (C.LOCAL_HOLD, CE.RESUME): C.CONNECTED,
    (C.REMOTE_HOLD, CE.REMOTE_RESUME): C.CONNECTED,
    (C.REMOTE_HOLD, CE.HOLD): C.LOCAL_HOLD,  # both held: this agent's own hold is what it sees
    **{(state, CE.HANG_UP): C.DISCONNECTING for state in _LIVE},
    **{(state, CE.ENDED): C.DISCONNECTED for state in (*_LIVE, C.DISCONNECTING, C.NONE)},
}


def call_next(state: CallState, event: CallEvent) -> CallState:
    try:
        return CALL_TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition("call", state, event) from None


_S = TypeVar("_S", bound=StrEnum)
_E = TypeVar("_E", bound=StrEnum)


def _table(heading: str, states: type[_S], events: type[_E], transitions: Mapping[tuple[_S, _E], _S]) -> list[str]:
    return moves_by_state(f"{heading} | event → next state", states, events,
                          lambda state, event: f"`{transitions[state, event]}`" if (state, event) in transitions
                          else None)


def describe() -> str:
    """Both transition tables as Markdown: docs/protocol.md embeds this text, and a unit test keeps them equal."""
    return "\n".join([
        "Call states, as an agent sees them in `call.state` (`CALL_TRANSITIONS`):", "",
        *_table("call state", CallState, CallEvent, CALL_TRANSITIONS), "",
        "Participant states, as `call.participant` reports the other side (`PARTICIPANT_TRANSITIONS`):", "",
        *_table("participant state", ParticipantState, ParticipantEvent, PARTICIPANT_TRANSITIONS),
    ]) + "\n"
