"""The online meeting of a calendar event: thread id, the Teams-shaped join URL, conference id and dial-in,
the meeting id with passcode, and the organizer's lobby bypass choice."""

from __future__ import annotations

import json
import re
import secrets
import string
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

# the values of callbridge.meetings.model's LobbyScope, AllowedPresenters and AttendeeRole, as Graph spells them
LOBBY_SCOPES = ("organizer", "organization", "organizationAndFederated", "everyone", "invited",
                "organizationExcludingGuests")
PRESENTERS = ("everyone", "organization", "roleIsPresenter", "organizer")
ATTENDEE_ROLES = ("attendee", "presenter", "coorganizer")
PROVIDERS = ("teamsForBusiness", "skypeForBusiness", "skypeForConsumer", "unknown")


@dataclass(frozen=True)
class MeetingInfo:
    thread_id: str
    join_url: str
    conference_id: str
    join_meeting_id: str
    passcode: str


def _teams_quote(text: str) -> str:
    """Percent-encoding as Teams writes it in join links: everything reserved, lower-case hex."""
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(text, safe=""))


def _digits(n: int) -> str:
    """n random digits, the first not a zero (these are read out and typed as numbers)."""
    return secrets.choice("123456789") + "".join(secrets.choice(string.digits) for _ in range(n - 1))


def new_conference_id() -> str:
    return _digits(9)


def new_meeting(base_url: str, tenant_id: str, organizer_id: str) -> MeetingInfo:
    thread = f"19:meeting_{secrets.token_urlsafe(36).replace('-', 'a').replace('_', 'b')}@thread.v2"
    context = json.dumps({"Tid": tenant_id, "Oid": organizer_id}, separators=(",", ":"))
    join_url = f"{base_url}/meet/l/meetup-join/{_teams_quote(thread)}/0?context={_teams_quote(context)}"
    passcode = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(6))
    return MeetingInfo(thread, join_url, _digits(9), _digits(14), passcode)


def online_meeting_info(thread_id: str | None, join_url: str | None, conference_id: str | None,
                        join_meeting_id: str | None, passcode: str | None, lobby_scope: str,
                        toll_number: str | None, dial_in_bypass: bool = False) -> dict[str, Any] | None:
    if not join_url:
        return None
    phones = [{"number": toll_number, "type": "toll"}] if toll_number else []
    return {
        "joinUrl": join_url,
        "conferenceId": conference_id,
        "tollNumber": toll_number,
        "tollFreeNumbers": [],
        "phones": phones,
        "quickDial": f"{toll_number},,{conference_id}#" if toll_number and conference_id else None,
        "joinMeetingIdSettings": {"joinMeetingId": join_meeting_id, "passcode": passcode,
                                  "isPasscodeRequired": True},
        "lobbyBypassSettings": {"scope": lobby_scope, "isDialInBypassEnabled": dial_in_bypass},
        "threadId": thread_id,
    }
