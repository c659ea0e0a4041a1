"""What a user joins a meeting with, parsed into a typed locator (refusals: ``refusals.py``).

- the join link as Teams writes it (``graph/meetings.py`` makes these)::

      https://<host>/meet/l/meetup-join/<url-encoded thread id>/0?context=<url-encoded {"Tid","Oid"}>

- the short link: ``https://<host>/meet/<joinMeetingId>?p=<passcode>``;
- a meeting id + passcode as Teams prints them (``3712 4488 9011``, spaces allowed);
- a conference id for dial-in (digits, spaces and a final ``#`` allowed, as keyed on a phone).

A link must be this deployment's (scheme, host and port of the public base URL, case-insensitively); another
deployment's well-formed link is ``FOREIGN_LINK``, anything else unreadable is ``BAD_LOCATOR``. Input is bounded
before any parsing (``MAX_LINK`` characters), and every pattern is anchored and linear.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from callbridge.directory.values import is_guid
from callbridge.meetings.refusals import MeetingRefusal, MeetingRefused

MAX_LINK = 2048
MAX_CONTEXT = 512
# 19:meeting_<id>@thread.v2 (callbridge's), and the other Teams thread kinds a link may carry
THREAD = re.compile(r"19:[A-Za-z0-9_.\-]{1,200}@thread\.(?:v2|skype|tacv2)")
MEETING_ID = re.compile(r"[0-9]{10,20}")  # Teams prints 12 to 15 digits; callbridge makes 14
PASSCODE = re.compile(r"[A-Za-z0-9]{1,16}")
CONFERENCE_ID = re.compile(r"[0-9]{4,16}")
MESSAGE_ID = re.compile(r"[0-9]{1,20}")


@dataclass(frozen=True)
class ThreadLocator:
    """The long join link: the meeting's thread; tenant and organizer from its ``context`` when it has one."""

    thread_id: str
    tenant_id: str | None = None
    organizer_id: str | None = None


@dataclass(frozen=True)
class MeetingIdLocator:
    join_meeting_id: str  # digits only
    passcode: str


@dataclass(frozen=True)
class ConferenceIdLocator:
    conference_id: str  # digits only


MeetingLocator = ThreadLocator | MeetingIdLocator | ConferenceIdLocator


def _bad(detail: str) -> MeetingRefused:
    return MeetingRefused(MeetingRefusal.BAD_LOCATOR, detail)


def _origin(parts: SplitResult) -> tuple[str, str, int]:
    scheme = parts.scheme.lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise _bad("The meeting link has an invalid port.") from None
    return scheme, (parts.hostname or "").lower(), port


def parse_join_link(link: str, base_url: str) -> ThreadLocator | MeetingIdLocator:
    """A join link of this deployment (``base_url``, its public base URL) in either shape Teams uses."""
    if not isinstance(link, str) or not link.strip() or len(link) > MAX_LINK:
        raise _bad(f"A meeting link is a URL of at most {MAX_LINK} characters.")
    parts = urlsplit(link.strip())
    if parts.scheme.lower() not in ("https", "http") or not parts.hostname:
        raise _bad("A meeting link is an https URL.")
    base = urlsplit(base_url)
    prefix = base.path.rstrip("/")
    path = parts.path
    if not path.startswith(f"{prefix}/meet/") and not path.startswith("/l/meetup-join/"):
        raise _bad("This is not a meeting link.")
    shape = _thread_link if "/l/meetup-join/" in path else _short_link
    locator = shape(path.removeprefix(prefix).removeprefix("/meet"), parts.query)
    if _origin(parts) != _origin(base) or not path.startswith(f"{prefix}/meet/"):
        raise MeetingRefused(MeetingRefusal.FOREIGN_LINK)
    return locator


def _query(query: str) -> dict[str, list[str]]:
    try:
        return parse_qs(query, max_num_fields=8)
    except ValueError:
        raise _bad("The meeting link has too many query parameters.") from None


def _thread_link(path: str, query: str) -> ThreadLocator:
    segments = path.split("/")  # "", "l", "meetup-join", thread, message id
    if len(segments) != 5 or segments[1:3] != ["l", "meetup-join"]:
        raise _bad("A meeting link reads /meet/l/meetup-join/<thread id>/<message id>.")
    thread = unquote(segments[3])
    if not THREAD.fullmatch(thread) or not MESSAGE_ID.fullmatch(segments[4]):
        raise _bad("The meeting link does not name a meeting thread.")
    context = _query(query).get("context")
    if not context:
        return ThreadLocator(thread)
    tenant, organizer = _context(context[0])
    return ThreadLocator(thread, tenant, organizer)


def _context(raw: str) -> tuple[str, str]:
    if len(raw) > MAX_CONTEXT:
        raise _bad("The meeting link's context is too long.")
    try:
        value = json.loads(raw)
    except ValueError:
        raise _bad("The meeting link's context is not JSON.") from None
    tid = value.get("Tid") if isinstance(value, dict) else None
    oid = value.get("Oid") if isinstance(value, dict) else None
    if not (isinstance(tid, str) and is_guid(tid) and isinstance(oid, str) and is_guid(oid)):
        raise _bad("The meeting link's context names no tenant (Tid) and organizer (Oid).")
    return tid.lower(), oid.lower()


def _short_link(path: str, query: str) -> MeetingIdLocator:
    segments = path.split("/")  # "", meeting id
    if len(segments) != 2:
        raise _bad("A short meeting link reads /meet/<meeting id>?p=<passcode>.")
    passcodes = _query(query).get("p")
    if not passcodes or len(passcodes) != 1:
        raise _bad("A short meeting link carries its passcode as ?p=<passcode>.")
    return parse_meeting_id(unquote(segments[1]), passcodes[0])


def parse_meeting_id(meeting_id: str, passcode: str | None) -> MeetingIdLocator:
    """A meeting id (digits; spaces as Teams prints them are allowed) and its passcode (required)."""
    if not isinstance(meeting_id, str) or len(meeting_id) > 40:
        raise _bad("A meeting id is 10 to 20 digits.")
    digits = meeting_id.strip().replace(" ", "").replace("\u00a0", "")
    if not MEETING_ID.fullmatch(digits):
        raise _bad("A meeting id is 10 to 20 digits.")
    if not isinstance(passcode, str) or not PASSCODE.fullmatch(passcode.strip()):
        raise _bad("A meeting id needs its passcode: 1 to 16 letters and digits.")
    return MeetingIdLocator(digits, passcode.strip())


def parse_conference_id(keyed: str) -> ConferenceIdLocator:
    """A conference id as keyed on a phone or typed: digits, with spaces and a final ``#`` allowed."""
    if not isinstance(keyed, str) or len(keyed) > 40:
        raise _bad("A conference id is 4 to 16 digits.")
    digits = keyed.strip().removesuffix("#").replace(" ", "")
    if not CONFERENCE_ID.fullmatch(digits):
        raise _bad("A conference id is 4 to 16 digits.")
    return ConferenceIdLocator(digits)
