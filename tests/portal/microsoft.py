"""Recorded answers in the shapes Microsoft documents, for the portal configured against Microsoft's cloud (these
machines cannot reach it): Entra ID (login.microsoftonline.com: discovery, the token endpoint's auth code and
refresh grants with ``client_info``), Microsoft Graph (graph.microsoft.com: /me, /users with ``$search`` and
``@odata.nextLink``, /users/{id}, POST /chats, calendarView, OData errors) and ACS's token exchange
(``/teamsUser/:exchangeAccessToken``, HMAC-signed). Each service checks what Microsoft checks of a request."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import requests
import urllib3
from requests.adapters import BaseAdapter

from callbridge.acs.hmac_auth import sign_headers

LOGIN = "https://login.microsoftonline.com"
GRAPH = "https://graph.microsoft.com/v1.0"
ACS = "https://contoso-acs.communication.azure.com"
ACS_KEY = base64.b64encode(b"recorded-acs-access-key-of-32-by").decode()
CLIENT_ID, CLIENT_SECRET = "0a3c2f5e-0b6f-4c8e-9a58-3f0d7e2d1b11", "recorded~secret"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "d7c1b5a3-5bfb-4f8e-8f3c-1c1f4c1d2e3f"
ADELE = "87d349ed-44d7-43e1-9a83-5f2406dee5bd"
MEGAN = "48d31887-5fad-4d73-a9f5-3c356e68a038"
TEAMS_SCOPE = "https://auth.msft.communication.azure.com/Teams.ManageCalls " \
              "https://auth.msft.communication.azure.com/Teams.ManageChats"


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _unsigned(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, "recorded-signing-key-not-checked-by-the-portal", algorithm="HS256")


@dataclass
class Entra:
    """login.microsoftonline.com for one multi-tenant app; ``nonce`` is the one the browser carried to authorize."""

    nonce: str = ""
    code: str = "0.AXEA-recorded-authorization-code"
    tenant: str = TENANT
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    refresh_tokens: set[str] = field(default_factory=set)
    issued: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = urlsplit(str(request.url))
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()} if request.method == "POST" else {}
        self.requests.append((request.method, url.path, form))
        if url.path.endswith("/discovery/instance"):
            return httpx.Response(200, json={"tenant_discovery_endpoint": f"{LOGIN}/{url.path.split('/')[1]}"
                                             "/v2.0/.well-known/openid-configuration", "api-version": "1.1",
                                             "metadata": [{"preferred_network": "login.microsoftonline.com",
                                                           "preferred_cache": "login.windows.net",
                                                           "aliases": ["login.microsoftonline.com",
                                                                       "login.windows.net"]}]})
        if url.path.endswith("/v2.0/.well-known/openid-configuration"):
            return httpx.Response(200, json=self._discovery(url.path.split("/")[1]))
        if url.path.endswith("/oauth2/v2.0/token"):
            return self._token(form)
        return httpx.Response(404, json={"error": "not_found"})

    def _discovery(self, segment: str) -> dict[str, Any]:
        root = f"{LOGIN}/{segment}"
        issuer_tenant = segment if segment not in ("organizations", "common") else "{tenantid}"
        return {"token_endpoint": f"{root}/oauth2/v2.0/token",
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "end_session_endpoint": f"{root}/oauth2/v2.0/logout", "jwks_uri": f"{root}/discovery/v2.0/keys",
                "issuer": f"{LOGIN}/{issuer_tenant}/v2.0",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                          "client_secret_basic"],
                "code_challenge_methods_supported": ["plain", "S256"], "tenant_region_scope": "WW",
                "cloud_instance_name": "microsoftonline.com", "scopes_supported": ["openid", "profile", "email",
                                                                                    "offline_access"]}

    def _error(self, error: str, description: str, codes: list[int]) -> httpx.Response:
        return httpx.Response(400, json={"error": error, "error_description": f"AADSTS{codes[0]}: {description}",
                                         "error_codes": codes, "timestamp": "2026-12-07 03:20:00Z",
                                         "trace_id": "0b6c5d2e-0000-0000-0000-000000000000",
                                         "correlation_id": "1f2e3d4c-0000-0000-0000-000000000000"})

    def _token(self, form: dict[str, str]) -> httpx.Response:
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return self._error("invalid_client", "Invalid client secret provided.", [7000215])
        if form.get("grant_type") == "authorization_code":
            if form.get("code") != self.code or not form.get("code_verifier"):
                return self._error("invalid_grant", "The provided authorization code is invalid.", [70000])
            return self._tokens(form["scope"], id_token=True)
        if form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return self._error("invalid_grant", "The refresh token has expired due to inactivity.", [700082])
            self.refresh_tokens.discard(form["refresh_token"])
            return self._tokens(form["scope"], id_token=True)
        return self._error("unsupported_grant_type", "The grant type is not supported.", [70003])

    def _tokens(self, scope: str, id_token: bool) -> httpx.Response:
        now = int(time.time())
        self.issued += 1
        resource = "https://auth.msft.communication.azure.com" if "auth.msft.communication" in scope \
            else "00000003-0000-0000-c000-000000000000"
        granted = " ".join(s for s in scope.split() if s not in ("openid", "profile", "offline_access"))
        access = _unsigned({"aud": resource, "iss": f"https://sts.windows.net/{self.tenant}/", "iat": now,
                            "nbf": now, "exp": now + 3599, "oid": ADELE, "tid": self.tenant, "scp": granted,
                            "appid": CLIENT_ID, "n": self.issued})
        refresh = f"0.AXEA-recorded-refresh-token-{self.issued}"
        self.refresh_tokens.add(refresh)
        body: dict[str, Any] = {"token_type": "Bearer", "scope": granted, "expires_in": 3599,
                                "ext_expires_in": 3599, "access_token": access, "refresh_token": refresh,
                                "client_info": _b64({"uid": ADELE, "utid": self.tenant})}
        if id_token:
            body["id_token"] = _unsigned({
                "aud": CLIENT_ID, "iss": f"{LOGIN}/{self.tenant}/v2.0", "iat": now, "nbf": now, "exp": now + 3600,
                "name": "Adele Vance", "nonce": self.nonce, "oid": ADELE, "preferred_username": "AdeleV@contoso.com",
                "rh": "0.AXEA-recorded", "sub": "recorded-subject", "tid": self.tenant, "uti": "recorded",
                "ver": "2.0"})
        return httpx.Response(200, json=body)


def _graph_error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message, "innerError": {
        "date": "2026-12-07T03:20:00", "request-id": "c5d2e0f1-0000-0000-0000-000000000000",
        "client-request-id": "c5d2e0f1-0000-0000-0000-000000000000"}}})


PEOPLE = [{"id": f"{i:08d}-0000-0000-0000-000000000000", "displayName": f"Person {i:02d}", "jobTitle": "Engineer",
           "mail": f"person{i:02d}@contoso.com", "userPrincipalName": f"person{i:02d}@contoso.com",
           "businessPhones": [f"+1 425 555 01{i:02d}"], "mobilePhone": None} for i in range(30)]


@dataclass
class Graph:
    """graph.microsoft.com/v1.0 for Adele Vance of Contoso (delegated tokens only)."""

    calls: list[httpx.Request] = field(default_factory=list)
    chats: dict[frozenset[str], str] = field(default_factory=dict)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return _graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
        claims = jwt.decode(auth[7:], options={"verify_signature": False})
        if claims.get("aud") != "00000003-0000-0000-c000-000000000000":
            return _graph_error(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
        path = urlsplit(str(request.url)).path.removeprefix("/v1.0")
        routes = {("GET", "/me"): self._me, ("GET", "/organization"): self._organization,
                  ("GET", "/users"): self._users, ("POST", "/chats"): self._chat,
                  ("GET", "/me/calendar/calendarView"): self._calendar}
        if (request.method, path) in routes:
            return routes[(request.method, path)](request)
        if request.method == "GET" and path.startswith("/users/"):
            return self._user(path.split("/")[2])
        return _graph_error(400, "BadRequest", f"Resource not found for the segment '{path.split('/')[-1]}'.")

    def _me(self, _request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"@odata.context": f"{GRAPH}/$metadata#users/$entity", "id": ADELE,
                                         "displayName": "Adele Vance", "userPrincipalName": "AdeleV@contoso.com",
                                         "mail": "AdeleV@contoso.com", "jobTitle": "Retail Manager",
                                         "businessPhones": ["+1 425 555 0109"], "mobilePhone": None})

    def _organization(self, _request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"@odata.context": f"{GRAPH}/$metadata#organization(id,displayName)",
                                         "value": [{"id": TENANT, "displayName": "Contoso"}]})

    def _user(self, user_id: str) -> httpx.Response:
        if user_id == MEGAN:
            return httpx.Response(200, json={"@odata.context": f"{GRAPH}/$metadata#users(id,displayName,jobTitle)"
                                             "/$entity", "id": MEGAN, "displayName": "Megan Bowen",
                                             "jobTitle": "Marketing Manager"})
        return _graph_error(404, "Request_ResourceNotFound",
                            f"Resource '{user_id}' does not exist or one of its queried reference-property objects "
                            "are not present.")

    def _users(self, request: httpx.Request) -> httpx.Response:
        query = {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        if "$search" in query and request.headers.get("consistencylevel") != "eventual":
            return _graph_error(400, "Request_UnsupportedQuery", "Request with $search query parameter only works "
                                "through MSGraph with a special request header: 'ConsistencyLevel: eventual'")
        people = PEOPLE
        if "$search" in query:
            term = query["$search"].split(":", 1)[1].split('"')[0].lower()
            people = [p for p in PEOPLE if p["displayName"].lower().startswith(term)
                      or p["mail"].lower().startswith(term)]
        start = int(query.get("$skiptoken", "0").removeprefix("RFNwdAIAAQAAA") or 0)
        top = int(query.get("$top", "100"))
        body: dict[str, Any] = {"@odata.context": f"{GRAPH}/$metadata#users(id,displayName)",
                                "@odata.count": len(people), "value": people[start:start + top]}
        if start + top < len(people):
            rest = "&".join(f"{k}={v}" for k, v in query.items() if k != "$skiptoken")
            body["@odata.nextLink"] = f"{GRAPH}/users?{rest}&$skiptoken=RFNwdAIAAQAAA{start + top}"
        return httpx.Response(200, json=body)

    def _chat(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        members = frozenset(m["user@odata.bind"].split("'")[1] for m in body["members"])
        kind = body.get("chatType")
        if ADELE not in members or not ((kind == "oneOnOne" and len(members) == 2)
                                        or (kind == "group" and len(members) >= 3)):
            return _graph_error(400, "BadRequest", "Invalid chat members.")
        if kind == "group":  # a new chat every time, as Graph makes them
            chat_id = f"19:{len(self.chats):032x}@thread.v2"
            self.chats[frozenset([*members, chat_id])] = chat_id
        else:
            chat_id = self.chats.setdefault(members, f"19:{ADELE}_{sorted(members - {ADELE})[0]}@unq.gbl.spaces")
        return httpx.Response(201, json={"@odata.context": f"{GRAPH}/$metadata#chats/$entity", "id": chat_id,
                                         "topic": body.get("topic"), "createdDateTime": "2026-12-07T03:20:00.123Z",
                                         "lastUpdatedDateTime": "2026-12-07T03:20:00.123Z", "chatType": kind,
                                         "webUrl": f"https://teams.microsoft.com/l/chat/{chat_id}/0",
                                         "tenantId": TENANT})

    def _calendar(self, request: httpx.Request) -> httpx.Response:
        query = {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        if "startDateTime" not in query or "endDateTime" not in query:
            return _graph_error(400, "ErrorInvalidParameter", "This request requires a time window specified by "
                                "the query string parameters StartDateTime and EndDateTime.")
        join = ("https://teams.microsoft.com/l/meetup-join/19%3ameeting_NzQ3MjdjYjMtOGE1Yy00ZDBl%40thread.v2/0"
                f"?context=%7b%22Tid%22%3a%22{TENANT}%22%2c%22Oid%22%3a%22{ADELE}%22%7d")
        events = [
            {"@odata.etag": 'W/"1"', "id": "AAMkAGI1AAAt9AHjAAA=", "subject": "Plan summer company picnic",
             "isOrganizer": True, "isCancelled": False, "isOnlineMeeting": True,
             "onlineMeetingProvider": "teamsForBusiness", "onlineMeetingUrl": None,
             "start": {"dateTime": "2026-12-08T18:00:00.0000000", "timeZone": "UTC"},
             "end": {"dateTime": "2026-12-08T19:00:00.0000000", "timeZone": "UTC"},
             "onlineMeeting": {"joinUrl": join},
             "organizer": {"emailAddress": {"name": "Adele Vance", "address": "AdeleV@contoso.com"}}},
            {"@odata.etag": 'W/"2"', "id": "AAMkAGI1AAAt9AHkAAA=", "subject": "Dentist", "isOrganizer": True,
             "isCancelled": False, "isOnlineMeeting": False, "onlineMeeting": None,
             "start": {"dateTime": "2026-12-09T08:00:00.0000000", "timeZone": "UTC"},
             "end": {"dateTime": "2026-12-09T09:00:00.0000000", "timeZone": "UTC"},
             "organizer": {"emailAddress": {"name": "Adele Vance", "address": "AdeleV@contoso.com"}}},
        ]
        return httpx.Response(200, json={"@odata.context": f"{GRAPH}/$metadata#users('{ADELE}')/calendar/"
                                         "calendarView", "value": events})


class CommunicationService(BaseAdapter):
    """ACS's identity API under azure-core's requests transport: checks the HMAC signature with the access key as
    the service does, then exchanges a Teams user's Entra token."""

    def __init__(self) -> None:
        super().__init__()
        self.exchanged: list[dict[str, Any]] = []

    def send(self, request: requests.PreparedRequest, **_kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = urlsplit(str(request.url))
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        path = f"{url.path}?{url.query}"
        expected = sign_headers("POST", path, url.netloc, body, ACS_KEY, request.headers["x-ms-date"])
        if request.headers.get("Authorization") != expected["Authorization"]:
            return self._answer(request, 401, {"error": {"code": "Denied", "message": "Denied by the "
                                                         "authentication policy: the HMAC signature is invalid."}})
        payload = json.loads(body)
        claims = jwt.decode(payload["token"], options={"verify_signature": False})
        if claims.get("aud") != "https://auth.msft.communication.azure.com" or payload["appId"] != CLIENT_ID:
            return self._answer(request, 401, {"error": {"code": "InvalidAccessToken",
                                                         "message": "Provided access token is not valid."}})
        self.exchanged.append(payload)
        return self._answer(request, 200, {"token": _unsigned({"skypeid": f"orgid:{payload['userId']}",
                                                               "exp": int(time.time()) + 3600}),
                                           "expiresOn": "2026-12-08T04:20:07.3244584+00:00"})

    def _answer(self, request: requests.PreparedRequest, status: int, body: dict[str, Any]) -> requests.Response:
        response = requests.Response()
        response.status_code, response.url, response.request = status, str(request.url), request
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json; charset=utf-8"
        response.headers["MS-CV"] = hashlib.sha256(response._content).hexdigest()[:22]
        response.encoding = "utf-8"
        response.raw = urllib3.HTTPResponse(body=io.BytesIO(response._content), headers=dict(response.headers),
                                            status=status, preload_content=False)
        return response

    def close(self) -> None:
        pass


def acs_connection_string() -> str:
    return f"endpoint={ACS}/;accesskey={ACS_KEY}"


def dated() -> str:
    return formatdate(usegmt=True)
