"""Who joins a meeting straight away and who waits in its lobby: the organizer's ``lobbyBypassSettings``
(Graph) judged against the kind of joiner, as one table.

Kinds of joiner (``classify`` sorts a joining identity into one, against the meeting's organizer tenant):

- the organizer; a member user of the organizer's tenant; a guest account of that tenant (a user whose
  ``user_type`` is ``Guest``, as Entra's B2B guests are);
- a Teams user of a federated tenant. Federation in callbridge is the tenant setting ``federation_enabled``
  that calls across tenants already use (docs/protocol.md 403/5223): two tenants federate when both turned it
  on. A Teams user of a tenant that does not federate with the organizer's is refused outright (403/5223), as
  Teams refuses a user whose organisation it has no external access with;
- a communication-user guest (``8:acs:``) with a display name (refused 403/5222 when the organizer's tenant has
  Teams interop off, 400/10125 without a name); a phone caller who dialled in with the conference id.

Then ``decide`` reads ``BYPASS``: the kinds that join at once under each scope. On top of it:
co-organizers (invited members of the organizer's tenant with Graph role ``coorganizer``; see ``roles``) bypass
under every scope (Teams: "Only me and co-organizers"); invited Teams users bypass under
``invited``; phone callers bypass when ``isDialInBypassEnabled`` or under ``everyone``. Everyone else waits
for an organizer, co-organizer or presenter to admit them. ``organization`` counts the tenant's guest accounts
in (``organizationExcludingGuests`` is the scope that leaves them out).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from callbridge.meetings.model import AttendeeRole, LobbyScope, Meeting
from callbridge.meetings.refusals import MeetingRefusal, MeetingRefused

MAX_DISPLAY_NAME = 256


class JoinerKind(StrEnum):
    ORGANIZER = "organizer"
    MEMBER = "member"
    TENANT_GUEST = "tenantGuest"
    FEDERATED = "federated"
    UNFEDERATED = "unfederated"
    ACS_GUEST = "acsGuest"
    PHONE = "phone"


class Admission(StrEnum):
    JOIN = "join"
    LOBBY = "lobby"


@dataclass(frozen=True)
class TeamsUser:
    """A Teams user (``8:orgid:``) as the directory has them now."""

    user_id: str
    tenant_id: str
    tenant_federates: bool
    is_guest_account: bool = False
    email: str | None = None  # mail or userPrincipalName: how an invitation of another tenant's user names them


@dataclass(frozen=True)
class CommunicationGuest:
    raw_id: str  # 8:acs:<resource>_<guid>
    display_name: str | None


@dataclass(frozen=True)
class PhoneCaller:
    number: str  # E.164


Who = TeamsUser | CommunicationGuest | PhoneCaller


@dataclass(frozen=True)
class Joiner:
    kind: JoinerKind
    user_id: str | None = None  # a Teams user's object id
    display_name: str | None = None
    email: str | None = None  # a Teams user's address, lower case


_ORG = frozenset({JoinerKind.ORGANIZER, JoinerKind.MEMBER, JoinerKind.TENANT_GUEST})
BYPASS: Mapping[LobbyScope, frozenset[JoinerKind]] = {
    LobbyScope.ORGANIZER: frozenset({JoinerKind.ORGANIZER}),
    LobbyScope.INVITED: frozenset({JoinerKind.ORGANIZER}),
    LobbyScope.ORGANIZATION_EXCLUDING_GUESTS: frozenset({JoinerKind.ORGANIZER, JoinerKind.MEMBER}),
    LobbyScope.ORGANIZATION: _ORG,
    LobbyScope.ORGANIZATION_AND_FEDERATED: _ORG | {JoinerKind.FEDERATED},
    LobbyScope.EVERYONE: _ORG | {JoinerKind.FEDERATED, JoinerKind.ACS_GUEST, JoinerKind.PHONE},
}


def classify(meeting: Meeting, who: Who) -> Joiner:
    """The kind of joiner ``who`` is for this meeting; refuses those who may not join at all."""
    if isinstance(who, PhoneCaller):
        return Joiner(JoinerKind.PHONE, display_name=who.number)
    if isinstance(who, CommunicationGuest):
        name = (who.display_name or "").strip()
        if not name or len(name) > MAX_DISPLAY_NAME:
            raise MeetingRefused(MeetingRefusal.NO_DISPLAY_NAME)
        if not meeting.organizer_tenant_interop:
            raise MeetingRefused(MeetingRefusal.INTEROP_OFF)
        return Joiner(JoinerKind.ACS_GUEST, display_name=name)
    return Joiner(_teams_kind(meeting, who), user_id=who.user_id.lower(),
                  email=who.email.lower() if who.email else None)


def _teams_kind(meeting: Meeting, who: TeamsUser) -> JoinerKind:
    if meeting.is_organizer(who.user_id):
        return JoinerKind.ORGANIZER
    if who.tenant_id.lower() == meeting.tenant_id.lower():
        return JoinerKind.TENANT_GUEST if who.is_guest_account else JoinerKind.MEMBER
    if who.tenant_federates and meeting.organizer_tenant_federates:
        return JoinerKind.FEDERATED
    return JoinerKind.UNFEDERATED


def decide(meeting: Meeting, joiner: Joiner) -> Admission:
    """Join at once, or wait in the lobby; a joiner of an unfederated tenant is refused (403/5223)."""
    if joiner.kind is JoinerKind.UNFEDERATED:
        raise MeetingRefused(MeetingRefusal.NOT_FEDERATED)
    scope = meeting.lobby.scope
    if joiner.kind in BYPASS[scope]:
        return Admission.JOIN
    if joiner.kind is JoinerKind.PHONE:
        return Admission.JOIN if meeting.lobby.dial_in_bypass else Admission.LOBBY
    invitation = meeting.invitee(joiner.user_id, joiner.email)
    if (invitation is not None and invitation.role is AttendeeRole.COORGANIZER
            and joiner.kind is JoinerKind.MEMBER):
        return Admission.JOIN
    if invitation is not None and scope is LobbyScope.INVITED:
        return Admission.JOIN
    return Admission.LOBBY


def admission(meeting: Meeting, who: Who) -> tuple[Joiner, Admission]:
    """``classify`` then ``decide``: what the meeting service asks when someone joins."""
    joiner = classify(meeting, who)
    return joiner, decide(meeting, joiner)
