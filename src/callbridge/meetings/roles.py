"""Roles in a meeting and what each role may do: ACS's ``ParticipantRole`` and ``Features.Capabilities``
(names and reasons as ``@azure/communication-calling`` spells them, so apps gate their UI unchanged).

A role follows from the event (``role_of``): the organizer is ``Organizer``; an invited member of the organizer's
tenant with Graph role ``coorganizer`` is ``Co-organizer`` (Teams allows co-organizers only from the organizer's
organisation: a guest or federated invitee with that role counts as a presenter invitation); the rest by the
meeting's ``allowedPresenters``:

| allowedPresenters | Presenter | Attendee |
|---|---|---|
| everyone | every joiner but phone callers | phone callers |
| organization | members and guest accounts of the organizer's tenant | everyone else |
| roleIsPresenter | invitees whose Graph role is presenter (or a coorganizer role not honoured) | everyone else |
| organizer | nobody else | everyone else |

Capabilities (``capabilities``) are a pure function of the role, the call type and the user's phone policy: the
``MEETING`` table lists the roles capable of each; a role outside it gets ``RoleRestricted``; what callbridge has
no media or feature for (video, screen sharing, captions, reactions, breakout rooms...) is ``FeatureNotSupported``
for everyone; a meeting-only capability in a 1:1 or group call is ``CapabilityNotApplicableForTheCallType``; a
role not known yet (``Unknown``) gets ``NotInitialized``; phone numbers without a dial-out policy are
``UserPolicyRestricted``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from callbridge.calling.states import ParticipantRole
from callbridge.meetings.lobby import Joiner, JoinerKind
from callbridge.meetings.model import AllowedPresenters, AttendeeRole, Meeting


class CallType(StrEnum):
    MEETING = "meeting"
    ONE_TO_ONE = "oneToOne"
    GROUP = "groupCall"


class CapabilityName(StrEnum):
    TURN_VIDEO_ON = "turnVideoOn"
    UNMUTE_MIC = "unmuteMic"
    SHARE_SCREEN = "shareScreen"
    REMOVE_PARTICIPANT = "removeParticipant"
    HANG_UP_FOR_EVERYONE = "hangUpForEveryOne"
    ADD_COMMUNICATION_USER = "addCommunicationUser"
    ADD_TEAMS_USER = "addTeamsUser"
    ADD_PHONE_NUMBER = "addPhoneNumber"
    MANAGE_LOBBY = "manageLobby"
    SPOTLIGHT_PARTICIPANT = "spotlightParticipant"
    REMOVE_PARTICIPANTS_SPOTLIGHT = "removeParticipantsSpotlight"
    BLUR_BACKGROUND = "blurBackground"
    START_LIVE_MEETING_CAPTIONS = "startLiveMeetingCaptions"
    START_LIVE_CALLING_CAPTIONS = "startLiveCallingCaptions"
    SET_CAPTION_LANGUAGE = "setCaptionLanguage"
    RAISE_HAND = "raiseHand"
    PSTN_DIAL_OUT = "pstnDialOut"
    MUTE_OTHERS = "muteOthers"
    USE_REACTIONS = "useReactions"
    VIEW_ATTENDEE_NAMES = "viewAttendeeNames"
    START_TOGETHER_MODE = "startTogetherMode"
    JOIN_BREAKOUT_ROOMS = "joinBreakoutRooms"
    FORBID_OTHERS_AUDIO = "forbidOthersAudio"
    FORBID_OTHERS_VIDEO = "forbidOthersVideo"
    REAL_TIME_TEXT = "realTimeText"


class CapabilityReason(StrEnum):
    CAPABLE = "Capable"
    NOT_APPLICABLE = "CapabilityNotApplicableForTheCallType"
    CLIENT_RESTRICTED = "ClientRestricted"
    USER_POLICY_RESTRICTED = "UserPolicyRestricted"
    ROLE_RESTRICTED = "RoleRestricted"
    FEATURE_NOT_SUPPORTED = "FeatureNotSupported"
    MEETING_RESTRICTED = "MeetingRestricted"
    NOT_INITIALIZED = "NotInitialized"


class CapabilitiesChangeReason(StrEnum):
    ROLE_CHANGED = "RoleChanged"
    USER_POLICY_CHANGED = "UserPolicyChanged"
    MEETING_OPTION_OR_ORGANIZER_POLICY_CHANGED = "MeetingOptionOrOrganizerPolicyChanged"


@dataclass(frozen=True)
class Capability:
    is_present: bool
    reason: CapabilityReason

    def to_wire(self) -> dict[str, bool | str]:
        return {"isPresent": self.is_present, "reason": self.reason.value}


Capabilities = Mapping[CapabilityName, Capability]
R = ParticipantRole
N = CapabilityName
_LEADERS = frozenset({R.ORGANIZER, R.CO_ORGANIZER, R.PRESENTER})
_EVERY_ROLE = frozenset(set(R) - {R.UNKNOWN})

# Meetings: the roles capable of each capability callbridge supports.
MEETING: Mapping[CapabilityName, frozenset[ParticipantRole]] = {
    N.MANAGE_LOBBY: _LEADERS,
    N.HANG_UP_FOR_EVERYONE: frozenset({R.ORGANIZER, R.CO_ORGANIZER}),
    N.MUTE_OTHERS: _LEADERS,
    N.REMOVE_PARTICIPANT: _LEADERS,
    N.ADD_TEAMS_USER: _LEADERS,
    N.ADD_COMMUNICATION_USER: _LEADERS,
    N.ADD_PHONE_NUMBER: _LEADERS,
    N.PSTN_DIAL_OUT: _LEADERS,
    N.RAISE_HAND: _EVERY_ROLE,
    N.UNMUTE_MIC: _EVERY_ROLE - {R.CONSUMER},
    N.VIEW_ATTENDEE_NAMES: _EVERY_ROLE,
}
# 1:1 and group calls: capable for any party (roles are a meeting notion), or not applicable to the call type.
CALLS: Mapping[CapabilityName, frozenset[CallType]] = {
    N.HANG_UP_FOR_EVERYONE: frozenset({CallType.ONE_TO_ONE, CallType.GROUP}),
    N.MUTE_OTHERS: frozenset({CallType.ONE_TO_ONE, CallType.GROUP}),
    N.REMOVE_PARTICIPANT: frozenset({CallType.GROUP}),
    N.ADD_TEAMS_USER: frozenset({CallType.ONE_TO_ONE, CallType.GROUP}),
    N.ADD_COMMUNICATION_USER: frozenset({CallType.ONE_TO_ONE, CallType.GROUP}),
    N.ADD_PHONE_NUMBER: frozenset({CallType.ONE_TO_ONE, CallType.GROUP}),
    N.PSTN_DIAL_OUT: frozenset({CallType.ONE_TO_ONE, CallType.GROUP}),
    N.RAISE_HAND: frozenset({CallType.GROUP}),
    N.UNMUTE_MIC: frozenset({CallType.ONE_TO_ONE, CallType.GROUP}),
    N.VIEW_ATTENDEE_NAMES: frozenset({CallType.ONE_TO_ONE, CallType.GROUP}),
}
NEEDS_DIAL_OUT = frozenset({N.ADD_PHONE_NUMBER, N.PSTN_DIAL_OUT})


def role_of(meeting: Meeting, joiner: Joiner) -> ParticipantRole:
    """The role ``joiner`` has in ``meeting`` (see the module's table)."""
    if joiner.kind is JoinerKind.ORGANIZER:
        return R.ORGANIZER
    if joiner.kind is JoinerKind.UNFEDERATED:
        return R.UNKNOWN
    invitation = meeting.invitee(joiner.user_id, joiner.email)
    invited_as = invitation.role if invitation else AttendeeRole.ATTENDEE
    if invited_as is AttendeeRole.COORGANIZER and joiner.kind is JoinerKind.MEMBER:
        return R.CO_ORGANIZER
    presenters = meeting.allowed_presenters
    if presenters is AllowedPresenters.EVERYONE:
        return R.ATTENDEE if joiner.kind is JoinerKind.PHONE else R.PRESENTER
    if presenters is AllowedPresenters.ORGANIZATION:
        return R.PRESENTER if joiner.kind in (JoinerKind.MEMBER, JoinerKind.TENANT_GUEST) else R.ATTENDEE
    if presenters is AllowedPresenters.ROLE_IS_PRESENTER and invited_as is not AttendeeRole.ATTENDEE:
        return R.PRESENTER
    return R.ATTENDEE


def _one(name: CapabilityName, role: ParticipantRole, call_type: CallType, can_dial_out: bool) -> Capability:
    if call_type is CallType.MEETING:
        if name not in MEETING:
            return Capability(False, CapabilityReason.FEATURE_NOT_SUPPORTED)
        if role is R.UNKNOWN:
            return Capability(False, CapabilityReason.NOT_INITIALIZED)
        if role not in MEETING[name]:
            return Capability(False, CapabilityReason.ROLE_RESTRICTED)
    elif name not in CALLS:
        reason = (CapabilityReason.NOT_APPLICABLE if name in MEETING
                  else CapabilityReason.FEATURE_NOT_SUPPORTED)
        return Capability(False, reason)
    elif call_type not in CALLS[name]:
        return Capability(False, CapabilityReason.NOT_APPLICABLE)
    if name in NEEDS_DIAL_OUT and not can_dial_out:
        return Capability(False, CapabilityReason.USER_POLICY_RESTRICTED)
    return Capability(True, CapabilityReason.CAPABLE)


def capabilities(role: ParticipantRole, call_type: CallType, *, can_dial_out: bool = False) -> Capabilities:
    """Every capability ACS names, for ``role`` in a call of ``call_type``; ``can_dial_out``: the user's phone
    policy lets them call phone numbers (a Teams Phone licence, enterprise voice and a number)."""
    return {name: _one(name, role, call_type, can_dial_out) for name in CapabilityName}


@dataclass(frozen=True)
class CapabilitiesChange:
    """ACS ``capabilitiesChanged``: only the capabilities that changed, before and after."""

    old_value: Capabilities
    new_value: Capabilities
    reason: CapabilitiesChangeReason

    def to_wire(self) -> dict[str, object]:
        return {"oldValue": to_wire(self.old_value), "newValue": to_wire(self.new_value),
                "reason": self.reason.value}


def changes(old: Capabilities, new: Capabilities, reason: CapabilitiesChangeReason) -> CapabilitiesChange | None:
    """What changed between two maps (None when nothing did)."""
    names = [n for n in CapabilityName if old.get(n) != new.get(n)]
    if not names:
        return None
    return CapabilitiesChange({n: old[n] for n in names if n in old}, {n: new[n] for n in names if n in new}, reason)


def to_wire(caps: Capabilities) -> dict[str, dict[str, bool | str]]:
    return {name.value: cap.to_wire() for name, cap in caps.items()}
