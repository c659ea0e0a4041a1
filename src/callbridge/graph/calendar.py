"""``/me/events`` and ``/me/calendar/calendarView``: a user's calendar, with online meetings."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from callbridge.graph import meetings, odata
from callbridge.graph.auth import Caller
from callbridge.graph.errors import GraphError, access_denied, bad_request
from callbridge.graph.paging import PageTokens
from callbridge.graph.query import count_rows
from callbridge.graph.timezones import graph_datetime, parse_graph_datetime, resolve
from callbridge.store.db import ReadSession
from callbridge.store.models import DeletedMeeting, Event, EventAttendee, User

READ = {"Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite"}
WRITE = {"Calendars.ReadWrite"}
APP_READ = {"Calendars.Read", "Calendars.ReadWrite"}
VIEW_PAGE_DEFAULT, VIEW_PAGE_MAX = 10, 1000
SHOW_AS = ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")
IMPORTANCE = ("low", "normal", "high")
ATTENDEE_TYPES = ("required", "optional", "resource")
MAX_WINDOW = timedelta(days=1825)


@dataclass(frozen=True)
class CalendarContext:
    base_url: str
    toll_number: str | None
    zone: str  # the Prefer: outlook.timezone zone, or "UTC"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def event_to_graph(event: Event, organizer: Row[Any], viewer_id: str | None, ctx: CalendarContext) -> dict[str, Any]:
    etag = hashlib.sha256(f"{event.id}{event.modified_at.isoformat()}".encode()).hexdigest()[:16]
    info = meetings.online_meeting_info(event.meeting_thread_id, event.join_url, event.conference_id,
                                        event.join_meeting_id, event.passcode, event.lobby_bypass_scope,
                                        ctx.toll_number, event.dial_in_bypass)
    return {
        "@odata.etag": f'W/"{etag}"',
        "id": event.id,
        "createdDateTime": _stamp(event.created_at),
        "lastModifiedDateTime": _stamp(event.modified_at),
        "subject": event.subject,
        "bodyPreview": event.body_content[:255] if event.body_type == "text" else "",
        "body": {"contentType": event.body_type, "content": event.body_content},
        "start": graph_datetime(event.start_at, ctx.zone),
        "end": graph_datetime(event.end_at, ctx.zone),
        "location": {"displayName": event.location},
        "isAllDay": event.is_all_day,
        "showAs": event.show_as,
        "importance": event.importance,
        "type": "singleInstance",
        "isOrganizer": viewer_id == event.organizer_id,
        "isCancelled": event.is_cancelled,
        "isOnlineMeeting": event.is_online_meeting,
        "onlineMeetingProvider": event.online_provider,
        "onlineMeeting": info,
        "onlineMeetingUrl": None,
        "organizer": {"emailAddress": {"name": organizer.display_name, "address": organizer.mail}},
        "attendees": [{"type": a.kind, "status": {"response": a.response, "time": "0001-01-01T00:00:00Z"},
                       "emailAddress": {"name": a.name, "address": a.email}} for a in event.attendees],
        "webLink": f"{ctx.base_url}/calendar/item/{event.id}",
    }


def _visible_to(user_id: str) -> ColumnElement[bool]:
    invited = select(EventAttendee.event_id).where(EventAttendee.user_id == user_id)
    return or_(Event.organizer_id == user_id, Event.id.in_(invited))


def _text(body: dict[str, Any], key: str, limit: int, default: str = "") -> str:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str) or len(value) > limit:
        raise bad_request(f"'{key}' must be text of at most {limit} characters.", "ErrorInvalidRequest")
    return value


def _choice(body: dict[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    value = body.get(key, default)
    if value not in allowed:
        raise bad_request(f"'{key}' must be one of {', '.join(allowed)}.", "ErrorInvalidRequest")
    return str(value)


async def _attendees(s: AsyncSession, tenant_id: str, raw: Any) -> list[EventAttendee]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > 500:
        raise bad_request("'attendees' must be a list of at most 500 attendees.", "ErrorInvalidRequest")
    out: dict[str, EventAttendee] = {}
    for i, item in enumerate(raw):
        email = item.get("emailAddress") if isinstance(item, dict) else None
        address = email.get("address") if isinstance(email, dict) else None
        if not isinstance(email, dict) or not isinstance(address, str) or "@" not in address or len(address) > 256:
            raise bad_request("Each attendee needs emailAddress.address.", "ErrorInvalidRecipients")
        kind = _choice(item, "type", ATTENDEE_TYPES, "required")
        user = await s.scalar(select(User).where(User.tenant_id == tenant_id,
                                                 or_(User.mail == address.lower(),
                                                     User.user_principal_name == address.lower())))
        given = email.get("name")
        name = given if isinstance(given, str) else (user.display_name if user else address)
        out[address.lower()] = EventAttendee(email=address.lower(), position=i, name=name[:256], kind=kind,
                                             role="attendee", user_id=user.id if user else None)
    return list(out.values())


def _apply_fields(event: Event, body: dict[str, Any]) -> None:
    _apply_text_fields(event, body)
    for key, attr, zone_attr in (("start", "start_at", "start_zone"), ("end", "end_at", "end_zone")):
        if key in body:
            setattr(event, attr, parse_graph_datetime(body[key], key))
            setattr(event, zone_attr, str(body[key].get("timeZone") or "UTC"))
    if "isAllDay" in body:
        event.is_all_day = bool(body["isAllDay"])
    if "showAs" in body:
        event.show_as = _choice(body, "showAs", SHOW_AS, "busy")
    if "importance" in body:
        event.importance = _choice(body, "importance", IMPORTANCE, "normal")
    bypass = body.get("lobbyBypassSettings")
    if isinstance(bypass, dict):
        apply_lobby_bypass(event, bypass)
    if event.end_at <= event.start_at:
        raise bad_request("The end of the event must be after its start.", "ErrorInvalidRequest")


def apply_lobby_bypass(event: Event, bypass: dict[str, Any]) -> None:
    """Graph ``lobbyBypassSettings``: ``scope`` and ``isDialInBypassEnabled``, each only when given."""
    if "scope" in bypass:
        event.lobby_bypass_scope = _choice(bypass, "scope", meetings.LOBBY_SCOPES, "organization")
    if "isDialInBypassEnabled" in bypass:
        if not isinstance(bypass["isDialInBypassEnabled"], bool):
            raise bad_request("'isDialInBypassEnabled' must be true or false.", "ErrorInvalidRequest")
        event.dial_in_bypass = bypass["isDialInBypassEnabled"]


def _apply_text_fields(event: Event, body: dict[str, Any]) -> None:
    if "subject" in body:
        event.subject = _text(body, "subject", 255)
    if "body" in body:
        content = body["body"] if isinstance(body["body"], dict) else {}
        event.body_type = "html" if str(content.get("contentType", "text")).lower() == "html" else "text"
        event.body_content = _text(content, "content", 100_000)
    if "location" in body:
        location = body["location"] if isinstance(body["location"], dict) else {}
        event.location = _text(location, "displayName", 255)


def _apply_meeting(event: Event, body: dict[str, Any], base_url: str) -> None:
    if "onlineMeetingProvider" in body:
        event.online_provider = _choice(body, "onlineMeetingProvider", meetings.PROVIDERS, "unknown")
    if body.get("isOnlineMeeting") is True or (event.is_online_meeting and "isOnlineMeeting" not in body):
        if event.online_provider == "unknown":
            event.online_provider = "teamsForBusiness"
        event.is_online_meeting = True
        if event.join_url is None and event.online_provider == "teamsForBusiness":
            info = meetings.new_meeting(base_url, event.tenant_id, event.organizer_id)
            event.meeting_thread_id, event.join_url = info.thread_id, info.join_url
            event.conference_id, event.join_meeting_id, event.passcode = (info.conference_id,
                                                                          info.join_meeting_id, info.passcode)
    elif body.get("isOnlineMeeting") is False:
        event.is_online_meeting = False


async def create_event(s: AsyncSession, caller: Caller, body: Any, ctx: CalendarContext, now: datetime) -> Event:
    caller.require(WRITE)
    if not isinstance(body, dict):
        raise bad_request("The request body must be an event.", "ErrorInvalidRequest")
    for key in ("start", "end"):
        if key not in body:
            raise bad_request(f"The event needs '{key}'.", "ErrorInvalidRequest")
    event = Event(id=f"AAMkA{secrets.token_urlsafe(45)}", tenant_id=caller.tenant_id, organizer_id=caller.me(),
                  created_at=now, modified_at=now, subject="", body_type="text", body_content="", location="",
                  is_all_day=False, show_as="busy", importance="normal", is_online_meeting=False,
                  online_provider="unknown", lobby_bypass_scope="organization", dial_in_bypass=False,
                  allowed_presenters="everyone", is_cancelled=False)
    _apply_fields(event, body)
    _apply_meeting(event, body, ctx.base_url)
    await _free_conference_id(s, event)
    event.attendees = await _attendees(s, caller.tenant_id, body.get("attendees"))
    s.add(event)
    await s.flush()
    return event


async def visible_event(s: ReadSession, caller: Caller, event_id: str) -> Event:
    caller.require(READ)
    event: Event | None = await s.scalar(select(Event).where(Event.id == event_id, Event.tenant_id == caller.tenant_id,
                                               _visible_to(caller.me())))
    if event is None:
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    return event


async def update_event(s: AsyncSession, caller: Caller, event_id: str, body: Any, ctx: CalendarContext,
                       now: datetime) -> Event:
    caller.require(WRITE)
    event = await visible_event(s, caller, event_id)
    if event.organizer_id != caller.me():
        raise access_denied("Only the organizer can change this event.")
    if not isinstance(body, dict):
        raise bad_request("The request body must be an event.", "ErrorInvalidRequest")
    _apply_fields(event, body)
    had_meeting = event.conference_id is not None
    _apply_meeting(event, body, ctx.base_url)
    if not had_meeting:
        await _free_conference_id(s, event)
    if "attendees" in body:
        roles = {a.email: a.role for a in event.attendees}  # their meeting roles stay with them
        event.attendees = await _attendees(s, caller.tenant_id, body["attendees"])
        for attendee in event.attendees:
            attendee.role = roles.get(attendee.email, "attendee")
    event.modified_at = now
    await s.flush()
    return event


async def delete_event(s: AsyncSession, caller: Caller, event_id: str) -> None:
    caller.require(WRITE)
    event = await visible_event(s, caller, event_id)
    if event.organizer_id != caller.me():
        raise access_denied("Only the organizer can delete this event.")
    if event.meeting_thread_id:  # so that joining it says "deleted", not "not found"
        await s.merge(DeletedMeeting(thread_id=event.meeting_thread_id, tenant_id=event.tenant_id,
                                     join_meeting_id=event.join_meeting_id, passcode=event.passcode,
                                     conference_id=event.conference_id))
    await s.delete(event)


async def cancel_event(s: AsyncSession, caller: Caller, event_id: str, now: datetime) -> None:
    """``POST /me/events/{id}/cancel``: the organizer cancels; the event stays, ``isCancelled``, and its online
    meeting can no longer be joined."""
    caller.require(WRITE)
    event = await visible_event(s, caller, event_id)
    if event.organizer_id != caller.me():
        raise bad_request("Your request can't be completed. You can't cancel a meeting unless you're the "
                          "organizer.", "ErrorAccessDenied")
    event.is_cancelled = True
    event.modified_at = now


async def _free_conference_id(s: AsyncSession, event: Event) -> None:
    """A new meeting's dial-in conference id must be no other meeting's, live or deleted (callers key it in)."""
    if event.conference_id is None:
        return
    for _ in range(20):
        taken = await s.scalar(select(Event.id).where(Event.conference_id == event.conference_id,
                                                      Event.id != event.id).limit(1))
        gone = await s.scalar(select(DeletedMeeting.thread_id)
                              .where(DeletedMeeting.conference_id == event.conference_id).limit(1))
        if taken is None and gone is None:
            return
        event.conference_id = meetings.new_conference_id()
    raise GraphError(503, "ServiceNotAvailable", "No free conference id; try again.")


async def page_of_events(s: ReadSession, caller: Caller, window: tuple[datetime, datetime] | None, top_raw: str | None,
                         skiptoken: str | None, tokens: PageTokens, fingerprint: str,
                         now: datetime) -> tuple[list[Event], str | None]:
    """Events of the caller's calendar by start time, within ``window`` if given (calendarView)."""
    top = odata.parse_top(top_raw, VIEW_PAGE_DEFAULT, VIEW_PAGE_MAX)
    query = _events_of(caller, window)
    if skiptoken:
        position = tokens.read(skiptoken, caller.tenant_id, fingerprint, now)
        query = query.where(tuple_(Event.start_at, Event.id) > tuple_(datetime.fromisoformat(position[0]),
                                                                          position[1]))
    rows = list((await s.scalars(query.order_by(Event.start_at, Event.id).limit(top + 1))).all())
    next_token = None
    if len(rows) > top:
        last = rows[top - 1]
        next_token = tokens.issue(caller.tenant_id, fingerprint, [last.start_at.isoformat(), last.id], now)
    return rows[:top], next_token


def _events_of(caller: Caller, window: tuple[datetime, datetime] | None) -> Select[Any]:
    caller.require(READ)
    query = select(Event).where(Event.tenant_id == caller.tenant_id, _visible_to(caller.me()))
    if window is None:
        return query
    start, end = window
    if end <= start or end - start > MAX_WINDOW:
        raise bad_request("The time window must end after it starts and span at most five years.",
                          "ErrorInvalidParameter")
    return query.where(Event.start_at < end, Event.end_at > start)


async def count_events(s: ReadSession, caller: Caller, window: tuple[datetime, datetime] | None) -> int:
    """``/me/events/$count`` (``window`` None) and ``/me/calendarView/$count``."""
    return await count_rows(s, _events_of(caller, window))


async def organizers(s: ReadSession, events: list[Event]) -> dict[str, Row[Any]]:
    """Name and address of each event's organizer (plain rows: a page may hold many events)."""
    ids = {e.organizer_id for e in events}
    if not ids:
        return {}
    rows = await s.execute(select(User.id, User.display_name, User.mail).where(User.id.in_(ids)))
    return {row.id: row for row in rows.all()}


def check_zone(name: str | None) -> str:
    if not name:
        return "UTC"
    resolve(name)
    return name
