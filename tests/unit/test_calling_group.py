"""Calls of more than two parties, sans-I/O on a fake clock: adding a Teams user or a phone number turns a 1:1 call
into a group call whose media moves to the mixer; leaving, removing, declining, ring time-outs and lost
connections end one participant's leg while the others go on; the last one left ends the call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callbridge.calling import end_reasons as reasons
from callbridge.calling.call import Call, CallError, Leg, Out, Send
from callbridge.calling.mixing import (
    AnswerRoom,
    CloseRoom,
    DialPhone,
    LeaveRoom,
    MuteInRoom,
    Negotiate,
    OpenRoom,
    TrickleRoom,
)
from callbridge.calling.states import ParticipantState

T0 = datetime(2026, 12, 7, 9, tzinfo=UTC)
ALICE, MEGAN, NESTOR, PHONE = "8:orgid:aaaa", "8:orgid:bbbb", "8:orgid:cccc", "4:+14255550123"


def to(out: list[Out], agent: str) -> list[dict[str, Any]]:
    return [s.event.to_wire() for s in out if isinstance(s, Send) and s.agent_id == agent]


def states(out: list[Out], agent: str) -> list[str]:
    return [m["state"] for m in to(out, agent) if m["type"] == "call.state"]


def seen(out: list[Out], agent: str) -> list[tuple[str, str]]:
    """The participants ``agent`` was told about: (raw id, state)."""
    return [(m["participant"]["rawId"], m["participant"]["state"]) for m in to(out, agent)
            if m["type"] == "call.participant"]


def actions(out: list[Out]) -> list[Any]:
    return [o for o in out if not isinstance(o, Send)]


def connected_call() -> Call:
    call = Call("c1", "19:group@thread.v2", Leg(ALICE, "Alice Smith", agent_id="alice-1"),
                Leg(MEGAN, "Megan Bowen"), ring_time=timedelta(seconds=60), created_at=T0)
    call.place(["megan-1"], "v=0 alice offer", T0)
    call.accept("megan-1", "v=0 megan answer", T0)
    return call


def group_call() -> tuple[Call, list[Out]]:
    """Alice and Megan talking; Alice adds Nestor, who answers; everyone answered the mixer's offers."""
    call = connected_call()
    out = call.add_participant("alice-1", Leg(NESTOR, "Nestor Wilke"), ["nestor-1"], T0)
    out += call.accept("nestor-1", None, T0)
    for pid, agent in (("p1", "alice-1"), ("p2", "megan-1"), ("p3", "nestor-1")):
        out += call.mixer_sdp(pid, f"v=0 mixer offer {pid}")
        out += call.relay_sdp(agent, f"v=0 {pid} answer")
    return call, out


def test_adding_a_teams_user_moves_the_media_to_the_mixer_and_rings_the_user() -> None:
    call = connected_call()
    out = call.add_participant("alice-1", Leg(NESTOR, "Nestor Wilke"), ["nestor-1", "nestor-2"], T0)
    assert actions(out) == [OpenRoom("c1"), Negotiate("c1", "p1", "Alice Smith"),
                            Negotiate("c1", "p2", "Megan Bowen")]
    for agent in ("nestor-1", "nestor-2"):
        incoming = to(out, agent)[0]
        assert incoming["type"] == "call.incoming" and incoming["caller"]["rawId"] == ALICE
    assert seen(out, "alice-1")[-1] == (NESTOR, "Ringing") and seen(out, "megan-1")[-1] == (NESTOR, "Ringing")
    assert states(out, "alice-1") == [] and states(out, "megan-1") == []  # their calls stay Connected
    # each party gets the mixer's offer of a new media session, and its answer goes to the mixer
    sdp = to(call.mixer_sdp("p1", "v=0 mixer offer"), "alice-1")
    assert sdp == [{"type": "call.sdp", "callId": "c1", "sdp": "v=0 mixer offer", "mediaSession": 1}]
    assert call.relay_sdp("alice-1", "v=0 alice answer") == [AnswerRoom("c1", "p1", "v=0 alice answer")]
    # after the answer, the party's own re-offer is answered by the mixer
    assert call.relay_sdp("alice-1", "v=0 re-offer") == [Negotiate("c1", "p1", "Alice Smith", "v=0 re-offer")]


def test_the_added_user_answers_and_learns_who_is_in_the_call() -> None:
    call = connected_call()
    call.add_participant("alice-1", Leg(NESTOR, "Nestor Wilke"), ["nestor-1", "nestor-2"], T0)
    out = call.accept("nestor-1", None, T0)
    assert states(out, "nestor-1") == ["Connecting", "Connected"]
    assert to(out, "nestor-2")[0]["endReason"] == {"code": 487, "subCode": 10003}
    assert set(seen(out, "nestor-1")) == {(ALICE, "Connected"), (MEGAN, "Connected")}
    assert seen(out, "alice-1") == [(NESTOR, "Connected")] and seen(out, "megan-1") == [(NESTOR, "Connected")]
    assert actions(out) == [Negotiate("c1", "p3", "Nestor Wilke")]
    assert [p.state for p in call.legs()] == [ParticipantState.CONNECTED] * 3


def test_one_leaving_a_group_call_leaves_the_others_talking_and_the_last_one_ends_it() -> None:
    call, _ = group_call()
    out = call.hang_up("megan-1", T0 + timedelta(minutes=1))
    assert states(out, "megan-1") == ["Disconnecting", "Disconnected"]
    assert to(out, "megan-1")[-1]["endReason"] == {"code": 0, "subCode": 0}
    assert seen(out, "alice-1") == [(MEGAN, "Disconnected")] and seen(out, "nestor-1") == [(MEGAN, "Disconnected")]
    assert actions(out) == [LeaveRoom("c1", "p2")] and not call.ended
    out = call.hang_up("nestor-1", T0 + timedelta(minutes=2))
    assert states(out, "alice-1") == ["Disconnected"] and to(out, "alice-1")[-1]["endReason"]["code"] == 0
    assert actions(out) == [LeaveRoom("c1", "p3"), CloseRoom("c1")] and call.ended


def test_hang_up_for_everyone_ends_every_leg_with_4097() -> None:
    call, _ = group_call()
    out = call.hang_up("alice-1", T0, for_everyone=True)
    assert to(out, "alice-1")[-1]["endReason"] == {"code": 0, "subCode": 0}
    for agent in ("megan-1", "nestor-1"):
        assert states(out, agent) == ["Disconnected"]
        assert to(out, agent)[-1]["endReason"] == {"code": 0, "subCode": 4097}
    assert actions(out) == [CloseRoom("c1")] and call.end_reason is reasons.ENDED_FOR_EVERYONE


def test_a_removed_participant_ends_5300_and_the_others_stay() -> None:
    call, _ = group_call()
    out = call.remove_participant("alice-1", "p2", T0)
    assert to(out, "megan-1")[-1]["endReason"] == {"code": 0, "subCode": 5300}
    assert actions(out) == [LeaveRoom("c1", "p2")] and not call.ended
    with pytest.raises(CallError) as refused:
        call.remove_participant("alice-1", "p2", T0)  # gone already
    assert refused.value.code == 404
    with pytest.raises(CallError) as refused:
        call.remove_participant("alice-1", "p1", T0)
    assert (refused.value.code, refused.value.sub_code) == (400, 10143)


def test_removing_the_other_party_of_a_1_to_1_call_ends_it() -> None:
    call = connected_call()
    out = call.remove_participant("alice-1", "p2", T0)
    assert to(out, "megan-1")[-1]["endReason"] == {"code": 0, "subCode": 5300}
    assert to(out, "alice-1")[-1]["endReason"] == {"code": 0, "subCode": 0} and call.ended


def test_an_added_user_who_declines_or_does_not_answer_ends_only_their_leg() -> None:
    call = connected_call()
    call.add_participant("alice-1", Leg(NESTOR, "Nestor Wilke"), ["nestor-1"], T0)
    out = call.reject("nestor-1", T0)
    assert seen(out, "alice-1") == [(NESTOR, "Disconnected")] and not call.ended
    call.add_participant("alice-1", Leg(NESTOR, "Nestor Wilke"), ["nestor-1"], T0)  # may be tried again
    assert call.next_deadline() == T0 + timedelta(seconds=60)
    out = call.on_timer(T0 + timedelta(seconds=60))
    assert to(out, "nestor-1")[0]["endReason"] == {"code": 487, "subCode": 10004}
    assert seen(out, "megan-1") == [(NESTOR, "Disconnected")] and not call.ended
    assert call.next_deadline() is None


def test_adding_a_phone_number_dials_it_with_the_mixers_offer() -> None:
    call = connected_call()
    out = call.add_participant("alice-1", Leg(PHONE, None), [], T0)
    assert actions(out)[-1] == Negotiate("c1", "p3", None, plain=True)  # the mixer offers plain RTP first
    assert call.mixer_sdp("p3", "v=0 mixer offer") == [DialPhone("c1", "p3", PHONE, "v=0 mixer offer")]
    out = call.reach("p3", ["pstn-leg"], "v=0 mixer offer", T0)
    assert to(out, "pstn-leg")[0]["sdp"] == "v=0 mixer offer"
    assert seen(call.alerting("pstn-leg"), "alice-1") == [(PHONE, "Ringing")]
    out = call.accept("pstn-leg", "v=0 gateway answer", T0)
    assert AnswerRoom("c1", "p3", "v=0 gateway answer") in actions(out)
    assert seen(out, "megan-1") == [(PHONE, "Connected")]


def test_a_phones_early_answer_goes_to_the_mixer_and_its_200_connects_the_same_media() -> None:
    call = connected_call()
    call.add_participant("alice-1", Leg(PHONE, None), [], T0)
    call.mixer_sdp("p3", "v=0 mixer offer")
    call.reach("p3", ["pstn-leg"], "v=0 mixer offer", T0)
    assert actions(call.early_media("pstn-leg", "v=0 early answer")) == [AnswerRoom("c1", "p3", "v=0 early answer")]
    assert actions(call.accept("pstn-leg", None, T0)) == []


def test_the_mixer_failing_a_participant_ends_their_leg_with_503() -> None:
    call, _ = group_call()
    out = call.mixer_failed("p3", T0)
    assert to(out, "nestor-1")[-1]["endReason"] == {"code": 503, "subCode": 10140}
    assert not call.ended


def test_hold_in_a_group_call_takes_the_party_out_of_the_mix() -> None:
    call, _ = group_call()
    out = call.hold("megan-1", True)
    assert states(out, "megan-1") == ["LocalHold"] and states(out, "alice-1") == []
    assert actions(out) == [MuteInRoom("c1", "p2", True)] and seen(out, "nestor-1") == [(MEGAN, "Hold")]
    out = call.hold("megan-1", False)
    assert actions(out) == [MuteInRoom("c1", "p2", False)] and seen(out, "alice-1") == [(MEGAN, "Connected")]


def test_dtmf_and_ice_in_a_group_call() -> None:
    call, _ = group_call()
    out = call.dtmf("alice-1", "5")
    assert to(out, "megan-1") == to(out, "nestor-1") == [{"type": "call.dtmf", "callId": "c1", "tone": "5"}]
    assert call.relay_ice("megan-1", None) == [TrickleRoom("c1", "p2", None)]


def test_a_lost_agent_leaves_a_group_call_after_the_grace_and_the_call_goes_on() -> None:
    call, _ = group_call()
    call.agent_lost("nestor-1", timedelta(seconds=30), T0)
    assert call.next_deadline() == T0 + timedelta(seconds=30)
    out = call.on_timer(T0 + timedelta(seconds=30))
    assert seen(out, "alice-1") == [(NESTOR, "Disconnected")] and actions(out) == [LeaveRoom("c1", "p3")]
    assert call.participants["p3"].end_reason is reasons.NETWORK_LOST and not call.ended
    assert call.next_deadline() is None


@pytest.mark.parametrize("setup,target,code", [
    ("ringing", NESTOR, (400, 41008)),  # not connected yet
    ("connected", MEGAN, (400, 10141)),  # already in the call
])
def test_add_participant_refusals(setup: str, target: str, code: tuple[int, int]) -> None:
    call = connected_call()
    if setup == "ringing":
        call = Call("c2", None, Leg(ALICE, "Alice", agent_id="alice-1"), Leg(MEGAN, "Megan"),
                    ring_time=timedelta(seconds=60), created_at=T0)
        call.place(["megan-1"], "v=0", T0)
    with pytest.raises(CallError) as refused:
        call.add_participant("alice-1", Leg(target, None), ["x-1"], T0)
    assert (refused.value.code, refused.value.sub_code) == code
    assert len(call.participants) == 2 and not call.mixed  # unchanged
