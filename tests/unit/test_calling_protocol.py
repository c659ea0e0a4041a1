"""The calling protocol's frames from agents (version 1): every frame type parses into its command, every malformed
frame is a ProtocolError with the code docs/protocol.md names, nothing else ever escapes ``parse``, and the
state tables in the docs are the ones in states.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callbridge.calling.protocol import (
    CALL_COMMANDS,
    MAX_FRAME_BYTES,
    MAX_SDP_BYTES,
    VERSION,
    Accept,
    CallCommand,
    CallCommandKind,
    Command,
    Dtmf,
    Hello,
    Ice,
    JoinMeeting,
    Ping,
    ProtocolError,
    Sdp,
    StartCall,
    TokenUpdate,
    parse,
)
from callbridge.calling.states import CallState, ParticipantState, describe

K = CallCommandKind
DOCS = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
MEGAN = "8:orgid:bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb"
CANDIDATE = {"candidate": "candidate:1 1 udp 2122260223 192.0.2.10 54400 typ host", "sdpMid": "0",
             "sdpMLineIndex": 0}


def frame(**fields: Any) -> str:
    return json.dumps(fields)


def refused(raw: str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse(raw)
    return caught.value


# -- every frame type ---------------------------------------------------------------------------------------------

def test_hello() -> None:
    assert parse(frame(type="hello", version=1, token="tok")) == Hello(VERSION, "tok")


def test_hello_ignores_agent_id_and_unknown_fields() -> None:
    # agentId is read by the endpoint from the raw frame, not by parse
    assert parse(frame(type="hello", version=1, token="tok", agentId="agent-1", extra=[1])) == Hello(1, "tok")


def test_token_update() -> None:
    assert parse(frame(type="token.update", token="fresh")) == TokenUpdate("fresh")


def test_ping() -> None:
    assert parse(frame(type="ping")) == Ping()


def test_call_start_in_full() -> None:
    cmd = parse(frame(type="call.start", requestId="r1", target={"rawId": MEGAN}, threadId="19:a_b@unq.gbl.spaces",
                      sdp="v=0 offer"))
    assert cmd == StartCall("r1", MEGAN, "19:a_b@unq.gbl.spaces", "v=0 offer")


def test_call_start_without_thread_or_offer() -> None:
    # the thread is the policy's to require (400/10101), not the parser's
    assert parse(frame(type="call.start", requestId="r1", target={"rawId": MEGAN})) == StartCall("r1", MEGAN, None,
                                                                                                   None)
    assert parse(frame(type="call.start", requestId="r1", target={"rawId": MEGAN}, threadId=None,
                       sdp=None)) == StartCall("r1", MEGAN, None, None)


@pytest.mark.parametrize("kind,name", [
    ("call.reject", K.REJECT), ("call.hangUp", K.HANG_UP), ("call.hold", K.HOLD), ("call.resume", K.RESUME),
    ("call.mute", K.MUTE), ("call.unmute", K.UNMUTE),
])
def test_call_commands_without_payload(kind: str, name: CallCommandKind) -> None:
    assert parse(frame(type=kind, callId="c1", sdp="ignored", tone="5")) == CallCommand(name, "c1", None)


def test_every_call_command_is_covered() -> None:
    assert set(CALL_COMMANDS) == {"call.accept", "call.reject", "call.hangUp", "call.hold", "call.resume",
                                  "call.mute", "call.unmute", "call.dtmf", "call.sdp", "call.ice",
                                  "call.addParticipant", "call.removeParticipant", "call.lobby.admit",
                                  "call.lobby.reject", "call.lobby.admitAll", "call.muteParticipant", "call.muteAll",
                                  "call.raiseHand", "call.lowerHand", "call.lowerAllHands", "call.audioConferencing"}


def test_call_accept_with_and_without_answer() -> None:
    assert parse(frame(type="call.accept", callId="c1", sdp="v=0 answer")) == CallCommand(K.ACCEPT, "c1",
                                                                                           Accept("v=0 answer"))
    assert parse(frame(type="call.accept", callId="c1")) == CallCommand(K.ACCEPT, "c1", Accept(None))


def test_call_sdp() -> None:
    assert parse(frame(type="call.sdp", callId="c1", sdp="v=0 re-offer")) == CallCommand(K.SDP, "c1",
                                                                                         Sdp("v=0 re-offer"))


@pytest.mark.parametrize("tone", ["0", "9", "*", "#", "A", "Flash"])
def test_call_dtmf(tone: str) -> None:
    assert parse(frame(type="call.dtmf", callId="c1", tone=tone)) == CallCommand(K.DTMF, "c1", Dtmf(tone))


def test_call_dtmf_tone_is_checked_by_the_call_not_the_parser() -> None:
    assert parse(frame(type="call.dtmf", callId="c1", tone="Z")) == CallCommand(K.DTMF, "c1", Dtmf("Z"))


def test_call_ice_candidate_and_end_of_candidates() -> None:
    assert parse(frame(type="call.ice", callId="c1", candidate=CANDIDATE)) == CallCommand(K.ICE, "c1", Ice(CANDIDATE))
    assert parse(frame(type="call.ice", callId="c1", candidate=None)) == CallCommand(K.ICE, "c1", Ice(None))
    assert parse(frame(type="call.ice", callId="c1")) == CallCommand(K.ICE, "c1", Ice(None))


def test_bytes_are_read_like_text() -> None:
    assert parse(frame(type="ping").encode()) == Ping()
    assert parse(frame(type="token.update", token="é").encode("utf-8")) == TokenUpdate("é")


def test_limits_are_inclusive() -> None:
    assert parse(frame(type="token.update", token="t" * 8192)) == TokenUpdate("t" * 8192)
    start = parse(frame(type="call.start", requestId="r" * 64, target={"rawId": "8:orgid:" + "x" * 248},
                        threadId="t" * 256, sdp="s" * MAX_SDP_BYTES))
    assert isinstance(start, StartCall) and len(start.target) == 256 and len(start.sdp or "") == MAX_SDP_BYTES
    assert parse(frame(type="call.hangUp", callId="c" * 128)) == CallCommand(K.HANG_UP, "c" * 128)
    assert parse(frame(type="call.dtmf", callId="c1", tone="t" * 8)) == CallCommand(K.DTMF, "c1", Dtmf("t" * 8))
    padded = frame(type="ping", pad="")
    exactly = frame(type="ping", pad="x" * (MAX_FRAME_BYTES - len(padded)))
    assert len(exactly) == MAX_FRAME_BYTES and parse(exactly) == Ping()


# -- refusals -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [frame(type="ping", pad="x" * MAX_FRAME_BYTES),
                                 frame(type="ping", pad="x" * MAX_FRAME_BYTES).encode()])
def test_oversized_frame(raw: str | bytes) -> None:
    error = refused(raw)
    assert error.code == "FrameTooLarge" and error.message == "Frames are limited to 65536 bytes."


@pytest.mark.parametrize("raw", ["{not json", "", "   ", "{'type': 'ping'}", '{"type": "ping"', b"\xff\xfe\xfd",
                                 b"\x80", "NaNx"])
def test_bad_json(raw: str | bytes) -> None:
    error = refused(raw)
    assert error.code == "InvalidJson" and error.message == "The frame is not valid JSON."


@pytest.mark.parametrize("raw", ["[]", '"ping"', "1", "null", "true", '[{"type": "ping"}]', "{}",
                                 '{"type": null}', '{"type": 1}', '{"type": ["ping"]}', '{"Type": "ping"}'])
def test_not_an_object_with_a_type(raw: str) -> None:
    error = refused(raw)
    assert error.code == "InvalidFrame" and error.message == "A frame is a JSON object with a 'type'."


@pytest.mark.parametrize("kind", ["teleport", "", "Ping", "call.Accept", "call.start ", "error", "welcome", "pong",
                                  "call.incoming", "call.state"])
def test_unknown_type(kind: str) -> None:
    error = refused(frame(type=kind))
    assert error.code == "UnknownType" and error.message == f"Unknown frame type '{kind}'."


def test_unknown_type_is_quoted_at_most_64_characters() -> None:
    assert refused(frame(type="x" * 1000)).message == f"Unknown frame type '{'x' * 64}'."


@pytest.mark.parametrize("fields", [{}, {"version": 2}, {"version": 0}, {"version": "1"}, {"version": None},
                                    {"version": [1]}, {"version": 1.5}])
def test_wrong_version(fields: dict[str, Any]) -> None:
    error = refused(frame(type="hello", token="tok", **fields))
    assert error.code == "UnsupportedVersion"
    assert error.message == "This service speaks version 1 of the protocol."


def test_version_is_checked_before_the_token() -> None:
    assert refused(frame(type="hello", version=2)).code == "UnsupportedVersion"


# (frame, the field named in the message, its limit)
MISSING_OR_BAD: list[tuple[dict[str, Any], str, int]] = [
    ({"type": "hello", "version": 1}, "token", 8192),
    ({"type": "hello", "version": 1, "token": ""}, "token", 8192),
    ({"type": "hello", "version": 1, "token": 42}, "token", 8192),
    ({"type": "hello", "version": 1, "token": "t" * 8193}, "token", 8192),
    ({"type": "token.update"}, "token", 8192),
    ({"type": "token.update", "token": None}, "token", 8192),
    ({"type": "token.update", "token": "t" * 8193}, "token", 8192),
    ({"type": "call.start", "target": {"rawId": MEGAN}}, "requestId", 64),
    ({"type": "call.start", "requestId": "r" * 65, "target": {"rawId": MEGAN}}, "requestId", 64),
    ({"type": "call.start", "requestId": 7, "target": {"rawId": MEGAN}}, "requestId", 64),
    ({"type": "call.start", "requestId": "r1", "target": {"rawId": MEGAN}, "threadId": "t" * 257}, "threadId", 256),
    ({"type": "call.start", "requestId": "r1", "target": {"rawId": MEGAN}, "threadId": ""}, "threadId", 256),
    ({"type": "call.start", "requestId": "r1", "target": {"rawId": MEGAN}, "threadId": 5}, "threadId", 256),
    ({"type": "call.start", "requestId": "r1", "target": {"rawId": MEGAN}, "sdp": "s" * (MAX_SDP_BYTES + 1)}, "sdp",
     MAX_SDP_BYTES),
    ({"type": "call.accept"}, "callId", 128),
    ({"type": "call.hangUp", "callId": ""}, "callId", 128),
    ({"type": "call.hold", "callId": 1}, "callId", 128),
    ({"type": "call.ice", "callId": "c" * 129, "candidate": CANDIDATE}, "callId", 128),
    ({"type": "call.accept", "callId": "c1", "sdp": "s" * (MAX_SDP_BYTES + 1)}, "sdp", MAX_SDP_BYTES),
    ({"type": "call.accept", "callId": "c1", "sdp": ""}, "sdp", MAX_SDP_BYTES),
    ({"type": "call.sdp", "callId": "c1"}, "sdp", MAX_SDP_BYTES),
    ({"type": "call.sdp", "callId": "c1", "sdp": None}, "sdp", MAX_SDP_BYTES),
    ({"type": "call.dtmf", "callId": "c1"}, "tone", 8),
    ({"type": "call.dtmf", "callId": "c1", "tone": 5}, "tone", 8),
    ({"type": "call.dtmf", "callId": "c1", "tone": "123456789"}, "tone", 8),
]


@pytest.mark.parametrize("fields,field,limit", MISSING_OR_BAD)
def test_missing_or_bad_field(fields: dict[str, Any], field: str, limit: int) -> None:
    error = refused(json.dumps(fields))
    assert error.code == "InvalidFrame"
    assert error.message == f"'{field}' must be a non-empty string of at most {limit} characters."


def test_a_bad_field_echoes_the_request_id() -> None:
    error = refused(frame(type="call.start", requestId="r1", target={"rawId": MEGAN}, threadId=""))
    assert error.request_id == "r1"
    assert error.to_wire() == {"type": "error", "code": "InvalidFrame", "requestId": "r1",
                               "message": "'threadId' must be a non-empty string of at most 256 characters."}
    assert refused(frame(type="call.start", requestId=7, target={"rawId": MEGAN})).request_id is None


@pytest.mark.parametrize("target", [None, MEGAN, {}, {"rawId": ""}, {"rawId": 5}, {"rawId": None},
                                    {"rawId": "8:orgid:" + "x" * 249}, [MEGAN], {"id": MEGAN}])
def test_call_start_needs_a_target(target: Any) -> None:
    error = refused(frame(type="call.start", requestId="r1", target=target))
    assert (error.code, error.message, error.request_id) == ("InvalidFrame", "'target.rawId' must name who to call.",
                                                             "r1")


@pytest.mark.parametrize("candidate", ["candidate:1 1 udp 1 192.0.2.10 54400 typ host", [CANDIDATE], 1, True, "",
                                       {"candidate": "x" * 4096}])
def test_bad_candidate(candidate: Any) -> None:
    error = refused(frame(type="call.ice", callId="c1", candidate=candidate))
    assert (error.code, error.message, error.call_id) == ("InvalidFrame",
                                                          "'candidate' must be an ICE candidate object.", "c1")
    assert error.to_wire()["callId"] == "c1"


def test_candidate_limit_is_4096_characters_of_json() -> None:
    at_limit = {"candidate": "x" * (4096 - len(json.dumps({"candidate": ""})))}
    assert len(json.dumps(at_limit)) == 4096
    assert parse(frame(type="call.ice", callId="c1", candidate=at_limit)) == CallCommand(K.ICE, "c1", Ice(at_limit))


def test_error_on_the_wire() -> None:
    assert ProtocolError("UnknownType", "Unknown frame type 'x'.").to_wire() == {
        "type": "error", "code": "UnknownType", "message": "Unknown frame type 'x'."}
    assert ProtocolError("InvalidFrame", "m", request_id="r1", call_id="c1").to_wire() == {
        "type": "error", "code": "InvalidFrame", "message": "m", "requestId": "r1", "callId": "c1"}


# -- known bugs: these must become ProtocolErrors (each is reported; strict, so a fix turns them green) -----------

def test_deeply_nested_json_is_a_protocol_error() -> None:
    assert refused("[" * 5000 + "]" * 5000).code in ("InvalidJson", "InvalidFrame")


def test_a_huge_number_is_a_protocol_error() -> None:
    assert refused('{"type": "ping", "n": ' + "1" * 5000 + "}").code == "InvalidJson"


def test_frame_size_counts_utf8_bytes() -> None:
    raw = json.dumps({"type": "ping", "pad": "é" * (MAX_FRAME_BYTES // 2)}, ensure_ascii=False)  # 32 K characters
    assert len(raw.encode()) > MAX_FRAME_BYTES
    assert refused(raw).code == "FrameTooLarge"


# -- nothing but ProtocolError escapes ------------------------------------------------------------------------------

def _parse_or_refuse(raw: str | bytes) -> Command | ProtocolError:
    try:
        return parse(raw)
    except ProtocolError as exc:
        assert exc.code in {"InvalidJson", "InvalidFrame", "UnknownType", "FrameTooLarge", "UnsupportedVersion"}
        assert exc.to_wire()["type"] == "error"
        return exc


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_never_raises_but_protocol_error_on_text(raw: str) -> None:
    _parse_or_refuse(raw)


@settings(max_examples=300, deadline=None)
@given(st.binary())
def test_parse_never_raises_but_protocol_error_on_bytes(raw: bytes) -> None:
    _parse_or_refuse(raw)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                max_size=4),
                    max_leaves=12)
TYPES = st.sampled_from(["hello", "token.update", "ping", "call.start", *CALL_COMMANDS, "teleport"])
FIELDS = st.sampled_from(["version", "token", "requestId", "target", "threadId", "sdp", "callId", "tone",
                          "candidate", "agentId"])


@settings(max_examples=500, deadline=None)
@given(TYPES, st.dictionaries(FIELDS, JSON | st.just({"rawId": MEGAN}) | st.just(1), max_size=6),
       st.booleans())
def test_parse_never_raises_but_protocol_error_on_frames(kind: str, fields: dict[str, Any], as_bytes: bool) -> None:
    text = json.dumps({"type": kind, **fields})
    result = _parse_or_refuse(text.encode() if as_bytes else text)
    if isinstance(result, CallCommand):
        assert result.kind == CALL_COMMANDS[kind] and result.call_id == fields["callId"]


# -- the states in the docs are the tables --------------------------------------------------------------------------

def test_protocol_doc_holds_the_state_tables() -> None:
    doc = DOCS.read_text(encoding="utf-8")
    opening = doc.index("<!-- Generated by callbridge.calling.states.describe()")
    start = doc.index("-->\n", opening) + len("-->\n")
    end = doc.index("<!-- end of the generated block -->", start)
    assert doc[start:end] == "\n" + describe() + "\n", "docs/protocol.md is stale: paste states.describe() in"


def test_describe_has_a_row_for_every_state() -> None:
    text = describe()
    for state in (*CallState, *ParticipantState):
        assert f"\n| `{state}` |" in text
    assert text.count("| final |") == 2  # Disconnected, in each table


def test_call_join_by_link_or_by_id_and_passcode() -> None:
    link = "https://callbridge.example/meet/l/meetup-join/19%3ameeting_x%40thread.v2/0?context=%7b%7d"
    assert parse(frame(type="call.join", requestId="r1", meetingLink=link)) == JoinMeeting("r1", link)
    assert parse(frame(type="call.join", requestId="r2", meetingId="3712 4488 9011", passcode="aB3xYz",
                       displayName="Guest")) == JoinMeeting("r2", None, "3712 4488 9011", "aB3xYz", "Guest")


@pytest.mark.parametrize("fields", [
    {}, {"meetingLink": "https://x/meet/1", "meetingId": "1"},
    {"meetingLink": 5}, {"meetingLink": "x" * 3000}, {"meetingId": ""},
])
def test_call_join_needs_exactly_one_locator(fields: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse(frame(type="call.join", requestId="r1", **fields))
    assert refused.value.code == "InvalidFrame" and refused.value.request_id == "r1"
