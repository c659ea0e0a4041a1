"""Finding a meeting from what a user joins with, on both stores (SQLite and PostgreSQL): by link, by meeting id
+ passcode, by conference id; refusals for wrong passcodes, unknown, cancelled and deleted meetings."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from callbridge.config import Settings
from callbridge.demo import seed
from callbridge.directory import tenants
from callbridge.graph import calendar
from callbridge.graph.auth import Caller
from callbridge.meetings import lookup
from callbridge.meetings.locators import (
    MeetingIdLocator,
    ThreadLocator,
    parse_conference_id,
    parse_join_link,
    parse_meeting_id,
)
from callbridge.meetings.model import AllowedPresenters, AttendeeRole, LobbyScope, Meeting
from callbridge.meetings.refusals import MeetingRefusal, MeetingRefused
from callbridge.store.db import Database
from callbridge.store.models import Event, User
from callbridge.store.types import utcnow

SETTINGS = Settings(https_port=9443)
BASE = SETTINGS.public_base_url


def _caller(user: User) -> Caller:
    return Caller(user.tenant_id, "app", user.id, frozenset({"Calendars.ReadWrite"}), frozenset())


async def _seeded(db: Database) -> dict[str, User]:
    async with db.transaction() as s:
        await seed(s, SETTINGS)
        return {u.user_principal_name.split("@")[0]: u for u in (await s.scalars(select(User))).all()}


async def _new_meeting(db: Database, organizer: User, **extra: Any) -> Event:
    start = utcnow() + timedelta(hours=2)
    body = {"subject": "Pilot review", "isOnlineMeeting": True, "onlineMeetingProvider": "teamsForBusiness",
            "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "attendees": [{"emailAddress": {"address": "megan@fabrikam.example"}},
                          {"emailAddress": {"address": "pat@adatum.example"}}], **extra}
    ctx = calendar.CalendarContext(BASE, "+14255550100", "UTC")
    async with db.transaction() as s:
        return await calendar.create_event(s, _caller(organizer), body, ctx, utcnow())


async def _refusal(db: Database, locator: Any) -> MeetingRefused:
    with pytest.raises(MeetingRefused) as caught:
        await lookup.find_meeting(db, locator)
    return caught.value


async def test_the_join_link_finds_the_meeting_with_its_policy_and_invitees(db: Database) -> None:
    people = await _seeded(db)
    event = await _new_meeting(db, people["alice"], lobbyBypassSettings={"scope": "invited",
                                                                         "isDialInBypassEnabled": True})
    assert event.join_url is not None
    meeting = await lookup.find_meeting(db, parse_join_link(event.join_url, BASE))
    assert isinstance(meeting, Meeting)
    assert (meeting.event_id, meeting.organizer_id, meeting.thread_id) == (event.id, people["alice"].id,
                                                                          event.meeting_thread_id)
    assert meeting.lobby.scope is LobbyScope.INVITED and meeting.lobby.dial_in_bypass
    assert meeting.allowed_presenters is AllowedPresenters.EVERYONE
    assert [(i.email, i.user_id, i.role) for i in meeting.invitees] == [
        ("megan@fabrikam.example", people["megan"].id, AttendeeRole.ATTENDEE),
        ("pat@adatum.example", None, AttendeeRole.ATTENDEE)]
    assert meeting.organizer_tenant_interop and not meeting.organizer_tenant_federates
    async with db.transaction() as s:
        await tenants.set_tenant_setting(s, people["alice"].tenant_id, "federation_enabled", True)
    assert (await lookup.find_meeting(db, parse_join_link(event.join_url, BASE))).organizer_tenant_federates


async def test_a_link_whose_context_names_another_tenant_or_organizer_is_not_this_meeting(db: Database) -> None:
    people = await _seeded(db)
    event = await _new_meeting(db, people["alice"])
    thread = str(event.meeting_thread_id)
    nina = people["nina"]
    assert (await _refusal(db, ThreadLocator(thread, nina.tenant_id, people["alice"].id))).refusal \
        is MeetingRefusal.NOT_FOUND
    assert (await _refusal(db, ThreadLocator(thread, event.tenant_id, people["megan"].id))).refusal \
        is MeetingRefusal.NOT_FOUND
    assert (await lookup.find_meeting(db, ThreadLocator(thread))).event_id == event.id
    unknown = await _refusal(db, ThreadLocator("19:meeting_nosuchmeeting@thread.v2"))
    assert unknown.to_wire() == {"code": 404, "subCode": 0, "message": "The meeting was not found."}


async def test_meeting_id_and_passcode_as_typed_and_as_in_the_short_link(db: Database) -> None:
    people = await _seeded(db)
    event = await _new_meeting(db, people["alice"])
    spaced = " ".join(str(event.join_meeting_id)[i:i + 4] for i in range(0, 14, 4))
    assert (await lookup.find_meeting(db, parse_meeting_id(spaced, str(event.passcode)))).event_id == event.id
    short = f"{BASE}/meet/{event.join_meeting_id}?p={event.passcode}"
    assert (await lookup.find_meeting(db, parse_join_link(short, BASE))).event_id == event.id


async def test_wrong_passcode_and_unknown_id_are_one_answer_with_the_same_work(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    people = await _seeded(db)
    event = await _new_meeting(db, people["alice"])
    compared: list[int] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append(len(b))
        return real(a, b)

    monkeypatch.setattr(lookup.hmac, "compare_digest", counting)
    wrong = await _refusal(db, MeetingIdLocator(str(event.join_meeting_id), "zzzzzz"))
    case = await _refusal(db, MeetingIdLocator(str(event.join_meeting_id), str(event.passcode).swapcase()))
    unknown = await _refusal(db, MeetingIdLocator("11111111111111", str(event.passcode)))
    assert wrong.to_wire() == case.to_wire() == unknown.to_wire() == {
        "code": 404, "subCode": 10122, "message": "No meeting has this meeting id and passcode."}
    assert len(compared) == 3  # a passcode comparison on every path, a stand-in where there is no meeting


async def test_conference_id_as_keyed_on_a_phone(db: Database) -> None:
    people = await _seeded(db)
    event = await _new_meeting(db, people["alice"])
    assert (await lookup.find_meeting(db, parse_conference_id(f"{event.conference_id}#"))).event_id == event.id
    assert (await _refusal(db, parse_conference_id("000000001#"))).refusal is MeetingRefusal.NOT_FOUND


async def test_a_cancelled_meeting_is_refused_by_every_locator(db: Database) -> None:
    people = await _seeded(db)
    event = await _new_meeting(db, people["alice"])
    async with db.transaction() as s:
        await calendar.cancel_event(s, _caller(people["alice"]), event.id, utcnow())
    for locator in (parse_join_link(str(event.join_url), BASE),
                    parse_meeting_id(str(event.join_meeting_id), str(event.passcode)),
                    parse_conference_id(str(event.conference_id))):
        refused = await _refusal(db, locator)
        assert refused.refusal is MeetingRefusal.CANCELLED and refused.to_wire()["code"] == 410
    wrong = await _refusal(db, parse_meeting_id(str(event.join_meeting_id), "wrong1"))
    assert wrong.refusal is MeetingRefusal.WRONG_ID_OR_PASSCODE  # cancelled, but only its passcode tells


async def test_a_deleted_meeting_is_refused_as_deleted_and_only_with_its_passcode_by_id(db: Database) -> None:
    people = await _seeded(db)
    event = await _new_meeting(db, people["alice"])
    async with db.transaction() as s:
        await calendar.delete_event(s, _caller(people["alice"]), event.id)
    for locator in (parse_join_link(str(event.join_url), BASE),
                    parse_meeting_id(str(event.join_meeting_id), str(event.passcode)),
                    parse_conference_id(str(event.conference_id))):
        refused = await _refusal(db, locator)
        assert refused.to_wire()["subCode"] == 10124, locator
    wrong = await _refusal(db, parse_meeting_id(str(event.join_meeting_id), "wrong1"))
    assert wrong.refusal is MeetingRefusal.WRONG_ID_OR_PASSCODE


async def test_an_event_whose_online_meeting_was_turned_off_is_not_a_meeting(db: Database) -> None:
    people = await _seeded(db)
    event = await _new_meeting(db, people["alice"])
    ctx = calendar.CalendarContext(BASE, None, "UTC")
    async with db.transaction() as s:
        await calendar.update_event(s, _caller(people["alice"]), event.id, {"isOnlineMeeting": False}, ctx, utcnow())
    assert (await _refusal(db, parse_join_link(str(event.join_url), BASE))).refusal is MeetingRefusal.NOT_FOUND


async def test_conference_ids_stay_unique_even_against_deleted_meetings(db: Database) -> None:
    people = await _seeded(db)
    first = await _new_meeting(db, people["alice"])
    async with db.transaction() as s:
        await calendar.delete_event(s, _caller(people["alice"]), first.id)
    from callbridge.graph import meetings as graph_meetings

    original = graph_meetings.new_meeting
    calls = iter([first.conference_id])

    def clashing(base_url: str, tenant_id: str, organizer_id: str) -> graph_meetings.MeetingInfo:
        info = original(base_url, tenant_id, organizer_id)
        return graph_meetings.MeetingInfo(info.thread_id, info.join_url, next(calls, info.conference_id),
                                          info.join_meeting_id, info.passcode)

    graph_meetings.new_meeting = clashing  # type: ignore[assignment]
    try:
        second = await _new_meeting(db, people["alice"])
    finally:
        graph_meetings.new_meeting = original  # type: ignore[assignment]
    assert second.conference_id and second.conference_id != first.conference_id
    assert (await lookup.find_meeting(db, parse_conference_id(second.conference_id))).event_id == second.id
