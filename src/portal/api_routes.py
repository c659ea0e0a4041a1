"""``/api/*``: what the pages ask of the server, for the signed-in user only (401 otherwise), each answer limited to
the user's own tenant (customers) or their own account (history, tokens)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from portal import customers, history
from portal.bootstrap import Portal
from portal.cookies import SessionUser, session_user
from portal.customers import CustomerFields
from portal.errors import invalid, sign_in_required
from portal.models import CallHistory, Customer
from portal.numbers import NotE164, e164
from portal.schemas import CallIn, ChatIn, CustomerIn, CustomerPatch
from portal.settings import GRAPH_SCOPES, TEAMS_SCOPES

router = APIRouter(prefix="/api")


def portal_of(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


def current_user(request: Request) -> SessionUser:
    portal = portal_of(request)
    user = session_user(portal.signer, request, portal.settings.session_lifetime_s)
    if user is None:
        raise sign_in_required()
    return user


User = Depends(current_user)


async def graph_token(request: Request, user: SessionUser) -> str:
    return await portal_of(request).identity.access_token(user, GRAPH_SCOPES)


@router.get("/me")
async def me(request: Request, user: SessionUser = User) -> dict[str, Any]:
    portal = portal_of(request)
    token = await graph_token(request, user)
    profile, organization = await asyncio.gather(portal.graph.me(token), portal.graph.organization_name(token))
    phones = profile.get("businessPhones") or []
    return {"id": profile.get("id", user.object_id), "displayName": profile.get("displayName"),
            "tenantId": user.tenant_id, "tenantName": organization, "upn": profile.get("userPrincipalName"),
            "phoneNumber": phones[0] if phones else profile.get("mobilePhone")}


@router.get("/token")
async def token(request: Request, user: SessionUser = User) -> Response:
    """A Teams-user communication token for the browser SDK's ``tokenRefresher``."""
    portal = portal_of(request)
    access = await portal.identity.access_token(user, TEAMS_SCOPES)
    got = await portal.exchange.for_teams_user(access, user.object_id)
    return JSONResponse(got.to_json(), headers={"Cache-Control": "no-store"})


@router.get("/directory")
async def directory(request: Request, search: str = "", next: str | None = None,
                    user: SessionUser = User) -> dict[str, Any]:
    page = await portal_of(request).graph.directory(await graph_token(request, user), search[:100], next)
    others = [e.to_json() for e in page.value if e.id != user.object_id]  # nobody calls themselves
    return {"value": others, "next": page.next}


@router.get("/people/{user_id}")
async def person(request: Request, user_id: str, user: SessionUser = User) -> dict[str, Any]:
    found = await portal_of(request).graph.user(await graph_token(request, user), user_id)
    name = str(found.get("displayName") or "")
    return {"displayName": name, "jobTitle": found.get("jobTitle"), "initials": initials(name)}


def initials(name: str) -> str:
    words = [w for w in name.replace("(", " ").split() if w[:1].isalpha()]
    return "".join(w[0] for w in (words[:1] + words[-1:] if len(words) > 1 else words)).upper()


@router.post("/chats")
async def chat(request: Request, body: ChatIn, user: SessionUser = User) -> dict[str, str]:
    graph, token = portal_of(request).graph, await graph_token(request, user)
    if body.userIds is not None:
        return {"threadId": await graph.group_chat(token, user.object_id, body.userIds, body.topic)}
    assert body.userId is not None
    return {"threadId": await graph.one_on_one_chat(token, user.object_id, body.userId)}


@router.get("/meetings")
async def meetings(request: Request, start: datetime, end: datetime, user: SessionUser = User) -> dict[str, Any]:
    if start.tzinfo is None or end.tzinfo is None:
        raise invalid("start and end need a time zone (for example 2026-12-07T00:00:00Z).")
    if not start < end or (end - start).days > 62:
        raise invalid("end must be after start, and at most 62 days after it.")
    found = await portal_of(request).graph.calendar_view(await graph_token(request, user), start, end)
    return {"value": [m.to_json() for m in found]}


def customer_json(c: Customer) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "company": c.company, "phoneNumbers": [n.number for n in c.numbers],
            "notes": c.notes}


@router.get("/customers")
async def list_customers(request: Request, search: str = "", user: SessionUser = User) -> dict[str, Any]:
    async with portal_of(request).db.transaction() as s:
        found = await customers.search(s, user.tenant_id, search[:100])
        return {"value": [customer_json(c) for c in found]}


@router.get("/customers/lookup")
async def lookup_customer(request: Request, number: str, user: SessionUser = User) -> Response:
    try:
        normal = e164(number)
    except NotE164 as exc:
        raise invalid(str(exc)) from None
    async with portal_of(request).db.transaction() as s:
        found = await customers.by_number(s, user.tenant_id, normal)
        return JSONResponse(customer_json(found) if found else None)


@router.post("/customers", status_code=201)
async def create_customer(request: Request, body: CustomerIn, user: SessionUser = User) -> dict[str, Any]:
    async with portal_of(request).db.transaction() as s:
        return customer_json(await customers.create(s, user.tenant_id, body.fields()))


@router.patch("/customers/{customer_id}")
async def update_customer(request: Request, customer_id: str, body: CustomerPatch,
                          user: SessionUser = User) -> dict[str, Any]:
    async with portal_of(request).db.transaction() as s:
        current = await customers.get(s, user.tenant_id, customer_id)
        fields = CustomerFields(current.name, current.company, tuple(n.number for n in current.numbers),
                                current.notes)
        return customer_json(await customers.update(s, user.tenant_id, customer_id, body.applied_to(fields)))


@router.delete("/customers/{customer_id}", status_code=204)
async def delete_customer(request: Request, customer_id: str, user: SessionUser = User) -> Response:
    async with portal_of(request).db.transaction() as s:
        await customers.remove(s, user.tenant_id, customer_id)
    return Response(status_code=204)


def call_json(row: CallHistory, customer: Customer | None) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat().replace("+00:00", "Z") if value else None
    connected = (row.ended_at - row.connected_at).total_seconds() if row.connected_at else 0.0
    return {"callId": row.call_id, "direction": row.direction, "peerRawId": row.peer_raw_id,
            "peerName": row.peer_name, "startedAt": iso(row.started_at), "connectedAt": iso(row.connected_at),
            "endedAt": iso(row.ended_at), "durationS": round(max(connected, 0.0), 1),
            "endReason": {"code": row.end_code, "subCode": row.end_sub_code},
            "customer": {"id": customer.id, "name": customer.name, "company": customer.company} if customer else None}


@router.get("/history")
async def recent_calls(request: Request, user: SessionUser = User) -> dict[str, Any]:
    async with portal_of(request).db.transaction() as s:
        return {"value": [call_json(r, c) for r, c in await history.recent(s, user)]}


@router.post("/history", status_code=201)
async def record_call(request: Request, body: CallIn, user: SessionUser = User) -> dict[str, Any]:
    try:
        finished = body.finished()
    except ValueError as exc:
        raise invalid(f"The call cannot be recorded: {exc}.") from None
    async with portal_of(request).db.transaction() as s:
        row = await history.record(s, user, finished)
        return call_json(row, None)


