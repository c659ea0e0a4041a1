"""Finding the meeting a locator names: the calendar event with an online meeting, read once into a frozen
``Meeting`` (with its organizer tenant's federation and interop settings, which the lobby decision needs).

Refusals (``refusals.py``): an unknown thread or conference id is ``NOT_FOUND``; a meeting id whose passcode is
wrong and a meeting id that does not exist are one answer, ``WRONG_ID_OR_PASSCODE``, and take the same work
(the passcode is compared in constant time with the meeting's, or with a stand-in when there is none); a
cancelled event is ``CANCELLED``; a deleted one is ``DELETED`` (``deleted_meetings`` keeps what is needed to
say so; by meeting id only when the passcode is right). An event whose online meeting was turned off
(``isOnlineMeeting`` false) is not a meeting any more: not found.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select

from callbridge.meetings.locators import ConferenceIdLocator, MeetingIdLocator, MeetingLocator, ThreadLocator
from callbridge.meetings.model import (
    AllowedPresenters,
    AttendeeRole,
    Invitee,
    LobbyScope,
    LobbySettings,
    Meeting,
)
from callbridge.meetings.refusals import MeetingRefusal, MeetingRefused
from callbridge.store.db import Database, ReadSession
from callbridge.store.models import DeletedMeeting, Event, Tenant

E = TypeVar("E", LobbyScope, AllowedPresenters, AttendeeRole)
_STAND_IN = secrets.token_hex(3)  # as long as a passcode: compared against when no meeting has the id
_MAX_SAME_CONFERENCE = 8


async def find_meeting(db: Database, locator: MeetingLocator) -> Meeting:
    """The meeting ``locator`` names (from ``locators.parse_*``), or ``MeetingRefused``."""
    if isinstance(locator, ThreadLocator):
        return await by_thread(db, locator)
    if isinstance(locator, MeetingIdLocator):
        return await by_meeting_id(db, locator)
    return await by_conference_id(db, locator)


def _query(where: ColumnElement[bool]) -> Any:
    return (select(Event, Tenant.federation_enabled, Tenant.acs_interop_enabled)
            .join(Tenant, Tenant.id == Event.tenant_id).where(where))


async def _rows(s: ReadSession, where: ColumnElement[bool], limit: int = 1) -> list[Any]:
    return list((await s.execute(_query(where).order_by(Event.start_at.desc()).limit(limit))).all())


async def by_thread(db: Database, locator: ThreadLocator) -> Meeting:
    async with db.reading() as s:
        rows = await _rows(s, Event.meeting_thread_id == locator.thread_id)
        if rows and _context_matches(rows[0][0], locator):
            return _live(rows[0])
        if not rows and await s.get(DeletedMeeting, locator.thread_id) is not None:
            raise MeetingRefused(MeetingRefusal.DELETED)
    raise MeetingRefused(MeetingRefusal.NOT_FOUND)


def _context_matches(event: Event, locator: ThreadLocator) -> bool:
    """A link's ``context`` must name the event's tenant and organizer: a link with the right thread and another
    tenant is not this meeting's."""
    return ((locator.tenant_id is None or locator.tenant_id == event.tenant_id.lower())
            and (locator.organizer_id is None or locator.organizer_id == event.organizer_id.lower()))


async def by_meeting_id(db: Database, locator: MeetingIdLocator) -> Meeting:
    """The same two reads and one passcode comparison whether or not the id exists, live or deleted."""
    async with db.reading() as s:
        rows = await _rows(s, Event.join_meeting_id == locator.join_meeting_id)
        gone = await s.scalar(select(DeletedMeeting)
                              .where(DeletedMeeting.join_meeting_id == locator.join_meeting_id).limit(1))
    expected = rows[0][0].passcode if rows else (gone.passcode if gone is not None else None)
    if _passcode_matches(locator.passcode, expected):
        if rows:
            return _live(rows[0])
        raise MeetingRefused(MeetingRefusal.DELETED)
    raise MeetingRefused(MeetingRefusal.WRONG_ID_OR_PASSCODE)


def _passcode_matches(given: str, expected: str | None) -> bool:
    """Constant time in the passcode's content; the same work with a stand-in when there is no meeting."""
    match = hmac.compare_digest(given.encode(), (expected or _STAND_IN).encode())
    return match and expected is not None


async def by_conference_id(db: Database, locator: ConferenceIdLocator) -> Meeting:
    """By dial-in conference id. Conference ids are unique among live meetings (``graph/calendar.py`` picks a
    free one); should two events share one (a race), the live one starting latest wins."""
    async with db.reading() as s:
        rows = await _rows(s, Event.conference_id == locator.conference_id, _MAX_SAME_CONFERENCE)
        live = [r for r in rows if r[0].is_online_meeting and not r[0].is_cancelled]
        if live:
            return _live(live[0])
        if rows:
            return _live(rows[0])  # refuses: cancelled, or not a meeting any more
        if await s.scalar(select(DeletedMeeting.thread_id)
                          .where(DeletedMeeting.conference_id == locator.conference_id).limit(1)):
            raise MeetingRefused(MeetingRefusal.DELETED)
    raise MeetingRefused(MeetingRefusal.NOT_FOUND)


def _live(row: Any) -> Meeting:
    event, federates, interop = row
    if not event.is_online_meeting or not event.join_url or not event.meeting_thread_id:
        raise MeetingRefused(MeetingRefusal.NOT_FOUND)
    if event.is_cancelled:
        raise MeetingRefused(MeetingRefusal.CANCELLED)
    return to_meeting(event, bool(federates), bool(interop))


def to_meeting(event: Event, organizer_tenant_federates: bool, organizer_tenant_interop: bool) -> Meeting:
    """The frozen view of an event's online meeting (stored values are checked on write; an unknown one reads as
    the default rather than failing a join)."""
    return Meeting(
        event_id=event.id, tenant_id=event.tenant_id, organizer_id=event.organizer_id,
        thread_id=event.meeting_thread_id or "", subject=event.subject, join_url=event.join_url or "",
        conference_id=event.conference_id, join_meeting_id=event.join_meeting_id,
        start_at=event.start_at, end_at=event.end_at,
        lobby=LobbySettings(_enum(LobbyScope, event.lobby_bypass_scope, LobbyScope.ORGANIZATION),
                            bool(event.dial_in_bypass)),
        allowed_presenters=_enum(AllowedPresenters, event.allowed_presenters, AllowedPresenters.EVERYONE),
        invitees=tuple(Invitee(a.email, a.user_id, _enum(AttendeeRole, a.role, AttendeeRole.ATTENDEE))
                       for a in event.attendees),
        organizer_tenant_federates=organizer_tenant_federates, organizer_tenant_interop=organizer_tenant_interop,
    )


def _enum(kind: type[E], value: str, default: E) -> E:
    try:
        return kind(value)
    except ValueError:
        return default
