"""Graph's ``$count`` path segment (``/users/$count``, ``/chats/{id}/members/$count``, ``/me/chats/$count``,
``/me/events/$count``, ``/me/calendarView/$count``): the number alone in ``text/plain``, counted as the collection
lists (its ``$filter`` and ``$search`` included), within the caller's tenant; directory objects need
``ConsistencyLevel: eventual`` as Graph's do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import Demo

EVENTUAL = {"ConsistencyLevel": "eventual"}


def _count(r: httpx.Response) -> int:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain"), r.headers["content-type"]
    assert r.text.isdigit(), r.text
    return int(r.text)


def _listed_count(g: httpx.Client, params: dict[str, str]) -> int:
    r = g.get("/users", params={**params, "$count": "true", "$top": "1"}, headers=EVENTUAL)
    assert r.status_code == 200, r.text
    return int(r.json()["@odata.count"])


def test_users_count_is_the_tenants_number_of_users(demo: Demo) -> None:
    with demo.graph("alice") as g:
        counted = _count(g.get("/users/$count", headers=EVENTUAL))
    assert counted == len(demo.tenant("Fabrikam")["users"])


def test_users_count_honours_filter_and_search(demo: Demo) -> None:
    queries = [{"$filter": "startswith(displayName,'A')"}, {"$filter": "endswith(mail,'@fabrikam.example')"},
               {"$search": '"displayName:bow"'}, {"$filter": "accountEnabled eq true", "$search": '"displayName:al"'}]
    with demo.graph("alice") as g:
        for params in queries:
            assert _count(g.get("/users/$count", params=params, headers=EVENTUAL)) == _listed_count(g, params)
        assert _count(g.get("/users/$count", params={"$search": '"displayName:bow"'}, headers=EVENTUAL)) == 1


def test_users_count_stays_in_the_callers_tenant(demo: Demo) -> None:
    with demo.graph("nina") as northwind, demo.graph("alice") as fabrikam:
        theirs = _count(northwind.get("/users/$count", headers=EVENTUAL))
        ours = _count(fabrikam.get("/users/$count", headers=EVENTUAL))
    assert theirs == len(demo.tenant("Northwind")["users"]) != ours
    with demo.app_graph("Northwind") as app:
        assert _count(app.get("/users/$count", headers=EVENTUAL)) == theirs


def test_users_count_without_eventual_consistency_is_graphs_400(demo: Demo) -> None:
    with demo.graph("alice") as g:
        r = g.get("/users/$count")
    assert r.status_code == 400
    error = r.json()["error"]
    assert (error["code"], error["message"]) == ("Request_BadRequest", "$count is not currently supported.")
    assert "request-id" in error["innerError"]


def test_users_count_with_a_bad_filter_is_the_collections_400(demo: Demo) -> None:
    with demo.graph("alice") as g:
        counted = g.get("/users/$count", params={"$filter": "favouriteColour eq 'blue'"}, headers=EVENTUAL)
        listed = g.get("/users", params={"$filter": "favouriteColour eq 'blue'", "$count": "true"}, headers=EVENTUAL)
    assert counted.status_code == listed.status_code == 400
    assert counted.json()["error"]["code"] == listed.json()["error"]["code"]


def test_users_count_needs_the_collections_permission(demo: Demo) -> None:
    with demo.graph("alice", ["User.Read"]) as g:
        r = g.get("/users/$count", headers=EVENTUAL)
    assert r.status_code == 403 and r.json()["error"]["code"] == "Authorization_RequestDenied"


def _group_chat(g: httpx.Client, demo: Demo, *who: str) -> str:
    members = [{"@odata.type": "#microsoft.graph.aadUserConversationMember", "roles": ["owner"],
                "user@odata.bind": f"https://graph.microsoft.com/v1.0/users('{demo.user(w)['id']}')"} for w in who]
    r = g.post("/chats", json={"chatType": "group", "topic": "Counting", "members": members})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_chat_members_and_my_chats_count(demo: Demo) -> None:
    with demo.graph("alice") as g:
        chat = _group_chat(g, demo, "alice", "megan", "adele")
        listed = g.get(f"/chats/{chat}/members").json()["value"]
        assert _count(g.get(f"/chats/{chat}/members/$count")) == 3 == len(listed)
        assert _count(g.get("/me/chats/$count")) == g.get("/me/chats").json()["@odata.count"] >= 1
    with demo.graph("nina") as northwind:  # another tenant's chat is not found, counted or not
        refused, counted = northwind.get(f"/chats/{chat}/members"), northwind.get(f"/chats/{chat}/members/$count")
    assert counted.status_code == refused.status_code == 404
    assert counted.json()["error"]["code"] == refused.json()["error"]["code"]


def test_events_and_calendar_view_count(demo: Demo) -> None:
    now = datetime.now(UTC)
    window = {"startDateTime": (now - timedelta(days=7)).isoformat(),
              "endDateTime": (now + timedelta(days=7)).isoformat()}
    with demo.graph("alice") as g:
        events = g.get("/me/events", params={"$top": "999"}).json()["value"]
        in_view = g.get("/me/calendarView", params={**window, "$top": "999"}).json()["value"]
        assert _count(g.get("/me/events/$count")) == len(events) >= 1
        assert _count(g.get("/me/calendar/events/$count")) == len(events)
        assert _count(g.get("/me/calendarView/$count", params=window)) == len(in_view) >= 1
        assert _count(g.get("/me/calendar/calendarView/$count", params=window)) == len(in_view)
        no_window = g.get("/me/calendarView/$count")
    assert no_window.status_code == 400
    with demo.graph("nina") as northwind:
        assert _count(northwind.get("/me/events/$count")) == len(northwind.get("/me/events").json()["value"])
