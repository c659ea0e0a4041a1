"""``/me/events`` and ``/me/calendar/calendarView``: online meetings with Teams-shaped join links, time zones,
paging, organizer-only changes and tenant isolation."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import Demo


def _window(days: int = 7) -> dict[str, str]:
    now = datetime.now(UTC)
    return {"startDateTime": (now - timedelta(days=days)).isoformat(),
            "endDateTime": (now + timedelta(days=days)).isoformat(), "$top": "100"}


def _view(g: httpx.Client, **headers: str) -> list[dict[str, Any]]:
    r = g.get("/me/calendar/calendarView", params=_window(), headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json()["value"])


def _new_event(**extra: Any) -> dict[str, Any]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    return {"subject": "Calling pilot review", "body": {"contentType": "text", "content": "Agenda"},
            "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            **extra}


def test_calendar_view_needs_both_bounds(demo: Demo) -> None:
    with demo.graph("alice") as g:
        for params in ({}, {"startDateTime": "2026-11-01T00:00:00Z"}, {"endDateTime": "2026-11-01T00:00:00Z"}):
            r = g.get("/me/calendar/calendarView", params=params)
            assert r.status_code == 400 and r.json()["error"]["code"] == "ErrorInvalidParameter"
            assert r.json()["error"]["message"] == ("This request requires a time window specified by the query "
                                                    "string parameters StartDateTime and EndDateTime.")
        bad = g.get("/me/calendar/calendarView", params={"startDateTime": "yesterday", "endDateTime": "today"})
    assert bad.status_code == 400


def test_alices_seeded_meetings_carry_teams_join_links(demo: Demo) -> None:
    with demo.graph("alice") as g:
        events = _view(g)
    subjects = {e["subject"] for e in events}
    assert {"Customer escalation: Adatum", "Project kickoff with Contoso", "Lunch with Adele"} <= subjects
    kickoff = next(e for e in events if e["subject"] == "Project kickoff with Contoso")
    meeting = kickoff["onlineMeeting"]
    assert kickoff["isOnlineMeeting"] and kickoff["onlineMeetingProvider"] == "teamsForBusiness"
    match = re.fullmatch(rf"{re.escape(demo.base_url)}/meet/l/meetup-join/(19%3ameeting_[A-Za-z0-9]+%40thread\.v2)"
                         r"/0\?context=(.+)", meeting["joinUrl"])
    assert match, meeting["joinUrl"]
    assert unquote(match.group(1)).startswith("19:meeting_")
    assert json.loads(unquote(match.group(2))) == {"Tid": demo.user("alice")["tenant_id"],
                                                   "Oid": demo.user("alice")["id"]}
    assert re.fullmatch(r"\d{9}", meeting["conferenceId"]) and meeting["tollNumber"].startswith("+")
    assert meeting["quickDial"] == f"{meeting['tollNumber']},,{meeting['conferenceId']}#"
    assert re.fullmatch(r"\d{14}", meeting["joinMeetingIdSettings"]["joinMeetingId"])
    assert meeting["lobbyBypassSettings"]["scope"] == "organization"
    assert [a["emailAddress"]["address"] for a in kickoff["attendees"]] == ["megan@fabrikam.example",
                                                                           "pat@adatum.example"]
    lunch = next(e for e in events if e["subject"] == "Lunch with Adele")
    assert lunch["onlineMeeting"] is None and not lunch["isOnlineMeeting"]
    soon = next(e for e in events if e["subject"] == "Customer escalation: Adatum")
    starts = datetime.fromisoformat(soon["start"]["dateTime"][:26]).replace(tzinfo=UTC)
    assert timedelta(0) < starts - datetime.now(UTC) <= timedelta(hours=1)


def test_invited_colleague_sees_the_meeting(demo: Demo) -> None:
    with demo.graph("megan") as g:
        kickoff = next(e for e in _view(g) if e["subject"] == "Project kickoff with Contoso")
    assert not kickoff["isOrganizer"] and kickoff["organizer"]["emailAddress"]["address"] == "alice@fabrikam.example"
    with demo.graph("nestor") as g:  # not invited
        assert "Project kickoff with Contoso" not in {e["subject"] for e in _view(g)}


@pytest.mark.parametrize("zone,iana", [("Pacific Standard Time", "America/Los_Angeles"),
                                       ("Europe/Berlin", "Europe/Berlin")])
def test_prefer_outlook_timezone(demo: Demo, zone: str, iana: str) -> None:
    with demo.graph("alice") as g:
        utc = {e["id"]: e for e in _view(g)}
        r = g.get("/me/calendar/calendarView", params=_window(), headers={"Prefer": f'outlook.timezone="{zone}"'})
    assert r.headers["Preference-Applied"] == f'outlook.timezone="{zone}"'
    for event in r.json()["value"]:
        assert event["start"]["timeZone"] == zone
        local = datetime.fromisoformat(event["start"]["dateTime"][:26]).replace(tzinfo=ZoneInfo(iana))
        original = datetime.fromisoformat(utc[event["id"]]["start"]["dateTime"][:26]).replace(tzinfo=UTC)
        assert local == original


def test_unknown_timezone_refused(demo: Demo) -> None:
    with demo.graph("alice") as g:
        r = g.get("/me/calendar/calendarView", params=_window(), headers={"Prefer": 'outlook.timezone="Mars/Olympus"'})
    assert r.status_code == 400


def test_event_lifecycle_with_online_meeting(demo: Demo) -> None:
    with demo.graph("alice") as g:
        created = g.post("/me/events", json=_new_event(
            isOnlineMeeting=True, onlineMeetingProvider="teamsForBusiness",
            attendees=[{"emailAddress": {"address": "megan@fabrikam.example"}, "type": "required"}]))
        assert created.status_code == 201, created.text
        event = created.json()
        assert event["onlineMeeting"]["joinUrl"].startswith(f"{demo.base_url}/meet/l/meetup-join/19%3ameeting_")
        assert event["attendees"][0]["emailAddress"]["name"] == "Megan Bowen"  # resolved from the directory
        patched = g.patch(f"/me/events/{event['id']}", json={"subject": "Pilot review (moved)",
                                                              "lobbyBypassSettings": {"scope": "everyone"}})
        assert patched.json()["subject"] == "Pilot review (moved)"
        assert patched.json()["onlineMeeting"]["joinUrl"] == event["onlineMeeting"]["joinUrl"]  # same meeting
        assert patched.json()["onlineMeeting"]["lobbyBypassSettings"]["scope"] == "everyone"
        with demo.graph("megan") as megan:
            assert megan.get(f"/me/events/{event['id']}").status_code == 200
            refused = megan.patch(f"/me/events/{event['id']}", json={"subject": "mine now"})
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "ErrorAccessDenied"
        with demo.graph("nina") as other_tenant:
            assert other_tenant.get(f"/me/events/{event['id']}").status_code == 404
        assert g.delete(f"/me/events/{event['id']}").status_code == 204
        gone = g.get(f"/me/events/{event['id']}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "ErrorItemNotFound"


@pytest.mark.parametrize("body", [
    {"subject": "no times"},
    _new_event(end={"dateTime": "2020-01-01T00:00:00", "timeZone": "UTC"}),
    _new_event(start={"dateTime": "not a date", "timeZone": "UTC"}),
    _new_event(start={"dateTime": "2026-12-01T10:00:00", "timeZone": "Nowhere Standard Time"}),
    _new_event(showAs="sleeping"),
    _new_event(attendees=[{"emailAddress": {"address": "no-at-sign"}}]),
    _new_event(subject="x" * 300),
    [1, 2, 3],
])
def test_bad_event_bodies(demo: Demo, body: Any) -> None:
    with demo.graph("alice") as g:
        r = g.post("/me/events", json=body)
    assert r.status_code == 400 and r.json()["error"]["code"] and r.json()["error"]["message"]


def test_calendar_view_pages(demo: Demo) -> None:
    with demo.graph("alice") as g:
        everything = _view(g)
        params = {**_window(), "$top": "2"}
        seen: list[str] = []
        url: str | None = "/me/calendar/calendarView"
        for _ in range(20):
            r = g.get(url, params=params) if params else g.get(url)
            seen += [e["id"] for e in r.json()["value"]]
            url, params = r.json().get("@odata.nextLink"), {}
            if not url:
                break
        assert "$skiptoken" in parse_qs(urlparse(g.get("/me/calendar/calendarView",
                                                        params={**_window(), "$top": "2"}).json()
                                                  ["@odata.nextLink"]).query)
    assert seen == [e["id"] for e in everything]
    starts = [e["start"]["dateTime"] for e in everything]
    assert starts == sorted(starts)


def test_calendar_needs_calendar_scopes(demo: Demo) -> None:
    with demo.graph("alice", ["User.Read"]) as g:
        assert g.get("/me/calendar/calendarView", params=_window()).status_code == 403
    with demo.graph("alice", ["Calendars.Read"]) as g:
        assert g.get("/me/calendar/calendarView", params=_window()).status_code == 200
        assert g.post("/me/events", json=_new_event()).status_code == 403
