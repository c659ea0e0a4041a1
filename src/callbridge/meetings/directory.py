"""The meetings of the directory as the calling service asks about them (``calling.meeting.Meetings``): the
meeting a link, an id and passcode or a conference id names, and how a joiner comes in (the lobby decision and
the role), or a refusal with its code (``meetings/refusals.py``)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from callbridge.calling.call import CallError
from callbridge.calling.events import Capability
from callbridge.calling.identifiers import Kind, parse_raw_id
from callbridge.calling.meeting import Admission, MeetingFacts
from callbridge.calling.states import ParticipantRole
from callbridge.meetings import lobby, roles
from callbridge.meetings.locators import (
    MeetingLocator,
    ThreadLocator,
    parse_conference_id,
    parse_join_link,
    parse_meeting_id,
)
from callbridge.meetings.lookup import find_meeting
from callbridge.meetings.model import Meeting
from callbridge.meetings.refusals import MeetingRefusal, MeetingRefused
from callbridge.store.db import Database
from callbridge.store.models import Tenant, User


class MeetingRoles:
    """``calling.meeting.Roles`` from the meeting role table (``meetings/roles.py``)."""

    def __init__(self, can_dial_out: bool) -> None:
        self.can_dial_out = can_dial_out

    def capabilities(self, role: ParticipantRole) -> tuple[Capability, ...]:
        table = roles.capabilities(role, roles.CallType.MEETING, can_dial_out=self.can_dial_out)
        return tuple(Capability(name.value, c.is_present, c.reason.value) for name, c in table.items())


class MeetingDirectory:
    def __init__(self, db: Database, base_url: str, toll_number: str | None, lobby_timeout: timedelta,
                 can_dial_out: bool = True) -> None:
        self.db, self.base_url, self.toll_number = db, base_url, toll_number
        self.lobby_timeout = lobby_timeout
        self.roles = MeetingRoles(can_dial_out)

    async def admission(self, joiner_raw_id: str, *, meeting_link: str | None, meeting_id: str | None,
                        passcode: str | None, display_name: str | None) -> Admission:
        try:
            locator: MeetingLocator = parse_join_link(meeting_link, self.base_url) if meeting_link is not None \
                else parse_meeting_id(meeting_id or "", passcode)
            meeting = await find_meeting(self.db, locator)
            who, name, tenant = await self._who(joiner_raw_id, display_name)
            return self._decide(meeting, who, name, tenant)
        except MeetingRefused as refused:
            raise _refusal(refused) from None

    async def phone_admission(self, caller_raw_id: str, conference_id: str) -> Admission:
        try:
            meeting = await find_meeting(self.db, parse_conference_id(conference_id))
            number = caller_raw_id.removeprefix("4:")
            return self._decide(meeting, lobby.PhoneCaller(number), number, meeting.tenant_id)
        except MeetingRefused as refused:
            raise _refusal(refused) from None

    async def roles_now(self, thread_id: str, parties: list[tuple[str, str]]) -> dict[str, ParticipantRole]:
        try:
            meeting = await find_meeting(self.db, ThreadLocator(thread_id))
        except MeetingRefused:
            return {}
        roles: dict[str, ParticipantRole] = {}
        for participant_id, raw_id in parties:
            who: lobby.Who
            if parse_raw_id(raw_id).kind is Kind.PHONE_NUMBER:
                who = lobby.PhoneCaller(raw_id.removeprefix("4:"))
            else:
                try:
                    who, _, _ = await self._who(raw_id, "guest")
                except MeetingRefused:
                    continue
            try:
                roles[participant_id] = roles_of(meeting, who)
            except MeetingRefused:  # no longer one who may join: its role stays (the lobby rules are for joining)
                continue
        return roles

    def _decide(self, meeting: Meeting, who: lobby.Who, name: str | None, tenant: str | None) -> Admission:
        joiner, decision = lobby.admission(meeting, who)
        facts = MeetingFacts(meeting.thread_id, meeting.conference_id, self.toll_number, meeting.organizer_id)
        return Admission(facts, roles.role_of(meeting, joiner), decision is lobby.Admission.LOBBY,
                         joiner.display_name or name, tenant)

    async def _who(self, raw_id: str, display_name: str | None) -> tuple[lobby.Who, str | None, str | None]:
        """The joiner as the lobby rules see it: a Teams user as the directory has them now, or a guest with the
        name it gave. Returns (who, display name, tenant)."""
        identifier = parse_raw_id(raw_id)
        if identifier.kind is not Kind.TEAMS_USER:
            return lobby.CommunicationGuest(raw_id, display_name), display_name, None
        user_id = identifier.value
        async with self.db.reading() as s:
            row = (await s.execute(
                select(User.id, User.tenant_id, User.display_name, User.mail, User.user_principal_name,
                       User.user_type, Tenant.federation_enabled)
                .join(Tenant, Tenant.id == User.tenant_id).where(User.id == user_id))).first()
        if row is None:
            raise MeetingRefused(MeetingRefusal.NOT_FEDERATED)
        who = lobby.TeamsUser(row.id, row.tenant_id, bool(row.federation_enabled), row.user_type == "Guest",
                              row.mail or row.user_principal_name)
        return who, row.display_name, row.tenant_id


def roles_of(meeting: Meeting, who: lobby.Who) -> ParticipantRole:
    return roles.role_of(meeting, lobby.classify(meeting, who))


def _refusal(refused: MeetingRefused) -> CallError:
    reason = refused.refusal.reason
    return CallError(reason.code, reason.sub_code, refused.message)
