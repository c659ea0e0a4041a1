"""The call, sans-I/O: forking to every agent of the callee, first accept wins, every end reason, hold, DTMF,
relays and connection loss, on a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callbridge.calling.call import Call, CallError, Leg, Send
from callbridge.calling.identifiers import Kind, parse_raw_id, phone_number, teams_user
from callbridge.calling.states import (
    CALL_TRANSITIONS,
    CallEvent,
    CallState,
    ParticipantEvent,
    ParticipantState,
    call_next,
    participant_next,
)
from callbridge.state_tables import InvalidTransition

T0 = datetime(2026, 11, 27, 12, tzinfo=UTC)
ALICE, MEGAN = "8:orgid:aaaa", "8:orgid:bbbb"


def new_call() -> Call:
    caller = Leg(ALICE, "Alice Smith", agent_id="alice-1")
    return Call("call-1", "19:aaaa_bbbb@unq.gbl.spaces", caller, Leg(MEGAN, "Megan Bowen"),
                ring_time=timedelta(seconds=120), created_at=T0)


def to(out: list[Send], agent: str) -> list[dict[str, Any]]:
    return [s.event.to_wire() for s in out if s.agent_id == agent]


def states(out: list[Send], agent: str) -> list[str]:
    return [m["state"] for m in to(out, agent) if m["type"] == "call.state"]


def ringing_call() -> tuple[Call, list[Send]]:
    call = new_call()
    return call, call.place(["megan-tab", "megan-phone"], "v=0 offer", T0)


def test_every_agent_of_the_callee_rings_and_the_first_accept_wins() -> None:
    call, out = ringing_call()
    assert states(out, "alice-1") == ["Connecting", "Ringing"]
    for agent in ("megan-tab", "megan-phone"):
        incoming = to(out, agent)[0]
        assert incoming["type"] == "call.incoming" and incoming["sdp"] == "v=0 offer"
        assert incoming["caller"] == {"rawId": ALICE, "displayName": "Alice Smith"}
    out = call.accept("megan-phone", "v=0 answer", T0 + timedelta(seconds=3))
    assert to(out, "megan-tab") == [{"type": "call.incoming.ended", "callId": "call-1",
                                     "endReason": {"code": 487, "subCode": 10003}}]
    assert states(out, "megan-phone") == ["Connecting", "Connected"]
    assert states(out, "alice-1") == ["Connected"]
    assert {"type": "call.sdp", "callId": "call-1", "sdp": "v=0 answer"} in to(out, "alice-1")
    assert call.callee.state is ParticipantState.CONNECTED and call.next_deadline() is None
    with pytest.raises(CallError) as late:
        call.accept("megan-tab", None, T0)
    assert (late.value.code, late.value.sub_code) == (400, 41006)


def test_all_declined_is_603() -> None:
    call, _ = ringing_call()
    first = call.reject("megan-tab", T0)
    assert to(first, "megan-tab")[0]["endReason"] == {"code": 603, "subCode": 0} and not call.ended
    out = call.reject("megan-phone", T0)
    assert to(out, "alice-1")[-1] == {"type": "call.state", "callId": "call-1", "state": "Disconnected",
                                      "endReason": {"code": 603, "subCode": 0}}


def test_no_answer_in_time_is_487_10004() -> None:
    call, _ = ringing_call()
    assert call.next_deadline() == T0 + timedelta(seconds=120)
    assert call.on_timer(T0 + timedelta(seconds=119)) == []
    out = call.on_timer(T0 + timedelta(seconds=120))
    for agent in ("megan-tab", "megan-phone"):
        assert to(out, agent)[0]["endReason"] == {"code": 487, "subCode": 10004}
    assert to(out, "alice-1")[-1]["endReason"] == {"code": 487, "subCode": 10004}
    assert call.end_reason is not None and call.end_reason.code == 487


def test_no_endpoint_is_480_10037() -> None:
    call = new_call()
    out = call.place([], None, T0)
    assert states(out, "alice-1") == ["Connecting", "Disconnected"]
    assert to(out, "alice-1")[-1]["endReason"] == {"code": 480, "subCode": 10037}


def test_caller_cancels_while_ringing() -> None:
    call, _ = ringing_call()
    out = call.hang_up("alice-1", T0 + timedelta(seconds=5))
    for agent in ("megan-tab", "megan-phone"):
        assert to(out, agent)[0]["endReason"] == {"code": 487, "subCode": 0}
    assert states(out, "alice-1") == ["Disconnecting", "Disconnected"]
    assert to(out, "alice-1")[-1]["endReason"] == {"code": 0, "subCode": 0}


def test_hang_up_after_connect_is_0_0_for_both() -> None:
    call, _ = ringing_call()
    call.accept("megan-tab", None, T0)
    out = call.hang_up("megan-tab", T0 + timedelta(minutes=3))
    assert states(out, "megan-tab") == ["Disconnecting", "Disconnected"]
    assert to(out, "alice-1")[-1] == {"type": "call.state", "callId": "call-1", "state": "Disconnected",
                                      "endReason": {"code": 0, "subCode": 0}}
    assert call.hang_up("alice-1", T0) == []  # already over: nothing more happens


def test_hold_and_resume_show_local_and_remote_hold() -> None:
    call, _ = ringing_call()
    call.accept("megan-tab", None, T0)
    out = call.hold("alice-1", True)
    assert states(out, "alice-1") == ["LocalHold"] and states(out, "megan-tab") == ["RemoteHold"]
    out = call.hold("megan-tab", True)  # both hold: each sees its own hold
    assert states(out, "megan-tab") == ["LocalHold"] and states(out, "alice-1") == []
    out = call.hold("alice-1", False)
    assert states(out, "alice-1") == ["Connected", "RemoteHold"]
    out = call.hold("megan-tab", False)
    assert states(out, "megan-tab") == ["Connected"] and states(out, "alice-1") == ["Connected"]
    with pytest.raises(CallError):
        call.hold("megan-tab", False)


def test_mute_is_shown_to_the_other_side() -> None:
    call, _ = ringing_call()
    call.accept("megan-tab", None, T0)
    out = call.mute("alice-1", True)
    assert to(out, "megan-tab")[0]["participant"] == {"rawId": ALICE, "displayName": "Alice Smith",
                                                       "state": "Connected", "isMuted": True, "participantId": "p1",
                                                       "role": "Unknown", "isSpeaking": False}


def test_dtmf_is_relayed_and_checked() -> None:
    call, _ = ringing_call()
    with pytest.raises(CallError):
        call.dtmf("alice-1", "5")  # not connected yet
    call.accept("megan-tab", None, T0)
    assert to(call.dtmf("alice-1", "#"), "megan-tab") == [{"type": "call.dtmf", "callId": "call-1", "tone": "#"}]
    with pytest.raises(CallError):
        call.dtmf("alice-1", "X")


def test_sdp_and_ice_are_relayed_to_the_other_side() -> None:
    call, _ = ringing_call()
    out = call.relay_ice("alice-1", {"candidate": "c1"})
    assert {s.agent_id for s in out} == {"megan-tab", "megan-phone"}  # every ringing endpoint
    assert [s.agent_id for s in call.relay_ice("megan-tab", {"candidate": "c2"})] == ["alice-1"]
    call.accept("megan-tab", None, T0)
    assert [s.agent_id for s in call.relay_sdp("alice-1", "v=0")] == ["megan-tab"]
    with pytest.raises(CallError):
        call.relay_sdp("stranger", "v=0")


def test_a_lost_agent_has_a_grace_period() -> None:
    call, _ = ringing_call()
    call.accept("megan-tab", None, T0)
    call.agent_lost("megan-tab", timedelta(seconds=60), T0)
    assert call.next_deadline() == T0 + timedelta(seconds=60)
    call.agent_back("megan-tab")
    assert call.next_deadline() is None
    call.agent_lost("megan-tab", timedelta(seconds=60), T0 + timedelta(seconds=100))
    out = call.on_timer(T0 + timedelta(seconds=160))
    assert to(out, "alice-1")[-1]["endReason"] == {"code": 0, "subCode": 4521}
    assert to(out, "megan-tab") == []  # gone: nobody to tell


def test_a_ringing_endpoint_going_away_stops_ringing_only_there() -> None:
    call, _ = ringing_call()
    assert call.agent_lost("megan-phone", timedelta(seconds=60), T0) == []
    assert call.callee.ringing == {"megan-tab"}
    out = call.agent_lost("megan-tab", timedelta(seconds=60), T0)
    assert to(out, "alice-1")[-1]["endReason"] == {"code": 480, "subCode": 10037}


def test_transition_tables_refuse_what_they_do_not_hold() -> None:
    assert call_next(CallState.NONE, CallEvent.START) is CallState.CONNECTING
    with pytest.raises(InvalidTransition):
        call_next(CallState.DISCONNECTED, CallEvent.CONNECTED)
    with pytest.raises(InvalidTransition):
        participant_next(ParticipantState.IDLE, ParticipantEvent.ANSWER)
    assert all(target in CallState for target in CALL_TRANSITIONS.values())


@pytest.mark.parametrize("raw,kind,value", [
    ("8:orgid:1234", Kind.TEAMS_USER, "1234"), ("8:gcch:1234", Kind.TEAMS_USER, "1234"),
    ("8:teamsvisitor:xyz", Kind.TEAMS_USER, "xyz"), ("4:+14255550123", Kind.PHONE_NUMBER, "+14255550123"),
    ("8:acs:res_1", Kind.COMMUNICATION_USER, "8:acs:res_1"), ("28:orgid:app", Kind.TEAMS_APP, "app"),
    ("8:orgid:", Kind.UNKNOWN, "8:orgid:"), ("hello", Kind.UNKNOWN, "hello"),
])
def test_raw_ids(raw: str, kind: Kind, value: str) -> None:
    identifier = parse_raw_id(raw)
    assert (identifier.kind, identifier.value) == (kind, value)
    assert parse_raw_id("8:teamsvisitor:xyz").is_anonymous
    assert teams_user("oid").raw_id == "8:orgid:oid" and phone_number("+1").raw_id == "4:+1"
    assert teams_user("oid").to_wire()["microsoftTeamsUser"] == {"userId": "oid", "isAnonymous": False,
                                                                 "cloud": "public"}


def test_turn_credentials_follow_coturns_rest_scheme() -> None:
    import base64
    import hashlib
    import hmac

    from callbridge.calling.turn import ice_servers

    assert ice_servers([], "secret", ALICE, T0, 3600) == []
    assert ice_servers(["turn:t.example:3478"], "", ALICE, T0, 3600) == []
    [server] = ice_servers(["turn:t.example:3478"], "s3cret", ALICE, T0, 3600)
    expiry = int(T0.timestamp()) + 3600
    assert server["username"] == f"{expiry}:{ALICE}"
    expected = base64.b64encode(hmac.new(b"s3cret", server["username"].encode(), hashlib.sha1).digest()).decode()
    assert server["credential"] == expected and server["urls"] == ["turn:t.example:3478"]


def test_losing_an_endpoint_that_declined_or_lost_the_race_changes_nothing() -> None:
    call, _ = ringing_call()
    call.accept("megan-tab", None, T0)
    assert call.agent_lost("megan-phone", timedelta(seconds=60), T0) == []
    assert call.next_deadline() is None and not call.ended


# -- phone legs: an endpoint that rings in its own time and ends with the phone network's reasons ------------------
PHONE = "4:+12065550100"


def phone_call() -> tuple[Call, list[Send]]:
    call = Call("call-2", None, Leg(ALICE, "Alice Smith", agent_id="alice-1"), Leg(PHONE, None),
                ring_time=timedelta(seconds=115), created_at=T0)
    return call, call.place(["pstn:leg-1"], "v=0 offer", T0, alerting=False)


def test_a_phone_rings_when_its_network_says_so_and_its_hang_up_reads_0_560000() -> None:
    from callbridge.calling.end_reasons import PHONE_HUNG_UP

    call, out = phone_call()
    assert states(out, "alice-1") == ["Connecting"] and to(out, "pstn:leg-1")[0]["type"] == "call.incoming"
    assert states(call.alerting("pstn:leg-1"), "alice-1") == ["Ringing"]
    assert call.alerting("pstn:leg-1") == []  # a repeated 180
    assert states(call.accept("pstn:leg-1", "v=0 answer", T0 + timedelta(seconds=5)), "alice-1") == ["Connected"]
    out = call.hang_up("pstn:leg-1", T0 + timedelta(seconds=65), PHONE_HUNG_UP)
    assert to(out, "alice-1")[-1]["endReason"] == {"code": 0, "subCode": 560000}
    assert call.end_reason is PHONE_HUNG_UP and call.callee.end_reason is not None


def test_a_busy_phone_ends_the_call_with_486_560486_and_an_answer_needs_no_ringing_first() -> None:
    from callbridge.calling.end_reasons import from_phone

    call, _ = phone_call()
    out = call.reject("pstn:leg-1", T0 + timedelta(seconds=1), from_phone(486))
    assert [m.get("endReason") for m in to(out, "alice-1")] == [{"code": 486, "subCode": 560486}]
    call, _ = phone_call()
    assert states(call.accept("pstn:leg-1", None, T0), "alice-1") == ["Connected"]


def test_early_media_gives_the_caller_the_answer_before_the_phone_answers() -> None:
    """A 183 with SDP (ringback or an announcement): EarlyMedia with the answer, once; the 200 then connects
    without a second answer, and a 180 after the 183 changes nothing."""
    call, _ = phone_call()
    assert states(call.alerting("pstn:leg-1"), "alice-1") == ["Ringing"]
    out = call.early_media("pstn:leg-1", "v=0 early answer")
    assert [m["type"] for m in to(out, "alice-1")] == ["call.sdp", "call.state", "call.participant"]
    assert to(out, "alice-1")[0]["sdp"] == "v=0 early answer" and states(out, "alice-1") == ["EarlyMedia"]
    assert call.early_media("pstn:leg-1", "v=0 early answer") == [] and call.alerting("pstn:leg-1") == []
    out = call.accept("pstn:leg-1", None, T0 + timedelta(seconds=9))
    assert states(out, "alice-1") == ["Connected"] and not [m for m in to(out, "alice-1") if m["type"] == "call.sdp"]
    with pytest.raises(CallError):
        call.early_media("pstn:leg-1", "v=0 too late")


def test_an_announcement_then_a_refusal_ends_with_the_refusal() -> None:
    from callbridge.calling.end_reasons import from_phone

    call, _ = phone_call()
    call.early_media("pstn:leg-1", "v=0 early answer")  # "the number you have dialled is not in service"
    out = call.reject("pstn:leg-1", T0 + timedelta(seconds=6), from_phone(404))
    assert [m.get("endReason") for m in to(out, "alice-1")] == [{"code": 404, "subCode": 560404}]


def test_a_phone_caller_that_cancels_ends_the_ringing_everywhere() -> None:
    call = Call("call-3", None, Leg(PHONE, "Contoso Customer", agent_id="pstn:leg-2"), Leg(ALICE, "Alice Smith"),
                ring_time=timedelta(seconds=120), created_at=T0)
    out = call.place(["alice-tab", "alice-phone"], "v=0 offer", T0)
    assert to(out, "alice-tab")[0]["caller"] == {"rawId": PHONE, "displayName": "Contoso Customer"}
    out = call.hang_up("pstn:leg-2", T0 + timedelta(seconds=4))
    for agent in ("alice-tab", "alice-phone"):
        assert to(out, agent) == [{"type": "call.incoming.ended", "callId": "call-3",
                                   "endReason": {"code": 487, "subCode": 0}}]
