"""A meeting in progress, sans-I/O on a fake clock: joining into it or its lobby, who may admit, reject and mute,
the lobby's time-out, raised hands, dominant speakers, the end for everyone and the last one out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callbridge.calling.call import CallError, Leg, Out, Send
from callbridge.calling.events import Capability
from callbridge.calling.meeting import Meeting, MeetingFacts
from callbridge.calling.mixing import CloseRoom, LeaveRoom, MuteInRoom, Negotiate, OpenRoom
from callbridge.calling.states import ParticipantRole, ParticipantState

T0 = datetime(2026, 12, 7, 10, tzinfo=UTC)
ALICE, MEGAN, GUEST, GUEST2 = "8:orgid:aaaa", "8:orgid:bbbb", "8:acs:r_g1", "8:acs:r_g2"
R = ParticipantRole
LEADERS = {R.ORGANIZER, R.CO_ORGANIZER, R.PRESENTER}
NAMES = ("manageLobby", "muteOthers", "removeParticipant", "hangUpForEveryOne", "addPhoneNumber", "addTeamsUser",
         "raiseHand")


class Table:
    """A role table like meetings/roles.py's: leaders may do everything; attendees raise hands."""

    def capabilities(self, role: ParticipantRole) -> tuple[Capability, ...]:
        return tuple(Capability(name, role in LEADERS or name == "raiseHand",
                                "Capable" if role in LEADERS or name == "raiseHand" else "RoleRestricted")
                     for name in NAMES)


def to(out: list[Out], agent: str) -> list[dict[str, Any]]:
    return [s.event.to_wire() for s in out if isinstance(s, Send) and s.agent_id == agent]


def kinds(out: list[Out], agent: str) -> list[str]:
    return [m["type"] for m in to(out, agent)]


def states(out: list[Out], agent: str) -> list[str]:
    return [m["state"] for m in to(out, agent) if m["type"] == "call.state"]


def seen(out: list[Out], agent: str) -> list[tuple[str, str]]:
    return [(m["participant"]["rawId"], m["participant"]["state"]) for m in to(out, agent)
            if m["type"] == "call.participant"]


def actions(out: list[Out]) -> list[Any]:
    return [o for o in out if not isinstance(o, Send)]


def new_meeting() -> Meeting:
    return Meeting("m1", MeetingFacts("19:meeting_x@thread.v2", "123456789", "+14255550199"), Table(),
                   lobby_timeout=timedelta(minutes=10), ring_time=timedelta(seconds=60), created_at=T0)


def refusal(exc: pytest.ExceptionInfo[CallError]) -> tuple[int, int]:
    return exc.value.code, exc.value.sub_code


def meeting_with_guest_waiting() -> Meeting:
    m = new_meeting()
    m.join("alice-1", Leg(ALICE, "Alice Smith", role=R.ORGANIZER), T0, lobby=False)
    m.join("megan-1", Leg(MEGAN, "Megan Bowen", role=R.ATTENDEE), T0, lobby=False)
    m.join("guest-1", Leg(GUEST, "Guest One", role=R.ATTENDEE), T0, lobby=True)
    return m


def test_the_first_joiner_opens_the_room_and_learns_its_role_and_capabilities() -> None:
    m = new_meeting()
    out = m.join("alice-1", Leg(ALICE, "Alice Smith", role=R.ORGANIZER), T0, lobby=False)
    assert actions(out) == [OpenRoom("m1"), Negotiate("m1", "p1", "Alice Smith")]
    assert states(out, "alice-1") == ["Connecting", "Connected"]
    role, caps = to(out, "alice-1")[1:3]
    assert role == {"type": "call.role", "callId": "m1", "role": "Organizer"}
    assert caps["capabilities"]["manageLobby"] == {"isPresent": True, "reason": "Capable"}
    out = m.join("megan-1", Leg(MEGAN, "Megan Bowen", role=R.ATTENDEE), T0, lobby=False)
    assert OpenRoom("m1") not in actions(out)  # one room per meeting
    assert seen(out, "megan-1") == [(ALICE, "Connected")] and seen(out, "alice-1") == [(MEGAN, "Connected")]
    megan_caps = next(m for m in to(out, "megan-1") if m["type"] == "call.capabilities")["capabilities"]
    assert megan_caps["manageLobby"] == {"isPresent": False, "reason": "RoleRestricted"}


def test_a_guest_waits_in_the_lobby_out_of_the_mix_and_everyone_sees_it_waiting() -> None:
    m = new_meeting()
    m.join("alice-1", Leg(ALICE, "Alice Smith", role=R.ORGANIZER), T0, lobby=False)
    out = m.join("guest-1", Leg(GUEST, "Guest One", role=R.ATTENDEE), T0, lobby=True)
    assert states(out, "guest-1") == ["Connecting", "InLobby"] and actions(out) == []
    assert seen(out, "alice-1") == [(GUEST, "InLobby")] and seen(out, "guest-1") == []  # it sees nobody yet
    with pytest.raises(CallError) as refused:
        m.audio_conferencing("guest-1", "r1")
    assert refusal(refused) == (403, 45953)


def test_only_organizers_and_presenters_admit_and_the_admitted_joins_the_mix() -> None:
    m = meeting_with_guest_waiting()
    with pytest.raises(CallError) as refused:
        m.admit("megan-1", "p3", T0)
    assert refusal(refused) == (403, 10130) and "manageLobby" in str(refused.value)
    with pytest.raises(CallError) as refused:
        m.admit("guest-1", "p3", T0)  # not from the lobby either
    assert refusal(refused) == (403, 10132)
    out = m.admit("alice-1", "p3", T0)
    assert states(out, "guest-1") == ["Connected"] and actions(out) == [Negotiate("m1", "p3", "Guest One")]
    assert set(seen(out, "guest-1")) == {(ALICE, "Connected"), (MEGAN, "Connected")}
    assert seen(out, "megan-1") == [(GUEST, "Connected")] and m.lobby == {}
    with pytest.raises(CallError) as refused:
        m.admit("alice-1", "p3", T0)  # not waiting any more
    assert refusal(refused) == (400, 10131)


def test_admit_all_and_reject() -> None:
    m = meeting_with_guest_waiting()
    m.join("guest-2", Leg(GUEST2, "Guest Two", role=R.ATTENDEE), T0, lobby=True)
    out = m.reject_from_lobby("alice-1", "p4", T0)
    assert to(out, "guest-2")[-1]["endReason"] == {"code": 0, "subCode": 5854}
    assert seen(out, "alice-1") == [(GUEST2, "Disconnected")]
    m.join("guest-2b", Leg(GUEST2, "Guest Two", role=R.ATTENDEE), T0, lobby=True)
    out = m.admit_all("alice-1", T0)
    assert states(out, "guest-1") == ["Connected"] and states(out, "guest-2b") == ["Connected"]


def test_nobody_letting_a_guest_in_removes_it_after_the_lobby_timeout() -> None:
    m = meeting_with_guest_waiting()
    assert m.next_deadline() == T0 + timedelta(minutes=10)
    assert m.on_timer(T0 + timedelta(minutes=9)) == []
    out = m.on_timer(T0 + timedelta(minutes=10))
    assert to(out, "guest-1")[-1]["endReason"] == {"code": 0, "subCode": 5855}
    assert m.next_deadline() is None and not m.ended


def test_muting_another_takes_it_out_of_the_mix_and_tells_it() -> None:
    m = meeting_with_guest_waiting()
    with pytest.raises(CallError) as refused:
        m.mute_participant("megan-1", "p1")
    assert refusal(refused) == (403, 10130)
    out = m.mute_participant("alice-1", "p2")
    assert actions(out) == [MuteInRoom("m1", "p2", True)]
    assert kinds(out, "megan-1") == ["call.mutedByOthers"]
    assert to(out, "alice-1")[0]["participant"]["isMuted"] is True
    out = m.mute("megan-1", False)  # only she can bring herself back
    assert actions(out) == [MuteInRoom("m1", "p2", False)] and to(out, "alice-1")[0]["participant"]["isMuted"] is False
    out = m.mute_all("alice-1")
    assert actions(out) == [MuteInRoom("m1", "p2", True)]  # the guest in the lobby is not in the mix anyway


def test_raised_hands_in_order_and_who_may_lower_them() -> None:
    m = meeting_with_guest_waiting()
    m.admit("alice-1", "p3", T0)
    out = m.raise_hand("megan-1")
    assert to(out, "alice-1") == [{"type": "call.raisedHand", "callId": "m1", "identifier": {"rawId": MEGAN},
                                   "participantId": "p2", "order": 1}]
    assert to(m.raise_hand("guest-1"), "megan-1")[0]["order"] == 2
    assert m.raise_hand("guest-1") == []  # already up
    with pytest.raises(CallError):
        m.lower_hand("guest-1", "p2")  # an attendee lowers only its own
    assert kinds(m.lower_hand("guest-1"), "alice-1") == ["call.loweredHand"]
    with pytest.raises(CallError):
        m.lower_all_hands("megan-1")
    out = m.lower_all_hands("alice-1")
    assert [f["participantId"] for f in to(out, "alice-1")] == ["p2"] and m.hands == {}


def test_talking_events_give_is_speaking_and_dominant_speakers_last_first() -> None:
    m = meeting_with_guest_waiting()
    out = m.talking("p2", True, T0)
    assert to(out, "alice-1")[0]["participant"]["isSpeaking"] is True
    dominant = [f for f in to(out, "alice-1") if f["type"] == "call.dominantSpeakers"]
    assert [s["rawId"] for s in dominant[0]["speakers"]] == [MEGAN]
    m.talking("p2", False, T0)
    out = m.talking("p1", True, T0 + timedelta(seconds=2))
    dominant = [f for f in to(out, "megan-1") if f["type"] == "call.dominantSpeakers"]
    assert [s["rawId"] for s in dominant[0]["speakers"]] == [ALICE, MEGAN]
    assert "call.dominantSpeakers" not in kinds(out, "guest-1")  # the lobby hears nothing of the meeting


def test_removing_needs_the_capability_and_ends_5300() -> None:
    m = meeting_with_guest_waiting()
    with pytest.raises(CallError) as refused:
        m.remove_participant("megan-1", "p1", T0)
    assert refusal(refused) == (403, 10130)
    out = m.remove_participant("alice-1", "p2", T0)
    assert to(out, "megan-1")[-1]["endReason"] == {"code": 0, "subCode": 5300}
    assert actions(out) == [LeaveRoom("m1", "p2")] and not m.ended


def test_the_organizer_ends_the_meeting_for_everyone_with_4097() -> None:
    m = meeting_with_guest_waiting()
    with pytest.raises(CallError) as refused:
        m.hang_up("megan-1", T0, for_everyone=True)
    assert refusal(refused) == (403, 10130) and not m.ended
    out = m.hang_up("alice-1", T0, for_everyone=True)
    for agent in ("megan-1", "guest-1"):
        assert to(out, agent)[-1]["endReason"] == {"code": 0, "subCode": 4097}
    assert actions(out) == [CloseRoom("m1")] and m.ended


def test_a_meeting_goes_on_with_one_participant_and_ends_when_nobody_is_left() -> None:
    m = meeting_with_guest_waiting()
    m.hang_up("megan-1", T0)
    assert not m.ended  # Alice alone, a guest waiting
    m.hang_up("alice-1", T0)
    assert not m.ended and m.participants["p3"].state is ParticipantState.IN_LOBBY
    out = m.on_timer(T0 + timedelta(minutes=10))
    assert m.ended and actions(out) == [CloseRoom("m1")]


def test_dial_in_details_for_participants() -> None:
    m = meeting_with_guest_waiting()
    assert to(m.audio_conferencing("megan-1", "r1"), "megan-1") == [{
        "type": "call.audioConferencing", "requestId": "r1", "callId": "m1", "phoneConferenceId": "123456789",
        "phoneNumbers": [{"tollPhoneNumber": {"phoneNumber": "+14255550199"}}]}]


def test_a_meeting_that_ended_cannot_be_joined() -> None:
    m = new_meeting()
    m.join("alice-1", Leg(ALICE, "Alice", role=R.ORGANIZER), T0, lobby=False)
    m.hang_up("alice-1", T0)
    with pytest.raises(CallError) as refused:
        m.join("megan-1", Leg(MEGAN, "Megan", role=R.ATTENDEE), T0, lobby=False)
    assert refused.value.code == 404


def test_a_role_changed_by_the_organizer_tells_the_party_and_the_others() -> None:
    m = meeting_with_guest_waiting()
    out = m.change_roles({"p2": R.PRESENTER, "p1": R.ORGANIZER, "p3": R.PRESENTER})
    assert kinds(out, "megan-1") == ["call.role", "call.capabilities", "call.participant"]  # hers; the guest's
    caps = to(out, "megan-1")[1]["capabilities"]
    assert caps["manageLobby"] == {"isPresent": True, "reason": "Capable"}
    assert [f["participant"]["role"] for f in to(out, "alice-1")] == ["Presenter", "Presenter"]
    assert kinds(out, "guest-1") == []  # still waiting: it learns its role when it comes in
    assert m.change_roles({"p2": R.PRESENTER}) == []  # no change, no news
    m.admit("megan-1", "p3", T0)  # and Megan may now let the guest in


def test_an_agent_that_left_and_joined_again_hangs_up_the_leg_it_is_in_now() -> None:
    """An app leaves a meeting and joins it again from the same agent: its commands are about the leg it is in
    now, not the one that left (its hang-up went to the old leg and was dropped: it stayed in the meeting)."""
    m = new_meeting()
    m.join("alice-1", Leg(ALICE, "Alice Smith", role=R.ORGANIZER), T0, lobby=False)
    m.join("megan-1", Leg(MEGAN, "Megan Bowen", role=R.ATTENDEE), T0, lobby=False)
    m.hang_up("megan-1", T0)
    m.join("megan-1", Leg(MEGAN, "Megan Bowen", role=R.ATTENDEE), T0, lobby=False)
    out = m.hang_up("megan-1", T0)
    assert states(out, "megan-1")[-1] == "Disconnected"
    assert seen(out, "alice-1") == [(MEGAN, "Disconnected")]
    assert actions(out) == [LeaveRoom("m1", "p3")]
    assert [leg.state for leg in m.participants.values()] == [
        ParticipantState.CONNECTED, ParticipantState.DISCONNECTED, ParticipantState.DISCONNECTED]
