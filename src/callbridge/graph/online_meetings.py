"""``/me/onlineMeetings`` and ``/users/{id}/onlineMeetings``: the online meeting of a calendar event as Graph's
``onlineMeeting`` resource, read by its id or by ``$filter=JoinWebUrl eq '<url>'``, and its settings changed by
the organizer (``PATCH``): ``lobbyBypassSettings``, ``allowedPresenters``, attendee roles, subject and times.

The id is Graph's: base64 of ``1*<organizer object id>*0**<thread id>``, so it names the meeting without a
column of its own. Delegated callers see meetings they organize or are invited to (their own ``/users/{id}``
only); an application token (``OnlineMeetings.Read.All``/``ReadWrite.All``) those of any user of its tenant.
Only the organizer (or an application with ``OnlineMeetings.ReadWrite.All``) may change one: 403 otherwise.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from callbridge.directory.values import is_guid
from callbridge.graph import meetings
from callbridge.graph.auth import Caller
from callbridge.graph.calendar import apply_lobby_bypass
from callbridge.graph.errors import GraphError, access_denied, bad_request, user_not_found
from callbridge.meetings.locators import MeetingIdLocator, parse_join_link
from callbridge.meetings.refusals import MeetingRefused
from callbridge.store.db import ReadSession
from callbridge.store.models import Event, EventAttendee, User

READ = {"OnlineMeetings.Read", "OnlineMeetings.ReadWrite"}
WRITE = {"OnlineMeetings.ReadWrite"}
APP_READ = {"OnlineMeetings.Read.All", "OnlineMeetings.ReadWrite.All"}
APP_WRITE = {"OnlineMeetings.ReadWrite.All"}
MAX_ID = 512
MAX_ATTENDEES = 500
_ID = re.compile(r"1\*([0-9A-Fa-f-]{36})\*0\*\*(19:[^*]{1,200})")
_FILTER = re.compile(r"\s*joinWebUrl\s+eq\s+'((?:[^']|'')*)'\s*", re.IGNORECASE)


@dataclass(frozen=True)
class MeetingContext:
    base_url: str
    toll_number: str | None


def meeting_id(event: Event) -> str:
    raw = f"1*{event.organizer_id}*0**{event.meeting_thread_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _parse_id(raw: str) -> tuple[str, str] | None:
    if len(raw) > MAX_ID:
        return None
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    match = _ID.fullmatch(text)
    return (match.group(1).lower(), match.group(2)) if match else None


def not_found() -> GraphError:
    return GraphError(404, "NotFound", "The online meeting was not found.")


async def owner_of(s: ReadSession, caller: Caller, owner_ref: str | None) -> str:
    """The user whose meetings the path names (``/me``: None): a delegated caller only their own."""
    if owner_ref is None:
        return caller.me()
    user = await s.scalar(select(User).where(User.tenant_id == caller.tenant_id,
                                             User.id == owner_ref.lower() if is_guid(owner_ref)
                                             else User.user_principal_name == owner_ref.lower()))
    if user is None:
        raise user_not_found(owner_ref[:100])
    if not caller.is_app and user.id != caller.user_id:
        raise access_denied("A delegated caller can only read its own online meetings.", "Forbidden")
    return str(user.id)


def _sees(event: Event, owner: str) -> bool:
    return event.organizer_id == owner or any(a.user_id == owner for a in event.attendees)


async def meeting_of(s: ReadSession, caller: Caller, owner: str, raw_id: str) -> Event:
    caller.require(READ, APP_READ)
    parsed = _parse_id(raw_id)
    if parsed is None:
        raise not_found()
    organizer, thread = parsed
    event: Event | None = await s.scalar(select(Event).where(Event.meeting_thread_id == thread,
                                                             Event.organizer_id == organizer,
                                                             Event.tenant_id == caller.tenant_id))
    if event is None or not event.is_online_meeting or not _sees(event, owner):
        raise not_found()
    return event


async def by_join_url(s: ReadSession, caller: Caller, owner: str, filter_: str | None, base_url: str) -> list[Event]:
    """``$filter=JoinWebUrl eq '<url>'`` (the only filter Graph offers here); a link that is not one of this
    deployment's meetings matches nothing."""
    caller.require(READ, APP_READ)
    match = _FILTER.fullmatch(filter_ or "")
    if match is None:
        raise bad_request("Filter expression expected - /onlineMeetings?$filter=JoinWebUrl eq 'joinUrl'.")
    try:
        locator = parse_join_link(match.group(1).replace("''", "'"), base_url)
    except MeetingRefused:
        return []
    if isinstance(locator, MeetingIdLocator):
        where = Event.join_meeting_id == locator.join_meeting_id
    else:
        where = Event.meeting_thread_id == locator.thread_id
    event: Event | None = await s.scalar(select(Event).where(where, Event.tenant_id == caller.tenant_id))
    if event is None or not event.is_online_meeting or not _sees(event, owner):
        return []
    if isinstance(locator, MeetingIdLocator) and event.passcode != locator.passcode:
        return []
    return [event]


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}0000Z"


async def _people(s: ReadSession, event: Event) -> dict[str, Any]:
    ids = {event.organizer_id} | {a.user_id for a in event.attendees if a.user_id}
    rows = await s.execute(select(User.id, User.display_name, User.user_principal_name, User.tenant_id)
                           .where(User.id.in_(ids)))
    return {row.id: row for row in rows.all()}


def _participant(upn: str, role: str, person: Any) -> dict[str, Any]:
    user = ({"id": person.id, "displayName": person.display_name, "tenantId": person.tenant_id,
             "identityProvider": "AAD"} if person is not None else None)
    return {"upn": upn, "role": role, "identity": {"user": user}}


async def to_graph(s: ReadSession, event: Event, ctx: MeetingContext) -> dict[str, Any]:
    people = await _people(s, event)
    organizer = people.get(event.organizer_id)
    toll = ctx.toll_number
    return {
        "id": meeting_id(event),
        "creationDateTime": _stamp(event.created_at),
        "startDateTime": _stamp(event.start_at),
        "endDateTime": _stamp(event.end_at),
        "subject": event.subject,
        "joinWebUrl": event.join_url,
        "videoTeleconferenceId": None,
        "externalId": None,
        "isEntryExitAnnounced": False,
        "allowedPresenters": event.allowed_presenters,
        "lobbyBypassSettings": {"scope": event.lobby_bypass_scope, "isDialInBypassEnabled": event.dial_in_bypass},
        "joinMeetingIdSettings": {"isPasscodeRequired": True, "joinMeetingId": event.join_meeting_id,
                                  "passcode": event.passcode},
        "audioConferencing": {"conferenceId": event.conference_id, "tollNumber": toll, "tollFreeNumber": None,
                              "tollNumbers": [toll] if toll else [], "tollFreeNumbers": [], "dialinUrl": None},
        "chatInfo": {"threadId": event.meeting_thread_id, "messageId": "0", "replyChainMessageId": None},
        "participants": {
            "organizer": _participant(organizer.user_principal_name if organizer else "", "presenter", organizer),
            "attendees": [_participant(a.email, a.role, people.get(a.user_id or "")) for a in event.attendees],
        },
    }


async def update(s: AsyncSession, caller: Caller, owner: str, raw_id: str, body: Any, now: datetime) -> Event:
    """The organizer's ``PATCH`` (in one transaction: a bad setting rolls back those applied before it)."""
    caller.require(WRITE, APP_WRITE)
    event = await meeting_of(s, caller, owner, raw_id)
    if event.organizer_id != owner:
        raise access_denied("Only the organizer of the meeting can change it.", "Forbidden")
    if not isinstance(body, dict):
        raise bad_request("The request body must be an onlineMeeting.")
    _apply_settings(event, body)
    participants = body.get("participants")
    if participants is not None:
        await _apply_roles(s, event, participants)
    event.modified_at = now
    await s.flush()
    return event


def _apply_settings(event: Event, body: dict[str, Any]) -> None:
    if "lobbyBypassSettings" in body:
        if not isinstance(body["lobbyBypassSettings"], dict):
            raise bad_request("'lobbyBypassSettings' must be an object.")
        apply_lobby_bypass(event, body["lobbyBypassSettings"])
    if "allowedPresenters" in body:
        if body["allowedPresenters"] not in meetings.PRESENTERS:
            raise bad_request(f"'allowedPresenters' must be one of {', '.join(meetings.PRESENTERS)}.")
        event.allowed_presenters = str(body["allowedPresenters"])
    if "subject" in body:
        if not isinstance(body["subject"], str) or len(body["subject"]) > 255:
            raise bad_request("'subject' must be text of at most 255 characters.")
        event.subject = body["subject"]
    start = _moment(body, "startDateTime", event.start_at)
    end = _moment(body, "endDateTime", event.end_at)
    if end <= start:
        raise bad_request("The meeting must end after it starts.")
    event.start_at, event.end_at = start, end


def _moment(body: dict[str, Any], key: str, default: datetime) -> datetime:
    if key not in body:
        return default
    value = body[key]
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or len(value) > 40:
        raise bad_request(f"'{key}' must be a date and time with its offset, e.g. 2026-12-07T09:00:00Z.")
    return moment.astimezone(UTC)


async def _apply_roles(s: AsyncSession, event: Event, participants: Any) -> None:
    """``participants.attendees``: the role of each listed attendee (inviting those not invited yet); those not
    listed keep their invitation, as attendees."""
    raw = participants.get("attendees") if isinstance(participants, dict) else None
    if not isinstance(raw, list) or len(raw) > MAX_ATTENDEES:
        raise bad_request(f"'participants.attendees' must be a list of at most {MAX_ATTENDEES} attendees.")
    wanted = [await _attendee(s, event.tenant_id, item) for item in raw]
    by_email = {a.email: a for a in event.attendees}
    for attendee in event.attendees:
        attendee.role = "attendee"
    for email, user_id, role in wanted:
        current = by_email.get(email) or next((a for a in event.attendees if user_id and a.user_id == user_id), None)
        if current is None:
            current = EventAttendee(email=email, position=len(event.attendees), name=email, kind="required",
                                    user_id=user_id)
            event.attendees.append(current)
            by_email[email] = current
        current.role = role


async def _attendee(s: AsyncSession, tenant_id: str, item: Any) -> tuple[str, str | None, str]:
    """An attendee resolved to a user of the organizer's tenant (as the event's attendees are); another tenant's
    user stays an address: the answer must not tell the organizer about other tenants' users."""
    if not isinstance(item, dict):
        raise bad_request("Each attendee is an object with 'upn' or 'identity.user.id', and 'role'.")
    role = item.get("role", "attendee")
    if role not in meetings.ATTENDEE_ROLES:
        raise bad_request(f"An attendee's 'role' must be one of {', '.join(meetings.ATTENDEE_ROLES)}.")
    identity = item.get("identity")
    user_ref = identity.get("user") if isinstance(identity, dict) else None
    user_id = user_ref.get("id") if isinstance(user_ref, dict) else None
    upn = item.get("upn")
    if not (isinstance(user_id, str) and is_guid(user_id)) and not (isinstance(upn, str) and "@" in upn
                                                                      and len(upn) <= 256):
        raise bad_request("Each attendee needs 'upn' or 'identity.user.id'.")
    conditions = []
    if isinstance(user_id, str) and is_guid(user_id):
        conditions.append(User.id == user_id.lower())
    if isinstance(upn, str):
        conditions += [User.user_principal_name == upn.lower(), User.mail == upn.lower()]
    user = await s.scalar(select(User).where(User.tenant_id == tenant_id, or_(*conditions)).limit(1))
    if user is not None:
        return str(user.mail or user.user_principal_name), str(user.id), str(role)
    if not isinstance(upn, str):
        raise bad_request("No user has this 'identity.user.id'.")
    return upn.lower(), None, str(role)
