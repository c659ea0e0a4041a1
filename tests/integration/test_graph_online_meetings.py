"""The organizer's meeting settings the Microsoft way: ``/me/onlineMeetings`` by id and by ``JoinWebUrl``,
``PATCH`` by the organizer only, validated, and what the meeting service then decides from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from callbridge.meetings import lookup
from callbridge.meetings.lobby import Admission, PhoneCaller, TeamsUser, admission, classify
from callbridge.meetings.locators import parse_join_link
from callbridge.meetings.refusals import MeetingRefusal, MeetingRefused
from callbridge.meetings.roles import ParticipantRole, role_of
from callbridge.store.db import Database
from tests.conftest import Demo

SCOPES = ["User.Read", "Calendars.ReadWrite", "OnlineMeetings.ReadWrite"]


def _graph(demo: Demo, who: str, scopes: list[str] | None = None) -> httpx.Client:
    return demo.graph(who, scopes or SCOPES)


def _new_event(g: httpx.Client) -> dict[str, Any]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    r = g.post("/me/events", json={
        "subject": "Pilot review", "isOnlineMeeting": True, "onlineMeetingProvider": "teamsForBusiness",
        "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "attendees": [{"emailAddress": {"address": "megan@fabrikam.example"}},
                      {"emailAddress": {"address": "pat@adatum.example"}}]})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _by_link(g: httpx.Client, link: str, path: str = "/me/onlineMeetings") -> httpx.Response:
    return g.get(path, params={"$filter": f"JoinWebUrl eq '{link}'"})


async def _meeting(demo: Demo, link: str) -> Any:
    db = Database(demo.settings.effective_database_url)
    try:
        return await lookup.find_meeting(db, parse_join_link(link, demo.base_url))
    finally:
        await db.close()


def test_the_join_link_finds_the_online_meeting_in_graphs_shape(demo: Demo) -> None:
    alice = demo.user("alice")
    with _graph(demo, "alice") as g:
        event = _new_event(g)
        link = event["onlineMeeting"]["joinUrl"]
        found = _by_link(g, link)
        assert found.status_code == 200, found.text
        [meeting] = found.json()["value"]
        same = g.get(f"/me/onlineMeetings/{meeting['id']}")
        theirs = g.get(f"/users/{alice['id']}/onlineMeetings/{meeting['id']}")
    assert same.status_code == theirs.status_code == 200
    assert {k: v for k, v in same.json().items() if k != "@odata.context"} == meeting
    assert meeting["joinWebUrl"] == link
    assert meeting["chatInfo"]["threadId"] == event["onlineMeeting"]["threadId"]
    assert meeting["audioConferencing"]["conferenceId"] == event["onlineMeeting"]["conferenceId"]
    assert meeting["audioConferencing"]["tollNumber"] == event["onlineMeeting"]["tollNumber"]
    assert meeting["joinMeetingIdSettings"] == event["onlineMeeting"]["joinMeetingIdSettings"]
    assert meeting["lobbyBypassSettings"] == {"scope": "organization", "isDialInBypassEnabled": False}
    assert meeting["allowedPresenters"] == "everyone"
    organizer = meeting["participants"]["organizer"]
    assert organizer["upn"] == alice["upn"] and organizer["identity"]["user"]["id"] == alice["id"]
    assert [(a["upn"], a["role"]) for a in meeting["participants"]["attendees"]] == [
        ("megan@fabrikam.example", "attendee"), ("pat@adatum.example", "attendee")]
    assert meeting["participants"]["attendees"][1]["identity"]["user"] is None


async def test_the_organizer_changes_lobby_presenters_and_roles_and_the_meeting_follows(demo: Demo) -> None:
    megan = demo.user("megan")
    with _graph(demo, "alice") as g:
        event = _new_event(g)
        link = event["onlineMeeting"]["joinUrl"]
        meeting_id = _by_link(g, link).json()["value"][0]["id"]
        r = g.patch(f"/me/onlineMeetings/{meeting_id}", json={
            "lobbyBypassSettings": {"scope": "invited", "isDialInBypassEnabled": True},
            "allowedPresenters": "roleIsPresenter",
            "participants": {"attendees": [{"upn": "megan@fabrikam.example", "role": "presenter"},
                                           {"identity": {"user": {"id": demo.user("adele")["id"]}},
                                            "role": "coorganizer"}]}})
        assert r.status_code == 200, r.text
        after = g.get(f"/me/events/{event['id']}").json()
    assert r.json()["lobbyBypassSettings"] == {"scope": "invited", "isDialInBypassEnabled": True}
    assert r.json()["allowedPresenters"] == "roleIsPresenter"
    assert {a["upn"]: a["role"] for a in r.json()["participants"]["attendees"]} == {
        "megan@fabrikam.example": "presenter", "pat@adatum.example": "attendee",
        "adele@fabrikam.example": "coorganizer"}
    assert after["onlineMeeting"]["lobbyBypassSettings"] == {"scope": "invited", "isDialInBypassEnabled": True}
    assert "adele@fabrikam.example" in [a["emailAddress"]["address"] for a in after["attendees"]]
    # what the meeting service decides from it
    meeting = await _meeting(demo, link)
    assert admission(meeting, PhoneCaller("+12065550100"))[1] is Admission.JOIN
    home = meeting.tenant_id
    megan_joins = classify(meeting, TeamsUser(megan["id"], home, False))
    assert admission(meeting, TeamsUser(megan["id"], home, False))[1] is Admission.JOIN
    assert role_of(meeting, megan_joins) is ParticipantRole.PRESENTER
    adele = classify(meeting, TeamsUser(demo.user("adele")["id"], home, False))
    assert role_of(meeting, adele) is ParticipantRole.CO_ORGANIZER
    lee = TeamsUser(demo.user("lee")["id"], home, False)
    assert admission(meeting, lee)[1] is Admission.LOBBY
    assert role_of(meeting, classify(meeting, lee)) is ParticipantRole.ATTENDEE


@pytest.mark.parametrize("body", [
    {"lobbyBypassSettings": {"scope": "anyone"}},
    {"lobbyBypassSettings": {"isDialInBypassEnabled": "yes"}},
    {"lobbyBypassSettings": "everyone"},
    {"allowedPresenters": "nobody"},
    {"participants": {"attendees": [{"upn": "megan@fabrikam.example", "role": "producer"}]}},
    {"participants": {"attendees": [{"role": "presenter"}]}},
    {"participants": {"attendees": "megan"}},
    {"lobbyBypassSettings": {"scope": "everyone"}, "startDateTime": "tomorrow"},
    {"startDateTime": "2030-01-01T10:00:00Z", "endDateTime": "2030-01-01T09:00:00Z"},
    [1, 2],
])
def test_bad_settings_are_refused_in_graphs_error_shape_and_change_nothing(demo: Demo, body: Any) -> None:
    with _graph(demo, "alice") as g:
        event = _new_event(g)
        meeting_id = _by_link(g, event["onlineMeeting"]["joinUrl"]).json()["value"][0]["id"]
        r = g.patch(f"/me/onlineMeetings/{meeting_id}", json=body)
        still = g.get(f"/me/onlineMeetings/{meeting_id}").json()
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "BadRequest" or error["code"] == "ErrorInvalidRequest"
    assert error["message"] and error["innerError"]["request-id"]
    assert still["lobbyBypassSettings"] == {"scope": "organization", "isDialInBypassEnabled": False}


def test_only_the_organizer_may_change_the_settings(demo: Demo) -> None:
    with _graph(demo, "alice") as g:
        event = _new_event(g)
        link = event["onlineMeeting"]["joinUrl"]
        meeting_id = _by_link(g, link).json()["value"][0]["id"]
    with _graph(demo, "megan") as m:
        seen = m.get(f"/me/onlineMeetings/{meeting_id}")
        found = _by_link(m, link)
        changed = m.patch(f"/me/onlineMeetings/{meeting_id}", json={"lobbyBypassSettings": {"scope": "everyone"}})
        as_alice = m.get(f"/users/{demo.user('alice')['id']}/onlineMeetings/{meeting_id}")
    assert seen.status_code == 200 and [v["id"] for v in found.json()["value"]] == [meeting_id]
    assert changed.status_code == 403 and changed.json()["error"]["code"] == "Forbidden"
    assert as_alice.status_code == 403 and as_alice.json()["error"]["code"] == "Forbidden"
    with _graph(demo, "lee") as lee:  # a colleague who is not invited
        assert lee.get(f"/me/onlineMeetings/{meeting_id}").status_code == 404
        assert _by_link(lee, link).json()["value"] == []
    with _graph(demo, "nina") as nina:  # another tenant
        assert nina.get(f"/me/onlineMeetings/{meeting_id}").json()["error"]["code"] == "NotFound"
    with demo.graph("alice", ["User.Read", "Calendars.ReadWrite"]) as no_scope:
        refused = no_scope.get(f"/me/onlineMeetings/{meeting_id}")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "Authorization_RequestDenied"
    with demo.graph("alice", ["User.Read", "OnlineMeetings.Read"]) as read_only:
        assert read_only.get(f"/me/onlineMeetings/{meeting_id}").status_code == 200
        assert read_only.patch(f"/me/onlineMeetings/{meeting_id}", json={}).status_code == 403


@pytest.mark.parametrize("filter_", [None, "", "subject eq 'x'", "JoinWebUrl eq https://x", "JoinWebUrl eq 'a"])
def test_the_filter_is_required_and_must_be_a_join_url(demo: Demo, filter_: str | None) -> None:
    with _graph(demo, "alice") as g:
        r = g.get("/me/onlineMeetings", params={"$filter": filter_} if filter_ is not None else {})
    assert r.status_code == 400 and r.json()["error"]["code"] == "BadRequest"


def test_links_that_are_no_meeting_of_this_deployment_match_nothing(demo: Demo) -> None:
    with _graph(demo, "alice") as g:
        event = _new_event(g)
        link = event["onlineMeeting"]["joinUrl"]
        other = link.replace(demo.base_url, "https://teams.microsoft.com")
        meeting = event["onlineMeeting"]["joinMeetingIdSettings"]
        short = f"{demo.base_url}/meet/{meeting['joinMeetingId']}?p={meeting['passcode']}"
        assert _by_link(g, other).json()["value"] == []
        assert _by_link(g, "it''s not a link").json()["value"] == []  # a quote doubled, as OData escapes it
        assert _by_link(g, short.replace(meeting["passcode"], "wrong1")).json()["value"] == []
        assert len(_by_link(g, short).json()["value"]) == 1
        assert g.get(f"/me/onlineMeetings/{quote('not-an-id')}").status_code == 404


async def test_a_cancelled_meeting_shows_as_cancelled_and_can_no_longer_be_joined(demo: Demo) -> None:
    with _graph(demo, "alice") as g:
        event = _new_event(g)
        with _graph(demo, "megan") as m:
            assert m.post(f"/me/events/{event['id']}/cancel", json={}).status_code == 400
        assert g.post(f"/me/events/{event['id']}/cancel", json={"comment": "Moved"}).status_code == 202
        assert g.get(f"/me/events/{event['id']}").json()["isCancelled"] is True
    with pytest.raises(MeetingRefused) as caught:
        await _meeting(demo, event["onlineMeeting"]["joinUrl"])
    assert caught.value.refusal is MeetingRefusal.CANCELLED


def test_an_attendee_of_another_tenant_stays_an_address(demo: Demo) -> None:
    """Inviting another tenant's user by UPN must not tell the organizer who that is (id, name, tenant)."""
    with _graph(demo, "alice") as g:
        event = _new_event(g)
        meeting_id = _by_link(g, event["onlineMeeting"]["joinUrl"]).json()["value"][0]["id"]
        r = g.patch(f"/me/onlineMeetings/{meeting_id}", json={"participants": {"attendees": [
            {"upn": "nina@northwind.example", "role": "presenter"},
            {"identity": {"user": {"id": demo.user("nina")["id"]}}, "role": "presenter"}]}})
    assert r.status_code == 400  # by id alone: no such user in the organizer's tenant
    with _graph(demo, "alice") as g:
        r = g.patch(f"/me/onlineMeetings/{meeting_id}", json={"participants": {"attendees": [
            {"upn": "nina@northwind.example", "role": "presenter"}]}})
    nina = next(a for a in r.json()["participants"]["attendees"] if a["upn"] == "nina@northwind.example")
    assert r.status_code == 200 and nina["identity"]["user"] is None and nina["role"] == "presenter"
