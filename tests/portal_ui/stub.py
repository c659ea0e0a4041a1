"""A stand-in for the portal's server (PORTAL_CONTRACT.md) while the real one is being built: the same routes and
JSON shapes, answered from the REAL callbridge (its Graph API with the user's delegated token, its token exchange)
and from memory (customers, history). Sign-in is a test shortcut: ``GET /stub/signin/{who}`` sets a cookie naming
a demo user. The shell is ``static/shell.html`` with the SDK's address filled in, under a strict Content Security
Policy (no inline script or style), so the pages are tested as the real server will serve them.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from callbridge.demo import CUSTOMERS
from tests.conftest import Demo
from tests.support.server import free_port

STATIC = Path(__file__).resolve().parents[2] / "src" / "portal" / "static"
CUSTOMER_NOTES = {CUSTOMERS[0][0]: "Escalation open: late deliveries.", CUSTOMERS[2][0]: "Renewal due in March."}


def customers_of_demo() -> list[dict[str, Any]]:
    """Contoso's customers of Fabrikam: the carrier's demo phones, "Name (Company)"."""
    found = []
    for index, (number, label) in enumerate(CUSTOMERS):
        name, _, company = label.partition(" (")
        found.append({"id": f"c{index + 1}", "name": name, "company": company.rstrip(")"), "phoneNumbers": [number],
                      "notes": CUSTOMER_NOTES.get(number, "")})
    return found


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


@dataclass
class StubState:
    demo: Demo
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    recorded: list[dict[str, Any]] = field(default_factory=list)

    def graph_get(self, who: str, path: str, **params: Any) -> dict[str, Any]:
        with self.demo.graph(who) as g:
            r = g.get(path, params=params, headers={"ConsistencyLevel": "eventual"})
        r.raise_for_status()
        return dict(r.json())


def who_of(request: Request) -> str:
    return str(request.cookies.get("stub-who"))


def stub_app(demo: Demo) -> tuple[FastAPI, StubState]:
    app = FastAPI()
    state = StubState(demo)
    _shell(app, demo)
    _people(app, state)
    _calendar_and_customers(app, state)
    _history(app, state)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app, state


def _shell(app: FastAPI, demo: Demo) -> None:
    sdk_url = f"{demo.base_url}/sdk/calling.js"
    origin = demo.base_url
    csp = "; ".join([
        "default-src 'self'", f"script-src 'self' {origin}", "style-src 'self'",
        f"connect-src 'self' {origin} wss://{urlsplit(origin).netloc}", "img-src 'self' data:",
        "media-src 'self' blob: mediastream:", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"])

    @app.get("/")
    def shell(request: Request) -> HTMLResponse:
        # a test can point the page at a callbridge that is not there (`/stub/signin/{who}?sdk=<url>`)
        where = request.cookies.get("stub-sdk") or sdk_url
        html = (STATIC / "shell.html").read_text().replace("{sdk_url}", where)
        return HTMLResponse(html, headers={"Content-Security-Policy": csp})

    @app.get("/stub/signin/{who}")
    def signin(who: str, sdk: str = "") -> RedirectResponse:
        response = RedirectResponse("/", status_code=303)
        response.set_cookie("stub-who", who, httponly=True, samesite="lax")
        if sdk:
            response.set_cookie("stub-sdk", sdk, httponly=True, samesite="lax")
        return response

    @app.middleware("http")
    async def signed_in(request: Request, call_next: Any) -> Response:
        if request.url.path.startswith("/api/") and not request.cookies.get("stub-who"):
            return error(401, "NotSignedIn", "You are not signed in.")
        response: Response = await call_next(request)
        return response

    @app.get("/api/me")
    def me(request: Request) -> dict[str, Any]:
        who = who_of(request)
        user = demo.user(who)
        tenant = next(t for t in demo.info["tenants"] if t["id"] == user["tenant_id"])
        return {"id": user["id"], "displayName": user["display_name"], "tenantId": user["tenant_id"],
                "tenantName": tenant["name"], "upn": user["upn"], "phoneNumber": user["phone_number"]}



def _people(app: FastAPI, state: StubState) -> None:
    demo = state.demo

    @app.get("/api/token")
    def token(request: Request) -> dict[str, Any]:
        who = who_of(request)
        cached = state.tokens.get(who)
        if not cached or cached[1] - time.time() < 600:
            text = demo.communication_token(who)
            expires = float(jwt.decode(text, options={"verify_signature": False})["exp"])
            state.tokens[who] = cached = (text, expires)
        return {"token": cached[0], "expiresOn": datetime.fromtimestamp(cached[1], UTC).isoformat()}

    @app.get("/api/directory")
    def directory(request: Request, search: str = "", next: str = "") -> Any:
        who = who_of(request)
        if next:
            with demo.graph(who) as g:
                page = g.get(next, headers={"ConsistencyLevel": "eventual"}).json()
        else:
            params: dict[str, Any] = {"$top": 5, "$orderby": "displayName"}
            if search:
                params["$search"] = f'"displayName:{search}"'
            page = state.graph_get(who, "/users", **params)
        people = [{"id": u["id"], "displayName": u["displayName"], "jobTitle": u.get("jobTitle"),
                   "mail": u.get("mail"), "phone": (u.get("businessPhones") or [None])[0]}
                  for u in page["value"] if u["id"] != demo.user(who)["id"]]
        return {"value": people, "next": page.get("@odata.nextLink")}

    @app.post("/api/chats")
    async def chats(request: Request) -> Any:
        who = who_of(request)
        body = await request.json()
        members = [demo.user(who)["id"], body["userId"]]
        with demo.graph(who) as g:
            r = g.post("/chats", json={"chatType": "oneOnOne", "members": [
                {"user@odata.bind": f"https://graph.microsoft.com/v1.0/users('{m}')"} for m in members]})
        if r.status_code >= 400:
            return error(r.status_code, "ChatRefused", r.json()["error"]["message"])
        return {"threadId": r.json()["id"]}



def _calendar_and_customers(app: FastAPI, state: StubState) -> None:
    demo = state.demo

    @app.get("/api/meetings")
    def meetings(request: Request, start: str, end: str) -> Any:
        who = who_of(request)
        page = state.graph_get(who, "/me/calendar/calendarView", startDateTime=start, endDateTime=end)
        mine = demo.user(who)["upn"].lower()
        value = []
        for event in page["value"]:
            online = event.get("onlineMeeting") or {}
            organizer = event.get("organizer", {}).get("emailAddress", {})
            settings = online.get("joinMeetingIdSettings") or {}
            value.append({"subject": event["subject"], "start": event["start"]["dateTime"] + "Z",
                          "end": event["end"]["dateTime"] + "Z", "joinUrl": online.get("joinUrl"),
                          "meetingId": settings.get("joinMeetingId"), "passcode": settings.get("passcode"),
                          "organizer": organizer.get("name") or organizer.get("address"),
                          "isOrganizer": (organizer.get("address") or "").lower() == mine})
        return {"value": value}

    @app.get("/api/customers")
    def customers(search: str = "") -> Any:
        words = search.lower()
        return {"value": [c for c in customers_of_demo() if not words or words in
                          f"{c['name']} {c['company']} {' '.join(c['phoneNumbers'])}".lower()]}

    @app.get("/api/customers/lookup")
    def lookup(number: str) -> Any:
        if not re.fullmatch(r"\+[1-9]\d{6,14}", number):
            return error(400, "InvalidNumber", "The number is not in E.164 format (+ and the country code).")
        return next((c for c in customers_of_demo() if number in c["phoneNumbers"]), None)

    @app.get("/api/people/{user_id}")
    def person(request: Request, user_id: str) -> Any:
        # a delegated User.ReadBasic.All token reads no jobTitle (as Graph's): the app's own token reads the profile
        tenant = next(t["name"] for t in demo.info["tenants"] if t["id"] == demo.user(who_of(request))["tenant_id"])
        with demo.app_graph(tenant) as g:
            r = g.get(f"/users/{user_id}")
        if r.status_code >= 400:
            return error(r.status_code, "PersonNotFound", "That colleague is not in your organisation.")
        user = r.json()
        words = user["displayName"].split()
        return {"displayName": user["displayName"], "jobTitle": user.get("jobTitle"),
                "initials": (words[0][0] + words[-1][0]).upper() if len(words) > 1 else words[0][:2].upper()}



def _history(app: FastAPI, state: StubState) -> None:
    @app.get("/api/history")
    def history(request: Request) -> Any:
        calls = state.history.get(who_of(request), [])
        return {"value": sorted(calls, key=lambda c: c["startedAt"], reverse=True)}

    @app.post("/api/history")
    async def record(request: Request) -> Any:
        who = who_of(request)
        body = await request.json()
        if body.get("direction") not in ("outgoing", "incoming"):  # the portal server's schema
            return error(422, "InvalidCall", "'direction' is 'outgoing' or 'incoming'.")
        number = body["peerRawId"].removeprefix("4:")
        customer = next((c for c in customers_of_demo() if number in c["phoneNumbers"]), None)
        body["customer"] = {k: customer[k] for k in ("id", "name", "company")} if customer else None
        calls = state.history.setdefault(who, [])
        calls[:] = [c for c in calls if c["callId"] != body["callId"]]  # the callId is the key: one entry a call
        calls.append(body)
        state.recorded.append({"who": who, **body})
        return Response(status_code=204)


@contextmanager
def running_stub(demo: Demo) -> Iterator[tuple[str, StubState]]:
    """The stub on a free loopback port over HTTPS (callbridge's local certificate), in a thread."""
    app, state = stub_app(demo)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            ssl_certfile=str(demo.tls.cert_file), ssl_keyfile=str(demo.tls.key_file))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the stub portal did not start")
        time.sleep(0.02)
    try:
        yield f"https://localhost:{port}", state
    finally:
        server.should_exit = True
        thread.join(timeout=10)
