"""Limits per identity on ``/calling/ws``, and revocation reaching open sockets, on the real server.

A caller may have a bounded number of calls in progress and start calls at a bounded rate; an identity may hold a
bounded number of sockets. The checks are atomic: parallel attempts on several sockets cannot all pass. An
identity deleted, disabled or whose tokens are revoked loses its open sockets within the re-check interval
(``identity_recheck_s``), also when the change comes from outside the server (``demo.change``, as the admin CLI)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import uuid
from collections.abc import AsyncIterator
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

import pytest
import websockets
from sqlalchemy.ext.asyncio import AsyncSession

from callbridge.acs.hmac_auth import sign_headers
from callbridge.acs.routes import API_VERSIONS
from callbridge.directory import users
from tests.conftest import Demo
from tests.integration.test_calling_signalling import Agent, chat_between, raw

WAIT = 10.0


async def closed_with(ws: Any, timeout: float = WAIT) -> tuple[int | None, str]:
    """The close code and reason the server gave (reading whatever frames come first)."""
    async def drain() -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                await ws.recv()

    await asyncio.wait_for(drain(), timeout)
    return ws.close_code, ws.close_reason


async def socket(demo: Demo) -> Any:
    return await websockets.connect(f"wss://localhost:{demo.settings.https_port}/calling/ws",
                                    ssl=ssl.create_default_context(cafile=demo.ca_file))


async def open_agents(demo: Demo, token: str, count: int) -> list[Agent]:
    return list(await asyncio.gather(*(Agent.connect(demo, token) for _ in range(count))))


@contextlib.asynccontextmanager
async def agents(demo: Demo, token: str, count: int) -> AsyncIterator[list[Agent]]:
    opened = await open_agents(demo, token, count)
    try:
        yield opened
    finally:
        await asyncio.gather(*(agent.close() for agent in opened))


async def start_calls(agent: Agent, target: str, thread_id: str, count: int) -> list[str]:
    request_ids = [uuid.uuid4().hex for _ in range(count)]
    for request_id in request_ids:
        await agent.send({"type": "call.start", "requestId": request_id, "target": {"rawId": target},
                          "threadId": thread_id, "sdp": "v=0 offer"})
    return request_ids


async def answers(agent: Agent, request_ids: list[str]) -> list[dict[str, Any]]:
    """For each request: its ``call.started`` or its ``error``."""
    wanted = set(request_ids)

    async def collect() -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        while len(found) < len(wanted):
            for frame in list(agent.frames):
                if frame.get("requestId") in wanted and frame["type"] in ("call.started", "error"):
                    found[frame["requestId"]] = frame
                    agent.frames.remove(frame)
            if len(found) < len(wanted):
                agent.frames.append(json.loads(await agent.ws.recv()))
        return [found[r] for r in request_ids]

    return await asyncio.wait_for(collect(), WAIT)


def refusals(frames: list[dict[str, Any]]) -> list[tuple[int, int]]:
    return [(f["code"], f["subCode"]) for f in frames if f["type"] == "error"]


# -- calls per caller ----------------------------------------------------------------------------------------------
async def test_a_caller_has_at_most_max_calls_in_progress_even_from_parallel_sockets(demo: Demo) -> None:
    limit = demo.settings.caller_max_calls
    thread = chat_between(demo, "diego", "isaiah")
    callee_token, caller_token = demo.communication_token("isaiah"), demo.communication_token("diego")
    async with agents(demo, callee_token, 1) as [callee], agents(demo, caller_token, 4) as callers:
        sent = await asyncio.gather(*(start_calls(a, raw(demo, "isaiah"), thread, 15) for a in callers))
        frames = [f for a, ids in zip(callers, sent, strict=True) for f in await answers(a, ids)]
        started = [f for f in frames if f["type"] == "call.started"]
        assert len(started) == limit  # 60 attempts in parallel: exactly the cap passes
        assert set(refusals(frames)) <= {(429, 10116), (429, 10117)} and (429, 10116) in refusals(frames)
        rung = [await callee.next("call.incoming") for _ in range(limit)]
        assert {f["callId"] for f in rung} == {f["callId"] for f in started}
        await asyncio.sleep(0.3)
        assert not [f for f in callee.frames if f["type"] == "call.incoming"]  # nothing beyond the cap rang
        owner = {f["requestId"]: a for a, ids in zip(callers, sent, strict=True) for f in started
                 if f["requestId"] in ids}
        first = started[0]
        await owner[first["requestId"]].send({"type": "call.hangUp", "callId": first["callId"]})
        await callee.next("call.incoming.ended", callId=first["callId"])
        await asyncio.sleep(1.0)  # a token for the next attempt (2 per second)
        again = await start_calls(callers[0], raw(demo, "isaiah"), thread, 1)
        assert (await answers(callers[0], again))[0]["type"] == "call.started"  # a slot was freed by the end


async def test_call_attempts_per_caller_are_rate_limited(demo: Demo) -> None:
    thread = chat_between(demo, "patti", "pradeep")  # pradeep is not connected: each call ends at once (480)
    async with agents(demo, demo.communication_token("patti"), 1) as [caller]:
        frames = await answers(caller, await start_calls(caller, raw(demo, "pradeep"), thread, 30))
    started = [f for f in frames if f["type"] == "call.started"]
    burst = demo.settings.caller_call_attempts_burst
    assert burst <= len(started) <= burst + 2  # the burst, and what refilled meanwhile
    assert set(refusals(frames)) == {(429, 10117)}


# -- sockets per identity ------------------------------------------------------------------------------------------
async def test_an_identity_holds_at_most_max_sockets_and_the_next_is_closed_4029(demo: Demo) -> None:
    limit = demo.settings.identity_max_sockets
    token = demo.communication_token("lynne")
    async with agents(demo, token, limit) as opened:
        ws = await socket(demo)
        await ws.send(json.dumps({"type": "hello", "version": 1, "token": token}))
        assert await closed_with(ws) == (4029, "Too many connections for this identity.")
        await opened[0].close()
        await asyncio.sleep(0.3)
        replacement = await Agent.connect(demo, token)  # a freed place can be taken again
        await replacement.close()


async def test_parallel_sockets_cannot_all_pass_the_cap(demo: Demo) -> None:
    limit = demo.settings.identity_max_sockets
    token = demo.communication_token("miriam")
    sockets = await asyncio.gather(*(socket(demo) for _ in range(limit + 8)))
    await asyncio.gather(*(ws.send(json.dumps({"type": "hello", "version": 1, "token": token})) for ws in sockets))

    async def outcome(ws: Any) -> str:
        try:
            return str(json.loads(await asyncio.wait_for(ws.recv(), WAIT))["type"])
        except websockets.ConnectionClosed:
            return str(ws.close_code)

    results = await asyncio.gather(*(outcome(ws) for ws in sockets))
    await asyncio.gather(*(ws.close() for ws in sockets))
    assert sorted(results) == ["4029"] * 8 + ["welcome"] * limit


# -- revocation ----------------------------------------------------------------------------------------------------
def acs(demo: Demo, method: str, path: str, body: bytes = b"") -> Any:
    key = demo.info["communication"]["connection_string"].split("accesskey=", 1)[1]
    path = f"{path}?api-version={API_VERSIONS[-1]}"
    headers = sign_headers(method, path, urlsplit(demo.base_url).netloc, body, key, formatdate(usegmt=True))
    with demo.client() as c:
        r = c.request(method, path, content=body, headers={**headers, "Content-Type": "application/json"})
    assert r.status_code < 300, r.text
    return r.json() if r.content else None


def communication_user(demo: Demo) -> tuple[str, str]:
    created = acs(demo, "POST", "/identities", json.dumps({"createTokenWithScopes": ["voip"]}).encode())
    return created["identity"]["id"], created["accessToken"]["token"]


def within_recheck(demo: Demo) -> float:
    return demo.settings.identity_recheck_s + 3.0


@pytest.mark.parametrize("change", ["revoke", "delete"])
async def test_revoking_or_deleting_a_communication_identity_closes_its_sockets(demo: Demo, change: str) -> None:
    identity, token = communication_user(demo)
    agent = await Agent.connect(demo, token)
    bystander = await Agent.connect(demo, communication_user(demo)[1])
    if change == "revoke":
        acs(demo, "POST", f"/identities/{identity}/:revokeAccessTokens")
    else:
        acs(demo, "DELETE", f"/identities/{identity}")
    assert await closed_with(agent.ws, within_recheck(demo)) == (4001, "The token was revoked.")
    await bystander.send({"type": "ping"})
    await bystander.next("pong")  # another identity's socket stays
    await bystander.close()
    ws = await socket(demo)  # and the token no longer opens one
    await ws.send(json.dumps({"type": "hello", "version": 1, "token": token}))
    assert (await closed_with(ws))[0] == 4001


async def set_enabled(demo: Demo, who: str, enabled: bool) -> None:
    async def change(s: AsyncSession) -> None:
        await users.set_account_enabled(s, demo.user(who)["id"], enabled)

    await demo.change(change)


@contextlib.asynccontextmanager
async def disabled(demo: Demo, who: str) -> AsyncIterator[None]:
    await set_enabled(demo, who, False)
    try:
        yield
    finally:
        await set_enabled(demo, who, True)


async def test_disabling_a_user_from_outside_closes_their_sockets(demo: Demo) -> None:
    agent = await Agent.connect(demo, demo.communication_token("kristina"))
    async with disabled(demo, "kristina"):
        assert await closed_with(agent.ws, within_recheck(demo)) == (4001, "The account is disabled or gone.")


async def test_a_disabled_users_token_does_not_open_a_socket(demo: Demo) -> None:
    token = demo.communication_token("emily")
    async with disabled(demo, "emily"):
        ws = await socket(demo)
        await ws.send(json.dumps({"type": "hello", "version": 1, "token": token}))
        assert await closed_with(ws) == (4001, "The account is disabled or gone.")
    agent = await Agent.connect(demo, token)  # enabled again: the same token works
    await agent.close()



async def test_a_revocation_reaches_the_token_issued_just_before_it_and_spares_the_one_issued_just_after(
    demo: Demo,
) -> None:
    """Revoke, then issue at once, as an app rotating a user's tokens does: all within a second or two."""
    identity, before = communication_user(demo)
    acs(demo, "POST", f"/identities/{identity}/:revokeAccessTokens")
    after = acs(demo, "POST", f"/identities/{identity}/:issueAccessToken", json.dumps({"scopes": ["voip"]}).encode())
    ws = await socket(demo)
    await ws.send(json.dumps({"type": "hello", "version": 1, "token": before}))
    assert await closed_with(ws) == (4001, "The token was revoked.")
    agent = await Agent.connect(demo, after["token"])  # issued after the revocation: it opens a socket
    await agent.send({"type": "ping"})
    await agent.next("pong")
    await agent.close()
