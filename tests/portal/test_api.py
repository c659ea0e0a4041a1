"""The portal's API against the real callbridge: who may call it (401, CSRF), the directory, people, chats and the
calendar through callbridge's Graph, the Teams-user token through callbridge's exchange, and silent refresh."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from callbridge.sdk import CallClient, CommunicationTokenCredential
from tests.portal.conftest import PortalBrowser, RunningPortal

API_GETS = ["/api/me", "/api/token", "/api/directory", "/api/people/x", "/api/customers", "/api/history",
            "/api/customers/lookup?number=%2B12065550100",
            "/api/meetings?start=2026-01-01T00:00:00Z&end=2026-01-02T00:00:00Z"]


@pytest.mark.parametrize("path", API_GETS)
def test_anonymous_api_calls_get_401_json(browser: PortalBrowser, path: str) -> None:
    r = browser.api("GET", path)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "SignInRequired" and "Sign in" in r.json()["error"]["message"]


def test_a_forged_session_cookie_is_anonymous(portal: RunningPortal, browser: PortalBrowser) -> None:
    alice = portal.callbridge.user("alice")
    browser.http.cookies.set("portal_session", "eyJrIjoiYSJ9.1.x", domain="localhost")
    assert browser.api("GET", "/api/me").status_code == 401
    assert alice  # the value above names no one: a cookie is accepted only with the portal's signature


@pytest.mark.parametrize("origin", [None, "https://evil.example", "https://localhost:1"])
def test_state_changing_calls_from_another_origin_are_refused(signed_in: Callable[[str], PortalBrowser],
                                                              origin: str | None) -> None:
    b = signed_in("alice")
    headers = {"Origin": origin} if origin else {}
    body = {"name": "Cross Site", "phoneNumbers": ["+12065559900"]}
    r = b.http.post(f"{b.portal.url}/api/customers", json=body, headers=headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "CrossSiteRequest"
    assert b.http.post(f"{b.portal.url}/signout", headers=headers).status_code == 403
    assert b.api("GET", "/api/me").status_code == 200  # still signed in: the forged sign-out did nothing
    assert b.api("GET", "/api/customers", params={"search": "Cross Site"}).json()["value"] == []


async def test_token_endpoint_gives_a_teams_user_token_that_calls(portal: RunningPortal,
                                                                  signed_in: Callable[[str], PortalBrowser]) -> None:
    b = signed_in("alice")
    r = b.api("GET", "/api/token")
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["skypeid"].endswith(portal.callbridge.user("alice")["id"])
    assert datetime.fromisoformat(body["expiresOn"]) > datetime.now(UTC) + timedelta(minutes=30)
    client = CallClient(portal.callbridge.base_url, ca_file=portal.callbridge.ca_file)
    agent = await client.create_teams_call_agent(CommunicationTokenCredential(body["token"]))
    await agent.dispose()  # callbridge's calling service accepted the token


def _cache_of(portal: RunningPortal, who: str) -> dict:
    user = portal.callbridge.user(who)
    with sqlite3.connect(portal.settings.data_dir / "portal.db") as db:
        row = db.execute("SELECT cache FROM token_caches WHERE account_key = ?",
                         (f"{user['id']}.{user['tenant_id']}",)).fetchone()
    return json.loads(row[0])


def _write_cache(portal: RunningPortal, who: str, cache: dict) -> None:
    user = portal.callbridge.user(who)
    with sqlite3.connect(portal.settings.data_dir / "portal.db") as db:
        db.execute("UPDATE token_caches SET cache = ? WHERE account_key = ?",
                   (json.dumps(cache), f"{user['id']}.{user['tenant_id']}"))


def test_expired_access_tokens_are_refreshed_silently(portal: RunningPortal,
                                                      signed_in: Callable[[str], PortalBrowser]) -> None:
    b = signed_in("megan")
    assert b.api("GET", "/api/token").status_code == 200
    cache = _cache_of(portal, "megan")
    refresh_before = {v["secret"] for v in cache["RefreshToken"].values()}
    tenant = portal.callbridge.user("megan")["tenant_id"]

    def in_use(c: dict) -> set[str]:  # the tokens under the user's own tenant (msal filed the code's elsewhere)
        return {v["secret"] for v in c["AccessToken"].values() if v["realm"] == tenant}
    access_before = in_use(cache)
    assert len(access_before) == 2  # Graph's and the communication resource's
    past = str(int(time.time()) - 60)
    for at in cache["AccessToken"].values():  # an hour later, as far as msal can tell
        at["expires_on"] = at["extended_expires_on"] = past
    _write_cache(portal, "megan", cache)
    assert b.api("GET", "/api/me").json()["displayName"] == "Megan Bowen"
    assert b.api("GET", "/api/token").status_code == 200
    after = _cache_of(portal, "megan")
    assert len(in_use(after)) == 2 and not access_before & in_use(after)  # both renewed
    assert not refresh_before & {v["secret"] for v in after["RefreshToken"].values()}  # the refresh token rotated


def test_without_a_refresh_token_the_user_must_sign_in_again(portal: RunningPortal,
                                                             signed_in: Callable[[str], PortalBrowser]) -> None:
    b = signed_in("nina")
    cache = _cache_of(portal, "nina")
    cache["AccessToken"], cache["RefreshToken"] = {}, {}
    _write_cache(portal, "nina", cache)
    r = b.api("GET", "/api/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "SignInRequired"


def test_directory_search_is_paged_and_limited_to_the_tenant(portal: RunningPortal,
                                                              signed_in: Callable[[str], PortalBrowser]) -> None:
    alice = signed_in("alice")
    first = alice.api("GET", "/api/directory").json()
    assert len(first["value"]) == 24 and first["next"]  # a page of 25 without Alice herself
    rest = alice.api("GET", "/api/directory", params={"next": first["next"]}).json()
    everyone = first["value"] + rest["value"]
    fabrikam = portal.callbridge.tenant("Fabrikam")["users"]
    assert sorted(p["id"] for p in everyone) == sorted(u["id"] for u in fabrikam if u["upn"].split("@")[0] != "alice")
    megan = alice.api("GET", "/api/directory", params={"search": "meg"}).json()["value"]
    assert [(p["displayName"], p["jobTitle"], p["mail"]) for p in megan] == [
        ("Megan Bowen", "Marketing manager", "megan@fabrikam.example")]
    nina = signed_in("nina")
    assert nina.api("GET", "/api/directory", params={"search": "meg"}).json()["value"] == []
    northwind = nina.api("GET", "/api/directory").json()
    assert {p["mail"].split("@")[1] for p in northwind["value"]} == {"northwind.example"} and not northwind["next"]


def test_a_next_link_elsewhere_is_refused(signed_in: Callable[[str], PortalBrowser]) -> None:
    import base64

    forged = base64.urlsafe_b64encode(b"https://evil.example/users?$skiptoken=x").decode().rstrip("=")
    r = signed_in("alice").api("GET", "/api/directory", params={"next": forged})
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidRequest"


def test_people_lookup_gives_name_title_and_initials(portal: RunningPortal,
                                                     signed_in: Callable[[str], PortalBrowser]) -> None:
    b = signed_in("alice")
    r = b.api("GET", f"/api/people/{portal.callbridge.user('megan')['id']}")
    assert r.json() == {"displayName": "Megan Bowen", "jobTitle": "Marketing manager", "initials": "MB"}
    other = b.api("GET", f"/api/people/{portal.callbridge.user('nina')['id']}")  # another tenant's user
    assert other.status_code == 404 and other.json()["error"]["code"] == "NotFound"


def test_the_one_on_one_chat_is_created_once(portal: RunningPortal,
                                             signed_in: Callable[[str], PortalBrowser]) -> None:
    b = signed_in("alice")
    megan = portal.callbridge.user("megan")["id"]
    first = b.api("POST", "/api/chats", json={"userId": megan})
    assert first.status_code == 200, first.text
    assert first.json()["threadId"].startswith("19:") and first.json()["threadId"].endswith("@unq.gbl.spaces")
    assert b.api("POST", "/api/chats", json={"userId": megan}).json() == first.json()
    refused = b.api("POST", "/api/chats", json={"userId": portal.callbridge.user("nina")["id"]})
    assert refused.status_code in (400, 403, 404) and refused.json()["error"]["message"]


def test_a_group_chat_for_a_call_grown_beyond_two(portal: RunningPortal,
                                                 signed_in: Callable[[str], PortalBrowser]) -> None:
    b = signed_in("alice")
    megan, adele = portal.callbridge.user("megan")["id"], portal.callbridge.user("adele")["id"]
    made = b.api("POST", "/api/chats", json={"userIds": [megan, adele], "topic": "Call with Megan and Adele"})
    assert made.status_code == 200, made.text
    thread = made.json()["threadId"]
    assert thread.startswith("19:") and thread.endswith("@thread.v2")
    with portal.callbridge.graph("adele") as g:  # Adele is in it, as Graph keeps it
        members = g.get(f"/chats/{thread}/members").json()["value"]
    assert {m["userId"] for m in members} == {portal.callbridge.user("alice")["id"], megan, adele}
    for body, words in [({"userIds": [megan]}, "at least 2"), ({"userId": megan, "userIds": [megan, adele]}, "either"),
                        ({}, "either"), ({"userId": megan, "topic": "x"}, "no topic")]:
        r = b.api("POST", "/api/chats", json=body)
        assert r.status_code == 400 and words in r.json()["error"]["message"], (body, r.text)
    nina = portal.callbridge.user("nina")["id"]
    refused = b.api("POST", "/api/chats", json={"userIds": [megan, nina]})
    assert refused.status_code in (400, 403, 404) and refused.json()["error"]["message"]


def test_meetings_come_from_the_calendar_view(signed_in: Callable[[str], PortalBrowser]) -> None:
    b = signed_in("alice")
    now = datetime.now(UTC)
    r = b.api("GET", "/api/meetings", params={"start": (now - timedelta(days=2)).isoformat(),
                                               "end": (now + timedelta(days=7)).isoformat()})
    assert r.status_code == 200, r.text
    meetings = {m["subject"]: m for m in r.json()["value"]}
    escalation = meetings["Customer escalation: Adatum"]
    assert "/meet/l/meetup-join/19%3ameeting_" in escalation["joinUrl"]
    assert escalation["meetingId"].isdigit() and escalation["passcode"] and escalation["isOrganizer"] is True
    assert escalation["start"].endswith("Z") and escalation["start"] < escalation["end"]
    assert meetings["Lunch with Adele"]["joinUrl"] is None  # a plain event: no Join button
    bad = b.api("GET", "/api/meetings", params={"start": now.isoformat(), "end": (now - timedelta(1)).isoformat()})
    assert bad.status_code == 400 and "after start" in bad.json()["error"]["message"]


def test_the_portals_pages_may_import_callbridges_sdk(portal: RunningPortal, browser: PortalBrowser) -> None:
    """A module script from another origin loads only with CORS: the SDK is public, any origin may import it."""
    r = browser.http.get(portal.settings.callbridge_sdk_url, headers={"Origin": portal.url})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    assert "export class CallClient" in r.text or "CallClient" in r.text


def test_parallel_requests_after_expiry_refresh_once_and_all_succeed(
        portal: RunningPortal, signed_in: Callable[[str], PortalBrowser]) -> None:
    """A page asks for several things at once; when the access tokens have expired, only one request may redeem the
    (rotating, single-use) refresh token: the others must wait for it, not spend it again and sign the user out."""
    from concurrent.futures import ThreadPoolExecutor

    b = signed_in("alice")
    assert b.api("GET", "/api/token").status_code == 200
    for _ in range(3):
        cache = _cache_of(portal, "alice")
        for at in cache["AccessToken"].values():
            at["expires_on"] = at["extended_expires_on"] = str(int(time.time()) - 60)
        _write_cache(portal, "alice", cache)
        paths = ["/api/me", "/api/token", "/api/directory?search=meg", "/api/me", "/api/token", "/api/me"]
        with ThreadPoolExecutor(len(paths)) as pool:
            answers = list(pool.map(lambda p: b.api("GET", p), paths))
        assert [a.status_code for a in answers] == [200] * len(paths), [a.text for a in answers]
        assert len(_cache_of(portal, "alice")["RefreshToken"]) == 1


def test_unknown_addresses_and_methods_answer_in_the_error_shape(signed_in: Callable[[str], PortalBrowser]) -> None:
    b = signed_in("alice")
    missing = b.api("GET", "/api/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NotFound"
    wrong = b.api("PUT", "/api/customers")
    assert wrong.status_code == 405 and wrong.json()["error"]["message"]
