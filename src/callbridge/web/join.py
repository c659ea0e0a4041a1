"""The join link in a browser: what opening a meeting's link (``/meet/l/meetup-join/...`` or
``/meet/<meeting id>?p=<passcode>``, the shapes ``graph/meetings.py`` makes) shows, as Teams' own join page does.

The page is rendered here (the link, HTML-escaped, in a data attribute; no inline script or style, so the edge's
hash-based CSP holds) and runs ``/sdk/join.js``, which joins with the browser SDK:

- as a guest with a name: ``POST /meet/guest`` makes a communication identity with a voip token for the visit,
  in the communication resource of the meeting organizer's tenant (or the deployment's first one). Anyone who
  has the link may ask, so it is rate-limited per client address (``join_guest_per_minute``,
  ``join_guest_burst``) and the token is short-lived (``join_guest_token_minutes``); the lobby still decides
  who gets in (docs/security.md, "The join page");
- as an organisation user, signed in with the identity provider (a public client with PKCE: the page redirects
  to the authorize endpoint and back to ``/meet/signed-in``), when ``join_page_client_id`` names that client;
  ``POST /meet/token`` exchanges the user's Teams access token for a communication token, as an app's backend
  does through ``/teamsUser/:exchangeAccessToken``.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import select

from callbridge.acs import errors as acs_errors
from callbridge.acs.context import AcsContext
from callbridge.acs.exchange import exchange, verify_organisation_token
from callbridge.acs.identities import create_identity
from callbridge.identity.client_address import client_address, parse_networks
from callbridge.json_body import JsonRejected, read_json
from callbridge.meetings.locators import ThreadLocator, parse_join_link
from callbridge.meetings.lookup import find_meeting
from callbridge.meetings.refusals import MeetingRefused
from callbridge.ratelimit import TokenBuckets
from callbridge.store.models import CommunicationResource

router = APIRouter(tags=["meeting join page"])
# what the page asks the user to consent to: the scopes the token exchange needs
TEAMS_SCOPES = ("https://auth.msft.communication.azure.com/Teams.ManageCalls",
                "https://auth.msft.communication.azure.com/Teams.ManageChats")


@dataclass(frozen=True)
class GuestTicket:
    """What a guest joins with: its communication identity and a voip token for it."""

    identity: str
    token: str
    expires_on: str

    def to_json(self) -> dict[str, str]:
        return {"identity": self.identity, "token": self.token, "expiresOn": self.expires_on}


def _problem(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _link_of(request: Request) -> str:
    """The link as the visitor opened it, on this deployment's public base URL (not the Host header)."""
    base: str = request.app.state.acs.settings.public_base_url
    raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")
    return base.rstrip("/") + raw_path + (f"?{query}" if query else "")


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Join the meeting</title>
<link rel="stylesheet" href="/sdk/join.css">
</head>
<body>
<main id="join-page" data-meeting-link="{link}" data-client-id="{client_id}" data-authority="{authority}"
      data-scope="{scope}" data-problem="{problem}">
<h1>Join the meeting</h1>
<p id="problem" role="alert" hidden></p>
<section id="choose">
  <form id="guest-form">
    <label>Your name <input id="guest-name" maxlength="256" autocomplete="name" required></label>
    <button id="join-as-guest" type="submit">Join as a guest</button>
  </form>
  <p id="sign-in-choice" hidden>or
    <button id="sign-in" type="button">Sign in with your organisation account</button></p>
</section>
<section id="in-call" hidden>
  <p id="state" data-state="None">Connecting…</p>
  <h2>In the meeting</h2>
  <ul id="roster"></ul>
  <button id="mute" type="button">Mute</button>
  <button id="leave" type="button">Leave</button>
</section>
</main>
<script type="module" src="/sdk/join.js"></script>
</body>
</html>
"""


def _page(request: Request, link: str, problem: str = "", status: int = 200) -> HTMLResponse:
    settings = request.app.state.acs.settings
    base = settings.public_base_url.rstrip("/")
    values = {"link": link, "client_id": settings.join_page_client_id, "authority": f"{base}/organizations",
              "scope": " ".join(TEAMS_SCOPES), "problem": problem}
    body = PAGE.format(**{k: html.escape(v, quote=True) for k, v in values.items()})
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/meet/l/meetup-join/{thread}/{message}", include_in_schema=False)
async def join_by_thread_link(thread: str, message: str, request: Request) -> HTMLResponse:
    return _checked_page(request)


@router.get("/meet/signed-in", include_in_schema=False)
async def signed_in(request: Request) -> HTMLResponse:
    """Where the identity provider sends an organisation user back (the page picks the link up where it left it)."""
    return _page(request, "")


@router.get("/meet/{meeting_id}", include_in_schema=False)
async def join_by_meeting_id(meeting_id: str, request: Request) -> HTMLResponse:
    return _checked_page(request)


def _checked_page(request: Request) -> HTMLResponse:
    link = _link_of(request)
    try:
        parse_join_link(link, request.app.state.acs.settings.public_base_url)
    except MeetingRefused as refused:
        return _page(request, "", refused.message, status=404)
    return _page(request, link)


def _limiter(request: Request) -> TokenBuckets:
    state = request.app.state
    if not hasattr(state, "join_guest_buckets"):
        settings = state.acs.settings
        state.join_guest_buckets = TokenBuckets(settings.join_guest_per_minute / 60.0, settings.join_guest_burst)
    buckets: TokenBuckets = state.join_guest_buckets
    return buckets


def _address(request: Request) -> str:
    settings = request.app.state.acs.settings
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.getlist("x-forwarded-for"), parse_networks(settings.trusted_proxies))


async def _json_body(request: Request) -> dict[str, object] | None:
    """The request's JSON object; None unless it is one sent as ``application/json`` (which a form on another
    site cannot send without the browser asking first)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return None
    try:
        body = read_json(await request.body())
    except JsonRejected:
        return None
    return body if isinstance(body, dict) else None


async def _resource_of_tenant(ctx: AcsContext, tenant_id: str | None) -> str | None:
    """The tenant's (oldest) communication resource; with no tenant given, the deployment's oldest."""
    query = select(CommunicationResource.id).order_by(CommunicationResource.created_at).limit(1)
    if tenant_id is not None:
        query = query.where(CommunicationResource.tenant_id == tenant_id)
    async with ctx.db.reading() as s:
        found = await s.scalar(query)
    return str(found) if found is not None else None


@router.post("/meet/guest", include_in_schema=False)
async def guest_ticket(request: Request) -> Response:
    """``{meetingLink}`` -> ``{identity, token, expiresOn}``: a communication identity for one guest's visit."""
    ctx: AcsContext = request.app.state.acs
    wait = _limiter(request).take(_address(request), ctx.clock.now())
    if wait:
        return _problem(429, "TooManyRequests", "Too many guests from this address; try again later.",
                        {"Retry-After": str(wait)})
    body = await _json_body(request)
    link = body.get("meetingLink") if body else None
    if not isinstance(link, str):
        return _problem(400, "InvalidRequest", "Send {\"meetingLink\": ...} as application/json.")
    try:
        locator = parse_join_link(link, ctx.settings.public_base_url)
        tenant_id = locator.tenant_id if isinstance(locator, ThreadLocator) else None
        if tenant_id is None:
            tenant_id = (await find_meeting(ctx.db, locator)).tenant_id
    except MeetingRefused as refused:
        status = refused.refusal.reason.code or 404
        return _problem(status, "MeetingRefused", refused.message)
    # the organizer's tenant's resource, as its own guests; else the deployment's (ACS users of any resource join
    # Teams meetings where the organizer's tenant allows it: the meeting's lobby and policy still decide)
    resource_id = await _resource_of_tenant(ctx, tenant_id) or await _resource_of_tenant(ctx, None)
    if resource_id is None:
        return _problem(503, "NoCommunicationResource", "This deployment has no communication resource for guests.")
    minutes = max(60, min(1440, math.ceil(ctx.settings.join_guest_token_minutes)))
    made = await create_identity(ctx, resource_id, {"createTokenWithScopes": ["voip"], "expiresInMinutes": minutes})
    ticket = GuestTicket(made["identity"]["id"], made["accessToken"]["token"], made["accessToken"]["expiresOn"])
    return JSONResponse(ticket.to_json(), headers={"Cache-Control": "no-store"})


@router.post("/meet/token", include_in_schema=False)
async def organisation_ticket(request: Request) -> Response:
    """``{accessToken}`` (the user's Teams access token, from signing in on the page) -> ``{identity, token,
    expiresOn}``: the exchange an app's backend makes, for the join page's own public client only."""
    ctx: AcsContext = request.app.state.acs
    client_id = ctx.settings.join_page_client_id.lower()
    if not client_id:
        return _problem(404, "NotFound", "Signing in on the join page is not set up here.")
    wait = _limiter(request).take(_address(request), ctx.clock.now())
    if wait:
        return _problem(429, "TooManyRequests", "Too many requests from this address; try again later.",
                        {"Retry-After": str(wait)})
    body = await _json_body(request)
    token = body.get("accessToken") if body else None
    if not isinstance(token, str) or len(token) > 16384:
        return _problem(400, "InvalidRequest", "Send {\"accessToken\": ...} as application/json.")
    try:
        claims = await verify_organisation_token(ctx, token, ctx.clock.now())
        tenant_id = str(claims.get("tid", ""))
        resource_id = await _resource_of_tenant(ctx, tenant_id) or await _resource_of_tenant(ctx, None)
        if resource_id is None:
            return _problem(503, "NoCommunicationResource", "This deployment has no communication resource.")
        exchanged = await exchange(ctx, {"token": token, "appId": client_id, "userId": str(claims.get("oid", ""))},
                                   resource_id)
    except acs_errors.AcsError as exc:
        return JSONResponse(exc.body(), status_code=exc.status)
    user = f"8:orgid:{claims.get('oid', '')}"
    return JSONResponse(GuestTicket(user, exchanged.token, exchanged.body()["expiresOn"]).to_json(),
                        headers={"Cache-Control": "no-store"})
