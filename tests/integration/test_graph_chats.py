"""``/graph/v1.0/chats``: one-on-one chats are one per pair and idempotent; only members read them."""

from __future__ import annotations

import re

from tests.conftest import Demo


def _member(oid_or_upn: str) -> dict[str, object]:
    return {"@odata.type": "#microsoft.graph.aadUserConversationMember", "roles": ["owner"],
            "user@odata.bind": f"https://graph.microsoft.com/v1.0/users('{oid_or_upn}')"}


def _one_on_one(a: str, b: str) -> dict[str, object]:
    return {"chatType": "oneOnOne", "members": [_member(a), _member(b)]}


def test_one_on_one_chat_is_created_once_per_pair(demo: Demo) -> None:
    alice, megan = demo.user("alice"), demo.user("joni")  # a pair no other test puts in a chat
    expected = f"19:{min(alice['id'], megan['id'])}_{max(alice['id'], megan['id'])}@unq.gbl.spaces"
    with demo.graph("alice") as g:
        first = g.post("/chats", json=_one_on_one(alice["id"], megan["upn"]))
        again = g.post("/chats", json=_one_on_one(megan["id"], alice["id"]))
    assert first.status_code == 201 and first.json()["id"] == expected and first.json()["chatType"] == "oneOnOne"
    assert first.json()["topic"] is None
    assert again.status_code == 200 and again.json()["id"] == expected
    with demo.graph("joni") as g:  # the other member sees the same chat
        assert g.get(f"/chats/{expected}").json()["id"] == expected
        members = g.get(f"/chats/{expected}/members").json()["value"]
        assert expected in [c["id"] for c in g.get("/me/chats").json()["value"]]
    assert sorted(m["displayName"] for m in members) == ["Alice Smith", "Joni Sherman"]
    assert all(m["@odata.type"] == "#microsoft.graph.aadUserConversationMember" for m in members)


def test_group_chat_with_topic(demo: Demo) -> None:
    body = {"chatType": "group", "topic": "Adatum escalation",
            "members": [_member(demo.user(x)["id"]) for x in ("alice", "megan", "lee")]}
    with demo.graph("alice") as g:
        r = g.post("/chats", json=body)
    assert r.status_code == 201 and re.fullmatch(r"19:[0-9a-f]{32}@thread\.v2", r.json()["id"])
    assert r.json()["topic"] == "Adatum escalation"


def test_only_members_read_a_chat(demo: Demo) -> None:
    alice, adele = demo.user("alice"), demo.user("adele")
    with demo.graph("alice") as g:
        chat_id = g.post("/chats", json=_one_on_one(alice["id"], adele["id"])).json()["id"]
    with demo.graph("lee") as g:
        outsider = g.get(f"/chats/{chat_id}")
        outsider_members = g.get(f"/chats/{chat_id}/members")
    with demo.graph("nina") as g:
        other_tenant = g.get(f"/chats/{chat_id}")
    assert outsider.status_code == 403 and outsider_members.status_code == 403
    assert other_tenant.status_code == 404 and other_tenant.json()["error"]["code"] == "NotFound"


def test_caller_must_be_a_member(demo: Demo) -> None:
    with demo.graph("alice") as g:
        r = g.post("/chats", json=_one_on_one(demo.user("megan")["id"], demo.user("lee")["id"]))
    assert r.status_code in (400, 403) and r.json()["error"]["message"]


def test_members_of_another_tenant_cannot_be_bound(demo: Demo) -> None:
    with demo.graph("alice") as g:
        r = g.post("/chats", json=_one_on_one(demo.user("alice")["id"], demo.user("nina")["id"]))
    assert r.status_code == 404 and r.json()["error"]["code"] == "Request_ResourceNotFound"


def test_chat_create_needs_its_scope(demo: Demo) -> None:
    with demo.graph("alice", ["User.Read"]) as g:
        r = g.post("/chats", json=_one_on_one(demo.user("alice")["id"], demo.user("megan")["id"]))
    assert r.status_code == 403


def test_bad_chat_bodies(demo: Demo) -> None:
    alice = demo.user("alice")["id"]
    bodies = [None, [], {"chatType": "oneOnOne"}, {"chatType": "triangle", "members": [_member(alice)]},
              {"chatType": "oneOnOne", "members": [_member(alice)]},
              {"chatType": "oneOnOne", "members": [_member(alice), {"roles": ["owner"]}]},
              {"chatType": "oneOnOne", "members": [_member(alice), _member(alice)]}]
    with demo.graph("alice") as g:
        for body in bodies:
            r = g.post("/chats", json=body)
            assert r.status_code == 400 and r.json()["error"]["message"], body
        raw = g.post("/chats", content=b"{not json", headers={"Content-Type": "application/json"})
    assert raw.status_code == 400 and "JSON" in raw.json()["error"]["message"]
