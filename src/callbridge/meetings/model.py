"""A scheduled meeting as the meeting service sees it: the calendar event's online meeting, read once from the
store (``lookup``) into frozen values, so the lobby and role decisions are pure functions of these.

The vocabularies are Microsoft Graph's (``lobbyBypassSettings.scope``, ``allowedPresenters``,
``meetingParticipantInfo.role``): the values are stored and served as Graph spells them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class LobbyScope(StrEnum):
    """Graph ``lobbyBypassScope``: who joins without waiting in the lobby."""

    ORGANIZER = "organizer"
    ORGANIZATION = "organization"
    ORGANIZATION_AND_FEDERATED = "organizationAndFederated"
    EVERYONE = "everyone"
    INVITED = "invited"
    ORGANIZATION_EXCLUDING_GUESTS = "organizationExcludingGuests"


class AllowedPresenters(StrEnum):
    """Graph ``onlineMeetingPresenters``: who is a presenter."""

    EVERYONE = "everyone"
    ORGANIZATION = "organization"
    ROLE_IS_PRESENTER = "roleIsPresenter"
    ORGANIZER = "organizer"


class AttendeeRole(StrEnum):
    """Graph ``onlineMeetingRole`` of an invited attendee (``producer`` is a live-event role: not offered)."""

    ATTENDEE = "attendee"
    PRESENTER = "presenter"
    COORGANIZER = "coorganizer"


@dataclass(frozen=True)
class LobbySettings:
    scope: LobbyScope = LobbyScope.ORGANIZATION
    dial_in_bypass: bool = False


@dataclass(frozen=True)
class Invitee:
    """An attendee of the event: by address, and by user id when the address is a user's of the directory."""

    email: str
    user_id: str | None
    role: AttendeeRole = AttendeeRole.ATTENDEE


@dataclass(frozen=True)
class Meeting:
    event_id: str
    tenant_id: str
    organizer_id: str
    thread_id: str
    subject: str
    join_url: str
    conference_id: str | None
    join_meeting_id: str | None
    start_at: datetime
    end_at: datetime
    lobby: LobbySettings
    allowed_presenters: AllowedPresenters
    invitees: tuple[Invitee, ...]
    organizer_tenant_federates: bool
    organizer_tenant_interop: bool

    def invitee(self, user_id: str | None, email: str | None = None) -> Invitee | None:
        """The invitation of this user, by object id (case-insensitively) or, for an invitee the event could not
        resolve to a user of its tenant (a federated user), by address."""
        wanted = user_id.lower() if user_id else None
        address = email.lower() if email else None
        if wanted is None and address is None:
            return None
        return next((i for i in self.invitees
                     if (wanted and i.user_id and i.user_id.lower() == wanted)
                     or (address and i.user_id is None and i.email == address)), None)

    def is_organizer(self, user_id: str | None) -> bool:
        return user_id is not None and user_id.lower() == self.organizer_id.lower()
