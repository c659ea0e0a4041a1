"""Microsoft Graph over plain HTTP (httpx) with the signed-in user's delegated token: the user and their organisation
(``/me``, ``/organization``), the directory (``/users`` with ``$search``, paged by ``@odata.nextLink``), people
(``/users/{id}``), the 1:1 chat (``POST /chats``, found or created) and the calendar view. The same code talks to
callbridge's ``/graph/v1.0`` and to graph.microsoft.com."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from portal.errors import PortalError

USER_FIELDS = "id,displayName,jobTitle,mail,userPrincipalName,businessPhones,mobilePhone"
PAGE_SIZE = 25


@dataclass(frozen=True)
class DirectoryEntry:
    id: str
    display_name: str
    job_title: str | None
    mail: str | None
    phone: str | None

    @classmethod
    def from_graph(cls, user: dict[str, Any]) -> DirectoryEntry:
        phones = user.get("businessPhones") or []
        return cls(str(user.get("id")), str(user.get("displayName") or ""), user.get("jobTitle"),
                   user.get("mail") or user.get("userPrincipalName"), phones[0] if phones else user.get("mobilePhone"))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "displayName": self.display_name, "jobTitle": self.job_title, "mail": self.mail,
                "phone": self.phone}


@dataclass(frozen=True)
class DirectoryPage:
    value: list[DirectoryEntry]
    next: str | None  # opaque to the page: the next link, encoded


@dataclass(frozen=True)
class Meeting:
    subject: str
    start: str
    end: str
    join_url: str | None
    meeting_id: str | None
    passcode: str | None
    organizer: str | None
    is_organizer: bool

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "start": self.start, "end": self.end, "joinUrl": self.join_url,
                "meetingId": self.meeting_id, "passcode": self.passcode, "organizer": self.organizer,
                "isOrganizer": self.is_organizer}


def _graph_time(value: dict[str, Any] | None) -> str:
    """Graph's ``{dateTime, timeZone}`` (asked for in UTC, see ``Prefer``) as ISO 8601 with ``Z``."""
    text = str((value or {}).get("dateTime", ""))
    return text.split(".")[0] + "Z" if text and (value or {}).get("timeZone", "UTC") == "UTC" else text


def meeting_from_event(event: dict[str, Any]) -> Meeting:
    online = event.get("onlineMeeting") or {}
    join = online.get("joinMeetingIdSettings") or {}
    organizer = ((event.get("organizer") or {}).get("emailAddress") or {})
    return Meeting(str(event.get("subject") or ""), _graph_time(event.get("start")), _graph_time(event.get("end")),
                   online.get("joinUrl") or event.get("onlineMeetingUrl"), join.get("joinMeetingId"),
                   join.get("passcode"), organizer.get("name") or organizer.get("address"),
                   bool(event.get("isOrganizer")))


class Graph:
    def __init__(self, base_url: str, http: httpx.AsyncClient) -> None:
        self._base = base_url.rstrip("/")
        self._http = http

    async def _call(self, token: str, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        target = url if url.startswith("https://") or url.startswith("http://") else f"{self._base}{url}"
        try:
            r = await self._http.request(method, target, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise PortalError(502, "DirectoryUnreachable", f"The directory service could not be reached ({exc}).") \
                from None
        if r.status_code >= 400:
            raise _graph_error(r)
        body = r.json() if r.content else {}
        return body if isinstance(body, dict) else {}

    async def me(self, token: str) -> dict[str, Any]:
        return await self._call(token, "GET", "/me", params={"$select": USER_FIELDS})

    async def organization_name(self, token: str) -> str | None:
        """The signed-in user's organisation's display name (``/organization``, readable with ``User.Read``), or
        None when the directory will not say: the page then names the sign-in's domain."""
        try:
            body = await self._call(token, "GET", "/organization", params={"$select": "id,displayName"})
        except PortalError:
            return None
        found = body.get("value") or [{}]
        name = found[0].get("displayName") if isinstance(found[0], dict) else None
        return str(name) if name else None

    async def user(self, token: str, user_id: str) -> dict[str, Any]:
        return await self._call(token, "GET", f"/users/{quote(user_id, safe='')}",
                                params={"$select": "id,displayName,jobTitle"})

    async def directory(self, token: str, search: str, next_token: str | None) -> DirectoryPage:
        """The organisation's people whose name or mail starts with ``search`` (all of them when empty)."""
        if next_token:
            body = await self._call(token, "GET", self._next_link(next_token), headers={"ConsistencyLevel": "eventual"})
        else:
            params = {"$select": USER_FIELDS, "$top": str(PAGE_SIZE)}
            term = search.replace('"', "").replace("\\", "").strip()
            if term:
                params.update({"$search": f'"displayName:{term}" OR "mail:{term}"', "$count": "true"})
            else:
                params["$orderby"] = "displayName"
                params["$count"] = "true"
            body = await self._call(token, "GET", "/users", params=params, headers={"ConsistencyLevel": "eventual"})
        link = body.get("@odata.nextLink")
        return DirectoryPage([DirectoryEntry.from_graph(u) for u in body.get("value", [])],
                             _encode(link) if isinstance(link, str) else None)

    def _next_link(self, next_token: str) -> str:
        """Only a next link into the configured Graph: the page hands the token back, and the user's bearer token
        must never be sent anywhere else."""
        try:
            link = base64.urlsafe_b64decode(next_token + "=" * (-len(next_token) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError):
            link = ""
        if not link.startswith(f"{self._base}/users?"):
            raise PortalError(400, "InvalidRequest", "The page link is not valid: search again.")
        return link

    async def one_on_one_chat(self, token: str, me: str, other: str) -> str:
        """The 1:1 chat's thread id; Graph answers the existing chat when there is one."""
        if other == me:
            raise PortalError(400, "InvalidRequest", "You cannot start a chat with yourself.")
        body = await self._call(token, "POST", "/chats", json={"chatType": "oneOnOne",
                                                               "members": [_member(me), _member(other)]})
        return str(body["id"])

    async def group_chat(self, token: str, me: str, others: list[str], topic: str | None) -> str:
        """A new group chat of the user and ``others`` (Graph makes a new one each time): its thread id."""
        members = [me, *dict.fromkeys(o for o in others if o != me)]
        if len(members) < 3:
            raise PortalError(400, "InvalidRequest", "A group chat needs at least two colleagues besides you.")
        payload: dict[str, Any] = {"chatType": "group", "members": [_member(m) for m in members]}
        if topic:
            payload["topic"] = topic
        body = await self._call(token, "POST", "/chats", json=payload)
        return str(body["id"])

    async def calendar_view(self, token: str, start: datetime, end: datetime) -> list[Meeting]:
        params = {"startDateTime": start.isoformat(), "endDateTime": end.isoformat(), "$top": "100",
                  "$orderby": "start/dateTime",
                  "$select": "subject,start,end,isOnlineMeeting,onlineMeeting,onlineMeetingUrl,organizer,isOrganizer"}
        meetings: list[Meeting] = []
        url: str = "/me/calendar/calendarView"
        for _ in range(10):  # at most ten pages: a thousand events
            body = await self._call(token, "GET", url, params=params, headers={"Prefer": 'outlook.timezone="UTC"'})
            meetings += [meeting_from_event(e) for e in body.get("value", []) if not e.get("isCancelled")]
            link = body.get("@odata.nextLink")
            if not isinstance(link, str) or not link.startswith(self._base):
                break
            url, params = link, {}
        return meetings


def _member(user_id: str) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.aadUserConversationMember", "roles": ["owner"],
            "user@odata.bind": f"https://graph.microsoft.com/v1.0/users('{user_id}')"}


def _encode(link: str) -> str:
    return base64.urlsafe_b64encode(link.encode()).decode().rstrip("=")


def _graph_error(r: httpx.Response) -> PortalError:
    """Graph's OData error body (``{error: {code, message}}``) in the portal's words."""
    try:
        error = r.json().get("error", {})
    except ValueError:
        error = {}
    message = str(error.get("message") or r.reason_phrase)
    if r.status_code == 401:
        return PortalError(401, "SignInRequired", f"The directory did not accept your sign-in: {message}")
    if r.status_code == 403:
        return PortalError(403, "Forbidden", f"The directory refused: {message}")
    if r.status_code == 404:
        return PortalError(404, "NotFound", f"Not found in the directory: {message}")
    if r.status_code == 429:
        return PortalError(429, "Throttled", "The directory is busy: try again in a moment.")
    if r.status_code == 400:
        return PortalError(400, "InvalidRequest", f"The directory could not do that: {message}")
    return PortalError(502, "DirectoryError", f"The directory answered with an error: {message}")
