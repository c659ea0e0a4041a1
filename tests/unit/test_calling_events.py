"""The typed protocol: each outbound event's wire form is the frame docs/protocol.md shows (key for key, in the
same order), and each call command kind comes from its wire frame with its typed payload."""

from __future__ import annotations

import json
from typing import Any

import pytest

from callbridge.calling import end_reasons as reasons
from callbridge.calling.events import (
    CallDtmf,
    CallIce,
    CallIncoming,
    CallIncomingEnded,
    CallSdp,
    CallStarted,
    CallStateChanged,
    Event,
    Participant,
    ParticipantAdded,
    ParticipantChanged,
)
from callbridge.calling.protocol import (
    CALL_COMMANDS,
    Accept,
    AddParticipant,
    CallCommand,
    CallCommandKind,
    Details,
    Dtmf,
    HangUp,
    Ice,
    LowerHand,
    OfParticipant,
    Payload,
    ProtocolError,
    Reject,
    RemoveParticipant,
    Sdp,
    parse,
)
from callbridge.calling.states import CallState, ParticipantState

K = CallCommandKind
CANDIDATE = {"candidate": "candidate:1 1 udp 2122260223 192.0.2.10 54400 typ host", "sdpMid": "0",
             "sdpMLineIndex": 0}
MEGAN = Participant("8:orgid:M", "Megan Bowen", ParticipantState.RINGING, False, "p2")

# (the event, its frame as docs/protocol.md's example session shows it)
EVENTS: list[tuple[Event, str]] = [
    (CallStarted("r1", "c1"), '{"type": "call.started", "requestId": "r1", "callId": "c1"}'),
    (CallStateChanged("c1", CallState.CONNECTING), '{"type": "call.state", "callId": "c1", "state": "Connecting"}'),
    (CallIncoming("c1", "19:A_M", "8:orgid:A", "Alice Smith", "v=0 offer"),
     '{"type": "call.incoming", "callId": "c1", "threadId": "19:A_M", "caller": {"rawId": "8:orgid:A", '
     '"displayName": "Alice Smith"}, "sdp": "v=0 offer"}'),
    (CallIncoming("c1", None, "4:+14255550100", None),
     '{"type": "call.incoming", "callId": "c1", "threadId": null, "caller": {"rawId": "4:+14255550100", '
     '"displayName": null}}'),
    (ParticipantChanged("c1", MEGAN),
     '{"type": "call.participant", "callId": "c1", "participant": {"rawId": "8:orgid:M", "displayName": '
     '"Megan Bowen", "state": "Ringing", "isMuted": false, "participantId": "p2", "role": "Unknown", '
     '"isSpeaking": false}}'),
    (CallIncomingEnded("c1", reasons.ACCEPTED_ELSEWHERE),
     '{"type": "call.incoming.ended", "callId": "c1", "endReason": {"code": 487, "subCode": 10003}}'),
    (CallSdp("c1", "v=0 answer"), '{"type": "call.sdp", "callId": "c1", "sdp": "v=0 answer"}'),
    (CallSdp("c1", "v=0 mixer offer", 2),
     '{"type": "call.sdp", "callId": "c1", "sdp": "v=0 mixer offer", "mediaSession": 2}'),
    (ParticipantAdded("r2", "c1", "p3"),
     '{"type": "call.participantAdded", "requestId": "r2", "callId": "c1", "participantId": "p3"}'),
    (CallIce("c1", CANDIDATE), '{"type": "call.ice", "callId": "c1", "candidate": ' + json.dumps(CANDIDATE) + "}"),
    (CallIce("c1", None), '{"type": "call.ice", "callId": "c1", "candidate": null}'),
    (CallDtmf("c1", "#"), '{"type": "call.dtmf", "callId": "c1", "tone": "#"}'),
    (CallStateChanged("c1", CallState.DISCONNECTED, reasons.HUNG_UP),
     '{"type": "call.state", "callId": "c1", "state": "Disconnected", "endReason": {"code": 0, "subCode": 0}}'),
]


@pytest.mark.parametrize("event,documented", EVENTS, ids=[type(e).__name__ for e, _ in EVENTS])
def test_each_event_is_the_documented_frame(event: Event, documented: str) -> None:
    assert json.dumps(event.to_wire()) == documented  # the same keys, values and order


# (the frame, the command it is: kind and typed payload; None: the kind's empty payload or none)
COMMANDS: list[tuple[dict[str, Any], CallCommandKind, Payload | None]] = [
    ({"type": "call.accept", "sdp": "v=0 answer"}, K.ACCEPT, Accept("v=0 answer")),
    ({"type": "call.accept"}, K.ACCEPT, Accept(None)),
    ({"type": "call.reject"}, K.REJECT, Reject(None)),
    ({"type": "call.hangUp"}, K.HANG_UP, HangUp(None)),
    ({"type": "call.hold"}, K.HOLD, None),
    ({"type": "call.resume"}, K.RESUME, None),
    ({"type": "call.mute"}, K.MUTE, None),
    ({"type": "call.unmute"}, K.UNMUTE, None),
    ({"type": "call.dtmf", "tone": "5"}, K.DTMF, Dtmf("5")),
    ({"type": "call.sdp", "sdp": "v=0 re-offer"}, K.SDP, Sdp("v=0 re-offer")),
    ({"type": "call.ice", "candidate": CANDIDATE}, K.ICE, Ice(CANDIDATE)),
    ({"type": "call.ice"}, K.ICE, Ice(None)),
    ({"type": "call.hangUp", "forEveryone": True}, K.HANG_UP, HangUp(None, for_everyone=True)),
    ({"type": "call.addParticipant", "requestId": "r2", "target": {"rawId": "4:+14255550123"}},
     K.ADD_PARTICIPANT, AddParticipant("r2", "4:+14255550123")),
    ({"type": "call.addParticipant", "requestId": "r3", "target": {"rawId": "8:orgid:M"}, "threadId": "19:t"},
     K.ADD_PARTICIPANT, AddParticipant("r3", "8:orgid:M", "19:t")),
    ({"type": "call.removeParticipant", "participantId": "p3"}, K.REMOVE_PARTICIPANT, RemoveParticipant("p3")),
    ({"type": "call.lobby.admit", "participantId": "p4"}, K.ADMIT, OfParticipant("p4")),
    ({"type": "call.lobby.reject", "participantId": "p4"}, K.REJECT_FROM_LOBBY, OfParticipant("p4")),
    ({"type": "call.lobby.admitAll"}, K.ADMIT_ALL, None),
    ({"type": "call.muteParticipant", "participantId": "p2"}, K.MUTE_PARTICIPANT, OfParticipant("p2")),
    ({"type": "call.muteAll"}, K.MUTE_ALL, None),
    ({"type": "call.raiseHand"}, K.RAISE_HAND, None),
    ({"type": "call.lowerHand"}, K.LOWER_HAND, LowerHand(None)),
    ({"type": "call.lowerHand", "participantId": "p2"}, K.LOWER_HAND, LowerHand("p2")),
    ({"type": "call.lowerAllHands"}, K.LOWER_ALL_HANDS, None),
    ({"type": "call.audioConferencing", "requestId": "r9"}, K.AUDIO_CONFERENCING, Details("r9")),
]


@pytest.mark.parametrize("frame,kind,payload", COMMANDS, ids=[f["type"] for f, _, _ in COMMANDS])
def test_each_command_kind_comes_from_its_frame(frame: dict[str, Any], kind: CallCommandKind,
                                                payload: Payload | None) -> None:
    cmd = parse(json.dumps({**frame, "callId": "c1"}))
    assert isinstance(cmd, CallCommand) and (cmd.kind, cmd.call_id, cmd.payload) == (kind, "c1", payload)


def test_every_wire_command_kind_is_in_the_table() -> None:
    assert {f["type"] for f, _, _ in COMMANDS} == set(CALL_COMMANDS)
    assert set(CALL_COMMANDS.values()) == set(K) - {K.ALERTING, K.EARLY_MEDIA}  # those two: a phone leg's only


@pytest.mark.parametrize("frame", [
    {"type": "call.sdp"}, {"type": "call.sdp", "sdp": ""}, {"type": "call.sdp", "sdp": 5},
    {"type": "call.dtmf"}, {"type": "call.dtmf", "tone": 5}, {"type": "call.dtmf", "tone": "123456789"},
    {"type": "call.accept", "sdp": ["v=0"]}, {"type": "call.ice", "candidate": "candidate:1"},
    {"type": "call.hangUp", "callId": ""}, {"type": "call.hangUp", "forEveryone": "yes"},
    {"type": "call.addParticipant", "requestId": "r1"}, {"type": "call.addParticipant", "target": {"rawId": "4:+1"}},
    {"type": "call.addParticipant", "requestId": "r1", "target": {"rawId": "x" * 300}},
    {"type": "call.removeParticipant"}, {"type": "call.removeParticipant", "participantId": 3},
    {"type": "call.lobby.admit"}, {"type": "call.muteParticipant", "participantId": ""},
    {"type": "call.audioConferencing"}, {"type": "call.lowerHand", "participantId": 7},
])
def test_a_bad_payload_is_an_invalid_frame(frame: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse(json.dumps({"callId": "c1", **frame}))
    assert refused.value.code == "InvalidFrame"


def test_a_payload_of_another_kind_is_refused_where_the_command_is_made() -> None:
    with pytest.raises(TypeError):
        CallCommand(K.ACCEPT, "c1", Sdp("v=0"))
    with pytest.raises(TypeError):
        CallCommand(K.HOLD, "c1", HangUp())
    assert CallCommand(K.HANG_UP, "c1") == CallCommand(K.HANG_UP, "c1", HangUp(None))
