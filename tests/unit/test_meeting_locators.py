"""What a user joins a meeting with: both link shapes Teams uses, meeting id + passcode, conference id; links of
other deployments and malformed input refused with their codes."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest

from callbridge.graph.meetings import new_meeting
from callbridge.meetings.locators import (
    MAX_LINK,
    ConferenceIdLocator,
    MeetingIdLocator,
    ThreadLocator,
    parse_conference_id,
    parse_join_link,
    parse_meeting_id,
)
from callbridge.meetings.refusals import MeetingRefusal, MeetingRefused

BASE = "https://meet.example.test:8443"
TENANT, ORGANIZER = str(uuid.uuid4()), str(uuid.uuid4())


def _refusal(call: object, *args: object) -> MeetingRefusal:
    with pytest.raises(MeetingRefused) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value.refusal


def test_a_link_this_deployment_made_reads_back_as_its_thread_tenant_and_organizer() -> None:
    info = new_meeting(BASE, TENANT, ORGANIZER)
    assert parse_join_link(info.join_url, BASE) == ThreadLocator(info.thread_id, TENANT, ORGANIZER)
    # host and scheme compare case-insensitively, the default port may be left out, whitespace around is trimmed
    assert parse_join_link("  " + info.join_url.replace("https://meet.example", "HTTPS://MEET.Example") + "\n",
                           BASE) == ThreadLocator(info.thread_id, TENANT, ORGANIZER)
    plain = new_meeting("https://meet.example.test", TENANT, ORGANIZER)
    assert parse_join_link(plain.join_url.replace(".test/", ".test:443/"), "https://meet.example.test").thread_id \
        == plain.thread_id


def test_a_link_without_context_or_with_its_thread_unencoded_still_names_the_thread() -> None:
    info = new_meeting(BASE, TENANT, ORGANIZER)
    assert parse_join_link(f"{BASE}/meet/l/meetup-join/{info.thread_id}/0", BASE) == ThreadLocator(info.thread_id)


def test_the_short_link_carries_meeting_id_and_passcode() -> None:
    assert parse_join_link(f"{BASE}/meet/37124488901122?p=aB3xYz", BASE) == MeetingIdLocator("37124488901122",
                                                                                            "aB3xYz")


@pytest.mark.parametrize("link", [
    "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0?context=%7b%7d",
    "https://teams.microsoft.com/meet/37124488901122?p=aB3xYz",
    "https://other.example.test:8443/meet/37124488901122?p=aB3xYz",
    "https://meet.example.test:9443/meet/37124488901122?p=aB3xYz",
    "http://meet.example.test:8443/meet/37124488901122?p=aB3xYz",
])
def test_another_deployments_link_is_refused_as_foreign(link: str) -> None:
    if "context=%7b%7d" in link:  # a well-formed Teams link, with a real context
        ctx = quote(f'{{"Tid":"{TENANT}","Oid":"{ORGANIZER}"}}', safe="")
        link = link.replace("%7b%7d", ctx)
    assert _refusal(parse_join_link, link, BASE) is MeetingRefusal.FOREIGN_LINK


@pytest.mark.parametrize("link", [
    "", "   ", "meet/l/meetup-join/x", "ftp://meet.example.test:8443/meet/37124488901122?p=a",
    f"{BASE}/calendar/item/1", f"{BASE}/meet/", f"{BASE}/meet/l/meetup-join/", f"{BASE}/meet/l/meetup-join/x/0",
    f"{BASE}/meet/l/meetup-join/19%3ameeting_abc%40thread.v2",
    f"{BASE}/meet/l/meetup-join/19%3ameeting_abc%40thread.v2/0/extra",
    f"{BASE}/meet/l/meetup-join/19%3ameeting_abc%40thread.v2/zero",
    f"{BASE}/meet/l/meetup-join/19%3ameeting_a%2Fb%40thread.v2/0",
    f"{BASE}/meet/l/meetup-join/19%3ameeting_abc%40thread.v2/0?context=not-json",
    f"{BASE}/meet/l/meetup-join/19%3ameeting_abc%40thread.v2/0?context=%7B%22Tid%22%3A%22x%22%7D",
    f"{BASE}/meet/l/meetup-join/19%3ameeting_abc%40thread.v2/0?context=[1]",
    f"{BASE}/meet/l/meetup-join/19%3ameeting_abc%40thread.v2/0?context=" + "%7B" * 600,
    f"{BASE}/meet/37124488901122", f"{BASE}/meet/37124488901122?p=", f"{BASE}/meet/37124488901122?p=a&p=b",
    f"{BASE}/meet/37124488901122?p=" + "a" * 17, f"{BASE}/meet/3712?p=aB3xYz", f"{BASE}/meet/abc?p=aB3xYz",
    f"{BASE}/meet/37124488901122/x?p=aB3xYz", f"{BASE}/meet/37124488901122?" + "&".join(["a=1"] * 20),
    "https://meet.example.test:99999/meet/37124488901122?p=aB3xYz",
    f"{BASE}/meet/37124488901122?p=" + "a" * MAX_LINK,
])
def test_malformed_and_absurd_links_are_refused_as_unreadable(link: str) -> None:
    assert _refusal(parse_join_link, link, BASE) is MeetingRefusal.BAD_LOCATOR


def test_a_link_that_is_not_text_is_refused() -> None:
    assert _refusal(parse_join_link, None, BASE) is MeetingRefusal.BAD_LOCATOR


def test_the_refusal_carries_acs_code_subcode_and_a_message() -> None:
    with pytest.raises(MeetingRefused) as caught:
        parse_join_link("https://teams.microsoft.com/meet/37124488901122?p=aB3xYz", BASE)
    assert caught.value.to_wire() == {"code": 400, "subCode": 10121,
                                      "message": "The meeting link belongs to another service."}


def test_meeting_id_as_teams_prints_it_with_spaces() -> None:
    assert parse_meeting_id("3712 4488 9011", " aB3xYz ") == MeetingIdLocator("371244889011", "aB3xYz")
    assert parse_meeting_id("37124488901122", "x") == MeetingIdLocator("37124488901122", "x")


@pytest.mark.parametrize(("meeting_id", "passcode"), [
    ("3712", "aB3xYz"), ("3712 4488 9011 abc", "aB3xYz"), ("", "aB3xYz"), ("1" * 21, "aB3xYz"), ("1 " * 30, "a"),
    ("371244889011", None), ("371244889011", ""), ("371244889011", "has space"), ("371244889011", "é"),
    ("371244889011", "a" * 17), (None, "a"),
])
def test_bad_meeting_ids_and_passcodes_are_refused(meeting_id: str, passcode: str | None) -> None:
    assert _refusal(parse_meeting_id, meeting_id, passcode) is MeetingRefusal.BAD_LOCATOR


def test_conference_id_as_keyed_on_a_phone() -> None:
    assert parse_conference_id("123456789#") == ConferenceIdLocator("123456789")
    assert parse_conference_id(" 123 456 789 ") == ConferenceIdLocator("123456789")


@pytest.mark.parametrize("keyed", ["", "#", "12#", "12345678a#", "1#2", "1" * 17, "1" * 41, "*123456789#", None])
def test_bad_conference_ids_are_refused(keyed: str | None) -> None:
    assert _refusal(parse_conference_id, keyed) is MeetingRefusal.BAD_LOCATOR
