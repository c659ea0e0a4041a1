"""Pure parts of the directory API: the $filter grammar, paging tokens, token buckets, time zones, join links."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callbridge.graph import odata
from callbridge.graph.errors import GraphError
from callbridge.graph.meetings import new_meeting
from callbridge.graph.paging import PageTokens, fingerprint
from callbridge.graph.timezones import graph_datetime, parse_query_datetime, preferred, resolve
from callbridge.ratelimit import TokenBuckets

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def test_filter_tree() -> None:
    tree = odata.parse_filter("startswith(displayName,'Al') and (accountEnabled eq true or mail eq 'o''neil@x')")
    assert tree == odata.And((odata.Function("startswith", "displayName", "Al"),
                              odata.Or((odata.Compare("accountEnabled", "eq", True),
                                        odata.Compare("mail", "eq", "o'neil@x")))))
    assert odata.parse_filter("id in ('a', 'b')") == odata.In("id", ("a", "b"))
    assert odata.parse_filter("not (surname eq null)") == odata.Not(odata.Compare("surname", "eq", None))
    assert odata.properties(odata.parse_filter("a eq 1 or (b eq 2 and startswith(c,'x'))")) == {"a", "b", "c"}


@pytest.mark.parametrize("text", ["", "displayName eq", "eq 'x'", "startswith(displayName 'a')", "a eq 'x",
                                  "x foo 1", "(a eq 1", "a eq 1)", "a eq 1 and", "startswith(,'a')",
                                  "(" * 40 + "a eq 1" + ")" * 40, " or ".join(["a eq 1"] * 200)])
def test_malformed_filters(text: str) -> None:
    with pytest.raises(odata.ODataError):
        odata.parse_filter(text)


@given(st.text(max_size=300))
def test_filter_parser_never_fails_otherwise(text: str) -> None:
    try:
        odata.parse_filter(text)
    except odata.ODataError:
        pass


@pytest.mark.parametrize("raw,ok", [(None, 100), ("1", 1), ("999", 999)])
def test_top(raw: str | None, ok: int) -> None:
    assert odata.parse_top(raw, 100, 999) == ok


def test_paging_tokens_are_bound_and_signed() -> None:
    tokens = PageTokens(b"k" * 32)
    query = fingerprint({"$top": "10", "$filter": "x"})
    token = tokens.issue("tenant-a", query, ["Alice", "id-1"], NOW)
    assert tokens.read(token, "tenant-a", query, NOW) == ["Alice", "id-1"]
    assert fingerprint({"$filter": "x", "$top": "10", "$skiptoken": token}) == query
    for bad_tenant, bad_query, when, value in [
        ("tenant-b", query, NOW, token), ("tenant-a", fingerprint({"$top": "11"}), NOW, token),
        ("tenant-a", query, NOW + timedelta(hours=2), token), ("tenant-a", query, NOW, token[:-3] + "AAA"),
        ("tenant-a", query, NOW, "garbage"), ("tenant-a", query, NOW, "a.b"),
    ]:
        with pytest.raises(GraphError):
            tokens.read(value, bad_tenant, bad_query, when)
    assert PageTokens(b"other" * 8).issue("tenant-a", query, [1], NOW) != tokens.issue("tenant-a", query, [1], NOW)


def test_token_bucket_on_a_fake_clock() -> None:
    buckets = TokenBuckets(rate_per_s=2, burst=3)
    assert [buckets.take("app:t", NOW) for _ in range(4)] == [0, 0, 0, 1]
    assert buckets.take("other:t", NOW) == 0  # each app and tenant has its own bucket
    assert buckets.take("app:t", NOW + timedelta(seconds=0.5)) == 0


def test_time_zones() -> None:
    assert str(resolve("Pacific Standard Time")) == "America/Los_Angeles"
    assert str(resolve("Europe/Paris")) == "Europe/Paris"
    with pytest.raises(GraphError):
        resolve("Atlantis Standard Time")
    assert preferred('outlook.body-content-type="text", outlook.timezone="W. Europe Standard Time"') == \
        "W. Europe Standard Time"
    assert graph_datetime(NOW, "Pacific Standard Time") == {"dateTime": "2026-11-27T04:00:00.0000000",
                                                             "timeZone": "Pacific Standard Time"}
    assert parse_query_datetime("2026-11-27T12:00:00 01:00", "x") == datetime.fromisoformat("2026-11-27T12:00:00+01:00")


def test_join_link_has_the_teams_shape() -> None:
    meeting = new_meeting("https://cb.example", "tid-1", "oid-1")
    prefix = "https://cb.example/meet/l/meetup-join/"
    assert meeting.join_url.startswith(prefix + "19%3ameeting_") and "%40thread.v2/0?context=%7b" in meeting.join_url
    thread, _, context = meeting.join_url.removeprefix(prefix).partition("/0?context=")
    assert unquote(thread) == meeting.thread_id
    assert json.loads(unquote(context)) == {"Tid": "tid-1", "Oid": "oid-1"}
    assert len(meeting.conference_id) == 9 and len(meeting.join_meeting_id) == 14 and len(meeting.passcode) == 6


def test_one_users_burst_leaves_the_tenant_to_the_others() -> None:
    from callbridge.graph.throttle import GraphThrottle

    throttle = GraphThrottle(TokenBuckets(rate_per_s=1, burst=10), TokenBuckets(rate_per_s=1, burst=3))
    assert [throttle.take("app", "t", "alice", NOW) for _ in range(5)] == [0, 0, 0, 1, 1]
    assert [throttle.take("app", "t", "bob", NOW) for _ in range(3)] == [0, 0, 0]  # alice's 429s took nothing
    assert [throttle.take("app", "t", None, NOW) for _ in range(5)] == [0, 0, 0, 0, 1]  # the app's own token
