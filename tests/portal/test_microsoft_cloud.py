"""The same portal configured for Microsoft's cloud by settings alone (Entra ID's multi-tenant authority, Graph,
an ACS resource's connection string), against recorded answers in Microsoft's documented shapes: sign-in with the
auth code and PKCE, the token exchange, silent refresh, Graph's users search paging, chats and calendarView."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import requests
from azure.core.pipeline.transport import RequestsTransport

from portal.app import create_app
from portal.bootstrap import Adapters
from portal.settings import PortalSettings
from tests.portal import microsoft
from tests.portal.microsoft import ACS, ADELE, CLIENT_ID, CLIENT_SECRET, LOGIN, MEGAN, TENANT

PORTAL = "https://portal.contoso.example"


@dataclass
class Cloud:
    entra: microsoft.Entra
    graph: microsoft.Graph
    acs: microsoft.CommunicationService
    settings: PortalSettings
    http: httpx.AsyncClient  # the browser, talking to the portal app in-process

    async def sign_in(self) -> httpx.Response:
        started = await self.http.get("/signin")
        assert started.status_code == 302
        authorize = urlsplit(started.headers["location"])
        assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == \
            f"{LOGIN}/organizations/oauth2/v2.0/authorize"
        query = {k: v[0] for k, v in parse_qs(authorize.query).items()}
        assert query["client_id"] == CLIENT_ID and query["code_challenge_method"] == "S256"
        assert query["redirect_uri"] == f"{PORTAL}/auth/callback" and "offline_access" in query["scope"]
        self.entra.nonce = query["nonce"]  # what Entra puts in the ID token
        # Entra signs the person in and sends the browser back with the code (query response mode)
        return await self.http.get("/auth/callback", params={"code": self.entra.code, "state": query["state"],
                                                             "session_state": "recorded"})

    def api(self, method: str, path: str, **kwargs: object) -> object:
        return self.http.request(method, path, headers={"Origin": PORTAL}, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    entra, graph, acs = microsoft.Entra(), microsoft.Graph(), microsoft.CommunicationService()
    session = requests.Session()
    session.mount(ACS, acs)
    settings = PortalSettings(
        authority=f"{LOGIN}/organizations", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_base=PORTAL,
        acs_connection_string=microsoft.acs_connection_string(), graph_base_url="https://graph.microsoft.com/v1.0",
        session_secret="recorded-session-secret", data_dir=tmp_path)
    app = create_app(settings, Adapters(http_transport=httpx.MockTransport(entra),
                                        graph_transport=httpx.MockTransport(graph),
                                        acs_options={"transport": RequestsTransport(session=session)}))
    await app.state.portal.db.migrate()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PORTAL) as http:
        yield Cloud(entra, graph, acs, settings, http)
    await app.state.portal.close()


async def test_sign_in_with_entra_and_the_token_exchange(cloud: Cloud) -> None:
    landed = await cloud.sign_in()
    assert landed.status_code == 303 and landed.headers["location"] == "/"
    redeemed = [form for method, path, form in cloud.entra.requests if path.endswith("/token")]
    assert redeemed[0]["grant_type"] == "authorization_code" and redeemed[0]["code_verifier"]
    assert redeemed[0]["redirect_uri"] == f"{PORTAL}/auth/callback"
    me = (await cloud.api("GET", "/api/me")).json()  # type: ignore[attr-defined]
    assert me == {"id": ADELE, "displayName": "Adele Vance", "tenantId": TENANT, "tenantName": "Contoso",
                  "upn": "AdeleV@contoso.com", "phoneNumber": "+1 425 555 0109"}
    token = await cloud.api("GET", "/api/token")  # type: ignore[misc]
    assert token.status_code == 200, token.text
    assert token.json()["expiresOn"] == "2026-12-08T04:20:07.324458Z"
    assert cloud.acs.exchanged == [{"token": cloud.acs.exchanged[0]["token"], "appId": CLIENT_ID, "userId": ADELE}]
    refreshed = [form for method, path, form in cloud.entra.requests if form.get("grant_type") == "refresh_token"]
    # the code was redeemed at /organizations (msal files those tokens under it): the first silent call per resource
    # refreshes once at the user's own tenant, whose tokens are found from then on
    assert {" ".join(sorted(set(f["scope"].split()) - {"openid", "profile", "offline_access"})) for f in refreshed} \
        == {"Calendars.Read Chat.Create User.Read User.Read.All", " ".join(sorted(microsoft.TEAMS_SCOPE.split()))}
    assert all(path.startswith(f"/{TENANT}/") for _, path, form in cloud.entra.requests
               if form.get("grant_type") == "refresh_token")  # the user's own tenant's authority


async def test_silent_refresh_when_the_access_token_expired(cloud: Cloud) -> None:
    await cloud.sign_in()
    assert (await cloud.api("GET", "/api/me")).status_code == 200  # type: ignore[attr-defined]
    grants = len(cloud.entra.requests)
    assert (await cloud.api("GET", "/api/me")).status_code == 200  # type: ignore[attr-defined]
    assert len(cloud.entra.requests) == grants  # served from the cache
    with sqlite3.connect(cloud.settings.data_dir / "portal.db") as db:
        (raw,) = db.execute("SELECT cache FROM token_caches").fetchone()
        cache = json.loads(raw)
        for at in cache["AccessToken"].values():
            at["expires_on"] = at["extended_expires_on"] = str(int(time.time()) - 1)
        db.execute("UPDATE token_caches SET cache = ?", (json.dumps(cache),))
    assert (await cloud.api("GET", "/api/me")).status_code == 200  # type: ignore[attr-defined]
    assert [f["grant_type"] for _, _, f in cloud.entra.requests[grants:] if f] == ["refresh_token"]
    cloud.entra.refresh_tokens.clear()  # revoked at Entra (AADSTS700082)
    with sqlite3.connect(cloud.settings.data_dir / "portal.db") as db:
        (raw,) = db.execute("SELECT cache FROM token_caches").fetchone()
        cache = json.loads(raw)
        cache["AccessToken"] = {}
        db.execute("UPDATE token_caches SET cache = ?", (json.dumps(cache),))
    r = await cloud.api("GET", "/api/me")  # type: ignore[misc]
    assert r.status_code == 401 and r.json()["error"]["code"] == "SignInRequired"
    assert "Sign in again" in r.json()["error"]["message"]


async def test_graph_search_paging_people_chats_and_calendar(cloud: Cloud) -> None:
    await cloud.sign_in()
    first = (await cloud.api("GET", "/api/directory")).json()  # type: ignore[attr-defined]
    assert len(first["value"]) == 25 and first["next"]
    rest = (await cloud.api("GET", "/api/directory", params={"next": first["next"]})).json()  # type: ignore
    assert [p["displayName"] for p in first["value"] + rest["value"]] == [p["displayName"] for p in microsoft.PEOPLE]
    assert rest["next"] is None
    found = (await cloud.api("GET", "/api/directory", params={"search": "person 0"})).json()  # type: ignore
    assert [p["mail"] for p in found["value"]][:2] == ["person00@contoso.com", "person01@contoso.com"]
    assert found["value"][0] == {"id": microsoft.PEOPLE[0]["id"], "displayName": "Person 00",
                                 "jobTitle": "Engineer", "mail": "person00@contoso.com", "phone": "+1 425 555 0100"}
    searched = next(r for r in cloud.graph.calls if "search" in str(r.url))
    assert searched.headers["consistencylevel"] == "eventual"
    person = (await cloud.api("GET", f"/api/people/{MEGAN}")).json()  # type: ignore[attr-defined]
    assert person == {"displayName": "Megan Bowen", "jobTitle": "Marketing Manager", "initials": "MB"}
    missing = await cloud.api("GET", "/api/people/nobody")  # type: ignore[misc]
    assert missing.status_code == 404 and "does not exist" in missing.json()["error"]["message"]
    chat = (await cloud.api("POST", "/api/chats", json={"userId": MEGAN})).json()  # type: ignore[attr-defined]
    assert chat == {"threadId": f"19:{ADELE}_{MEGAN}@unq.gbl.spaces"}
    group = await cloud.api("POST", "/api/chats", json={"userIds": [MEGAN, microsoft.PEOPLE[0]["id"]]})  # type: ignore[misc]
    assert group.status_code == 200 and group.json()["threadId"].endswith("@thread.v2")
    sent = json.loads(cloud.graph.calls[-1].content)
    assert sent["chatType"] == "group" and [m["roles"] for m in sent["members"]] == [["owner"]] * 3
    meetings = (await cloud.api("GET", "/api/meetings", params={  # type: ignore[attr-defined]
        "start": "2026-12-07T00:00:00Z", "end": "2026-12-14T00:00:00Z"})).json()["value"]
    assert meetings[0]["subject"] == "Plan summer company picnic" and meetings[0]["isOrganizer"] is True
    assert meetings[0]["joinUrl"].startswith("https://teams.microsoft.com/l/meetup-join/19%3ameeting_")
    assert meetings[0]["start"] == "2026-12-08T18:00:00Z" and meetings[0]["organizer"] == "Adele Vance"
    assert meetings[1]["joinUrl"] is None
    view = next(r for r in cloud.graph.calls if "calendarView" in str(r.url))
    assert view.headers["prefer"] == 'outlook.timezone="UTC"'


async def test_a_refused_exchange_is_said_in_words(cloud: Cloud) -> None:
    await cloud.sign_in()
    cloud.acs.exchanged.clear()
    broken = microsoft.CommunicationService.send

    def refuse(self: microsoft.CommunicationService, request: requests.PreparedRequest, **kw: object) -> object:
        return self._answer(request, 401, {"error": {"code": "InvalidAccessToken",
                                                     "message": "Provided access token is not valid."}})
    microsoft.CommunicationService.send = refuse  # type: ignore[method-assign,assignment]
    try:
        r = await cloud.api("GET", "/api/token")  # type: ignore[misc]
    finally:
        microsoft.CommunicationService.send = broken  # type: ignore[method-assign]
    assert r.status_code == 401 and r.json()["error"]["code"] == "TokenExchangeRefused"
    assert "Provided access token is not valid." in r.json()["error"]["message"]


async def test_a_declined_sign_in_is_said_in_words(cloud: Cloud) -> None:
    started = await cloud.http.get("/signin")
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    r = await cloud.http.get("/auth/callback", params={
        "error": "access_denied", "state": state,
        "error_description": "AADSTS65004: User declined to consent to access the app."})
    assert r.status_code == 400 and "User declined to consent to access the app." in r.text
    assert (await cloud.api("GET", "/api/me")).status_code == 401  # type: ignore[attr-defined]
