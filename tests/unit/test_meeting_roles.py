"""Roles from the event (organizer, attendee roles, allowedPresenters) and capabilities per role and call type,
with ACS's names and reasons; what changed between two capability maps."""

from __future__ import annotations

from dataclasses import replace

import pytest

from callbridge.meetings.lobby import classify
from callbridge.meetings.model import AllowedPresenters, AttendeeRole, Invitee, LobbyScope
from callbridge.meetings.roles import (
    CallType,
    CapabilitiesChangeReason,
    Capability,
    CapabilityName,
    CapabilityReason,
    ParticipantRole,
    capabilities,
    changes,
    role_of,
    to_wire,
)
from tests.unit.test_meeting_lobby import INVITED_MEMBER, JOINERS, PARTNER_ADDRESS, meeting

R, N, W = ParticipantRole, CapabilityName, CapabilityReason
P = AllowedPresenters

# allowedPresenters -> the joiners who present (docs: roles.py's table); the organizer and co-organizer aside.
PRESENTING: dict[AllowedPresenters, set[str]] = {
    P.EVERYONE: set(JOINERS) - {"organizer", "co-organizer", "phone"},
    P.ORGANIZATION: {"member", "invited member", "guest account", "invited guest account"},
    P.ROLE_IS_PRESENTER: {"invited member", "invited federated"},
    P.ORGANIZER: set(),
}


@pytest.mark.parametrize("presenters", list(AllowedPresenters))
@pytest.mark.parametrize("name", list(JOINERS))
def test_role_of_each_joiner_under_each_presenters_option(presenters: AllowedPresenters, name: str) -> None:
    base = meeting(LobbyScope.EVERYONE)
    invitees = tuple(replace(i, role=AttendeeRole.PRESENTER) if i.user_id == INVITED_MEMBER
                     or i.email == PARTNER_ADDRESS else i for i in base.invitees)
    m = replace(base, allowed_presenters=presenters, invitees=invitees)
    role = role_of(m, classify(m, JOINERS[name]))
    if name == "organizer":
        assert role is R.ORGANIZER
    elif name == "co-organizer":
        assert role is R.CO_ORGANIZER
    else:
        assert role is (R.PRESENTER if name in PRESENTING[presenters] else R.ATTENDEE), (presenters, name)


def test_a_co_organizer_role_outside_the_organizers_tenant_is_a_presenter_invitation() -> None:
    base = meeting(LobbyScope.EVERYONE)
    m = replace(base, allowed_presenters=P.ROLE_IS_PRESENTER,
                invitees=(Invitee(PARTNER_ADDRESS, None, AttendeeRole.COORGANIZER),))
    assert role_of(m, classify(m, JOINERS["invited federated"])) is R.PRESENTER
    assert role_of(replace(m, allowed_presenters=P.ORGANIZER), classify(m, JOINERS["invited federated"])) \
        is R.ATTENDEE


LEADING = {N.MANAGE_LOBBY, N.MUTE_OTHERS, N.REMOVE_PARTICIPANT, N.ADD_TEAMS_USER, N.ADD_COMMUNICATION_USER,
           N.ADD_PHONE_NUMBER, N.PSTN_DIAL_OUT}
EVERYONES = {N.RAISE_HAND, N.UNMUTE_MIC, N.VIEW_ATTENDEE_NAMES}
UNSUPPORTED = {N.TURN_VIDEO_ON, N.SHARE_SCREEN, N.SPOTLIGHT_PARTICIPANT, N.REMOVE_PARTICIPANTS_SPOTLIGHT,
               N.BLUR_BACKGROUND, N.START_LIVE_MEETING_CAPTIONS, N.START_LIVE_CALLING_CAPTIONS,
               N.SET_CAPTION_LANGUAGE, N.USE_REACTIONS, N.START_TOGETHER_MODE, N.JOIN_BREAKOUT_ROOMS,
               N.FORBID_OTHERS_AUDIO, N.FORBID_OTHERS_VIDEO, N.REAL_TIME_TEXT}


def _expected_in_meeting(role: ParticipantRole, name: CapabilityName) -> Capability:
    if name in UNSUPPORTED:
        return Capability(False, W.FEATURE_NOT_SUPPORTED)
    if role is R.UNKNOWN:
        return Capability(False, W.NOT_INITIALIZED)
    leader = role in (R.ORGANIZER, R.CO_ORGANIZER, R.PRESENTER)
    capable = {N.HANG_UP_FOR_EVERYONE: role in (R.ORGANIZER, R.CO_ORGANIZER),
               N.UNMUTE_MIC: role is not R.CONSUMER}.get(name, leader if name in LEADING else name in EVERYONES)
    return Capability(True, W.CAPABLE) if capable else Capability(False, W.ROLE_RESTRICTED)


@pytest.mark.parametrize("role", list(ParticipantRole))
def test_meeting_capabilities_of_every_role(role: ParticipantRole) -> None:
    caps = capabilities(role, CallType.MEETING, can_dial_out=True)
    assert set(caps) == set(CapabilityName)
    for name in CapabilityName:
        assert caps[name] == _expected_in_meeting(role, name), (role, name)


def test_the_wire_names_are_acs_names() -> None:
    wire = to_wire(capabilities(R.ATTENDEE, CallType.MEETING))
    assert wire["manageLobby"] == {"isPresent": False, "reason": "RoleRestricted"}
    assert wire["hangUpForEveryOne"] == {"isPresent": False, "reason": "RoleRestricted"}
    assert wire["raiseHand"] == {"isPresent": True, "reason": "Capable"}
    assert wire["shareScreen"] == {"isPresent": False, "reason": "FeatureNotSupported"}
    assert [r.value for r in ParticipantRole] == ["Unknown", "Attendee", "Presenter", "Organizer", "Co-organizer",
                                                  "Consumer", "Collaborator"]


@pytest.mark.parametrize("role", [R.ORGANIZER, R.PRESENTER])
def test_phone_numbers_need_a_dial_out_policy(role: ParticipantRole) -> None:
    for call_type in CallType:
        caps = capabilities(role, call_type, can_dial_out=False)
        assert caps[N.ADD_PHONE_NUMBER] == caps[N.PSTN_DIAL_OUT] == Capability(False, W.USER_POLICY_RESTRICTED)
        assert caps[N.ADD_TEAMS_USER].is_present


@pytest.mark.parametrize("call_type", [CallType.ONE_TO_ONE, CallType.GROUP])
@pytest.mark.parametrize("role", list(ParticipantRole))
def test_calls_that_are_not_meetings(call_type: CallType, role: ParticipantRole) -> None:
    caps = capabilities(role, call_type, can_dial_out=True)
    assert caps[N.MANAGE_LOBBY] == Capability(False, W.NOT_APPLICABLE)
    assert caps[N.RAISE_HAND].is_present is (call_type is CallType.GROUP)
    assert caps[N.REMOVE_PARTICIPANT].is_present is (call_type is CallType.GROUP)
    for name in (N.HANG_UP_FOR_EVERYONE, N.MUTE_OTHERS, N.ADD_TEAMS_USER, N.ADD_PHONE_NUMBER, N.UNMUTE_MIC):
        assert caps[name] == Capability(True, W.CAPABLE), name
    for name in UNSUPPORTED:
        assert caps[name] == Capability(False, W.FEATURE_NOT_SUPPORTED), name


def test_changes_between_two_maps_name_only_what_changed() -> None:
    before = capabilities(R.ATTENDEE, CallType.MEETING)
    after = capabilities(R.PRESENTER, CallType.MEETING)
    change = changes(before, after, CapabilitiesChangeReason.ROLE_CHANGED)
    assert change is not None
    assert set(change.new_value) == {N.MANAGE_LOBBY, N.MUTE_OTHERS, N.REMOVE_PARTICIPANT, N.ADD_TEAMS_USER,
                                     N.ADD_COMMUNICATION_USER, N.ADD_PHONE_NUMBER, N.PSTN_DIAL_OUT}
    # still not present, but now for the user's policy rather than the role
    assert change.new_value[N.PSTN_DIAL_OUT] == Capability(False, W.USER_POLICY_RESTRICTED)
    assert change.old_value[N.MANAGE_LOBBY] == Capability(False, W.ROLE_RESTRICTED)
    assert change.new_value[N.MANAGE_LOBBY] == Capability(True, W.CAPABLE)
    wire = change.to_wire()
    assert wire["reason"] == "RoleChanged" and wire["newValue"]["manageLobby"] == {"isPresent": True,  # type: ignore[index]
                                                                                   "reason": "Capable"}
    assert changes(after, capabilities(R.PRESENTER, CallType.MEETING),
                   CapabilitiesChangeReason.ROLE_CHANGED) is None
    policy = changes(after, capabilities(R.PRESENTER, CallType.MEETING, can_dial_out=True),
                     CapabilitiesChangeReason.USER_POLICY_CHANGED)
    assert policy is not None and set(policy.new_value) == {N.ADD_PHONE_NUMBER, N.PSTN_DIAL_OUT}
