"""The calling service over real WebSockets (signalling only): agents authenticate with communication tokens,
calls fork to every agent of the callee, and every outcome reaches each endpoint with ACS's end reasons."""

from __future__ import annotations

import asyncio
import json
import ssl
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets

from tests.conftest import Demo

TIMEOUT = 10.0


class Agent:
    """One call agent on its own socket; frames are buffered so a test can wait for the one it expects."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.agent_id = ""

    @classmethod
    async def connect(cls, demo: Demo, token: str, **hello: Any) -> Agent:
        ws = await websockets.connect(f"wss://localhost:{demo.settings.https_port}/calling/ws",
                                      ssl=ssl.create_default_context(cafile=demo.ca_file))
        agent = cls(ws)
        await agent.send({"type": "hello", "version": 1, "token": token, **hello})
        agent.agent_id = (await agent.next("welcome"))["agentId"]
        return agent

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def next(self, kind: str, **match: Any) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            while True:
                for frame in self.frames:
                    if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                        self.frames.remove(frame)
                        return frame
                self.frames.append(json.loads(await self.ws.recv()))

        return await asyncio.wait_for(wait(), TIMEOUT)

    async def state(self, call_id: str, state: str) -> dict[str, Any]:
        return await self.next("call.state", callId=call_id, state=state)

    async def call(self, target: str, thread_id: str | None) -> str:
        request_id = uuid.uuid4().hex
        await self.send({"type": "call.start", "requestId": request_id, "target": {"rawId": target},
                         "threadId": thread_id, "sdp": "v=0 offer"})
        return str((await self.next("call.started", requestId=request_id))["callId"])

    async def close(self) -> None:
        await self.ws.close()


def chat_between(demo: Demo, a: str, b: str) -> str:
    with demo.graph(a) as g:
        r = g.post("/chats", json={"chatType": "oneOnOne", "members": [
            {"user@odata.bind": f"https://graph.microsoft.com/v1.0/users('{demo.user(x)['id']}')"} for x in (a, b)]})
    return str(r.json()["id"])


def raw(demo: Demo, who: str) -> str:
    return f"8:orgid:{demo.user(who)['id']}"


@pytest.fixture(scope="module")
def tokens(demo: Demo) -> dict[str, str]:
    return {who: demo.communication_token(who) for who in ("alice", "megan", "nina", "lee")}


@pytest.fixture
async def alice_and_megan(demo: Demo, tokens: dict[str, str]) -> AsyncIterator[tuple[Agent, Agent, Agent]]:
    agents = [await Agent.connect(demo, tokens["alice"]), await Agent.connect(demo, tokens["megan"]),
              await Agent.connect(demo, tokens["megan"])]
    yield agents[0], agents[1], agents[2]
    for agent in agents:
        await agent.close()


async def test_both_endpoints_ring_first_accept_wins_then_hold_dtmf_hang_up(
        demo: Demo, alice_and_megan: tuple[Agent, Agent, Agent]) -> None:
    alice, megan_tab, megan_phone = alice_and_megan
    call_id = await alice.call(raw(demo, "megan"), chat_between(demo, "alice", "megan"))
    await alice.state(call_id, "Connecting")
    await alice.state(call_id, "Ringing")
    for endpoint in (megan_tab, megan_phone):
        incoming = await endpoint.next("call.incoming", callId=call_id)
        assert incoming["caller"] == {"rawId": raw(demo, "alice"), "displayName": "Alice Smith"}
        assert incoming["sdp"] == "v=0 offer"
    await megan_phone.send({"type": "call.accept", "callId": call_id, "sdp": "v=0 answer"})
    ended = await megan_tab.next("call.incoming.ended", callId=call_id)
    assert ended["endReason"] == {"code": 487, "subCode": 10003}
    await megan_phone.state(call_id, "Connected")
    await alice.state(call_id, "Connected")
    assert (await alice.next("call.sdp", callId=call_id))["sdp"] == "v=0 answer"
    await alice.send({"type": "call.hold", "callId": call_id})
    await alice.state(call_id, "LocalHold")
    await megan_phone.state(call_id, "RemoteHold")
    await alice.send({"type": "call.resume", "callId": call_id})
    await megan_phone.state(call_id, "Connected")
    await alice.send({"type": "call.dtmf", "callId": call_id, "tone": "5"})
    assert (await megan_phone.next("call.dtmf", callId=call_id))["tone"] == "5"
    await megan_phone.send({"type": "call.hangUp", "callId": call_id})
    assert (await alice.state(call_id, "Disconnected"))["endReason"] == {"code": 0, "subCode": 0}
    record = await _record(demo, "alice", call_id)
    assert record["answeredBy"] == megan_phone.agent_id and record["endReason"] == {"code": 0, "subCode": 0}
    assert record["direction"] == "Outgoing" and record["connectTime"]


async def _record(demo: Demo, who: str, call_id: str) -> dict[str, Any]:
    token = demo.communication_token(who)
    for _ in range(50):
        with demo.client() as c:
            calls = c.get("/calling/v1/calls", headers={"Authorization": f"Bearer {token}"}).json()["value"]
        found = [c for c in calls if c["callId"] == call_id]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no call record for {call_id}")


async def test_declined_everywhere_is_603(demo: Demo, alice_and_megan: tuple[Agent, Agent, Agent]) -> None:
    alice, megan_tab, megan_phone = alice_and_megan
    call_id = await alice.call(raw(demo, "megan"), chat_between(demo, "alice", "megan"))
    for endpoint in (megan_tab, megan_phone):
        await endpoint.next("call.incoming", callId=call_id)
        await endpoint.send({"type": "call.reject", "callId": call_id})
    assert (await alice.state(call_id, "Disconnected"))["endReason"] == {"code": 603, "subCode": 0}
    assert (await _record(demo, "megan", call_id))["direction"] == "Incoming"


async def test_unanswered_is_487_10004_after_the_ring_time(demo: Demo,
                                                          alice_and_megan: tuple[Agent, Agent, Agent]) -> None:
    alice, megan_tab, _ = alice_and_megan
    call_id = await alice.call(raw(demo, "megan"), chat_between(demo, "alice", "megan"))
    assert (await megan_tab.next("call.incoming.ended", callId=call_id))["endReason"] == {"code": 487,
                                                                                           "subCode": 10004}
    assert (await alice.state(call_id, "Disconnected"))["endReason"] == {"code": 487, "subCode": 10004}


async def test_caller_cancels(demo: Demo, alice_and_megan: tuple[Agent, Agent, Agent]) -> None:
    alice, megan_tab, _ = alice_and_megan
    call_id = await alice.call(raw(demo, "megan"), chat_between(demo, "alice", "megan"))
    await megan_tab.next("call.incoming", callId=call_id)
    await alice.send({"type": "call.hangUp", "callId": call_id})
    assert (await megan_tab.next("call.incoming.ended", callId=call_id))["endReason"] == {"code": 487, "subCode": 0}


async def test_no_endpoint_is_480_10037(demo: Demo, tokens: dict[str, str]) -> None:
    alice = await Agent.connect(demo, tokens["alice"])
    try:
        call_id = await alice.call(raw(demo, "lee"), chat_between(demo, "alice", "lee"))
        assert (await alice.state(call_id, "Disconnected"))["endReason"] == {"code": 480, "subCode": 10037}
    finally:
        await alice.close()


@pytest.mark.parametrize("case,expected", [
    ("no_thread", (400, 10101)), ("zero_guid", (400, 10101)), ("thread_without_callee", (400, 10101)),
    ("cross_tenant", (403, 5223)), ("self", (400, 10103)), ("phone", (400, 10114)), ("garbage", (400, 10102)),
])
async def test_refused_calls(demo: Demo, tokens: dict[str, str], case: str, expected: tuple[int, int]) -> None:
    target = {"cross_tenant": raw(demo, "nina"), "self": raw(demo, "alice"), "phone": "4:+1425555",
              "garbage": "8:orgid:not-a-guid"}.get(case, raw(demo, "megan"))
    thread = {"no_thread": None, "zero_guid": "00000000-0000-0000-0000-000000000000",
              "thread_without_callee": chat_between(demo, "alice", "lee")}.get(case, chat_between(demo, "alice",
                                                                                                  "megan"))
    alice = await Agent.connect(demo, tokens["alice"])
    try:
        await alice.send({"type": "call.start", "requestId": "r1", "target": {"rawId": target}, "threadId": thread})
        error = await alice.next("error", requestId="r1")
    finally:
        await alice.close()
    assert (error["code"], error["subCode"]) == expected and error["message"]


async def test_unlicensed_callee_refused(demo: Demo, tokens: dict[str, str]) -> None:
    from callbridge.directory import users

    async def licence(on: bool) -> None:
        await demo.change(lambda s: users.set_licence(s, demo.user("megan")["upn"], "TEAMS", on))

    thread = chat_between(demo, "alice", "megan")
    await licence(False)
    alice = await Agent.connect(demo, tokens["alice"])
    try:
        await alice.send({"type": "call.start", "requestId": "r2", "target": {"rawId": raw(demo, "megan")},
                          "threadId": thread})
        error = await alice.next("error", requestId="r2")
    finally:
        await alice.close()
        await licence(True)
    assert (error["code"], error["subCode"]) == (403, 10100)


async def test_protocol_abuse_gets_errors_not_crashes(demo: Demo, tokens: dict[str, str]) -> None:
    agent = await Agent.connect(demo, tokens["alice"])
    try:
        await agent.ws.send("{not json")
        assert (await agent.next("error"))["code"] == "InvalidJson"
        await agent.send({"type": "teleport"})
        assert (await agent.next("error"))["code"] == "UnknownType"
        await agent.send({"type": "call.accept", "callId": "somebody-elses"})
        assert (await agent.next("error", callId="somebody-elses"))["code"] == 404
        await agent.ws.send(json.dumps({"type": "ping", "pad": "x" * 70_000}))
        assert (await agent.next("error"))["code"] == "FrameTooLarge"
        await agent.send({"type": "hello", "version": 1, "token": tokens["alice"]})
        assert (await agent.next("error"))["code"] == "UnexpectedFrame"
        await agent.send({"type": "ping"})
        await agent.next("pong")  # still up
    finally:
        await agent.close()


async def test_a_flood_is_throttled_then_closed(demo: Demo, tokens: dict[str, str]) -> None:
    agent = await Agent.connect(demo, tokens["alice"])
    for _ in range(200):
        try:
            await agent.send({"type": "ping"})
        except websockets.ConnectionClosed:
            break
    with pytest.raises(websockets.ConnectionClosed) as closed:
        for _ in range(400):
            await agent.next("never")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008


async def close_code_after(demo: Demo, first: str | bytes) -> int:
    """The code the service closes a fresh socket with, after this first frame."""
    ws = await websockets.connect(f"wss://localhost:{demo.settings.https_port}/calling/ws",
                                  ssl=ssl.create_default_context(cafile=demo.ca_file))
    await ws.send(first)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


@pytest.mark.parametrize("first", [{"type": "ping"}, {"type": "hello", "version": 2, "token": "x"}])
async def test_hello_first_or_closed(demo: Demo, first: dict[str, Any]) -> None:
    assert await close_code_after(demo, json.dumps(first)) == 4000


async def test_bad_token_closes_with_4001(demo: Demo) -> None:
    org = demo.password_token("alice", ["User.Read"])["access_token"]  # not a communication token
    assert await close_code_after(demo, json.dumps({"type": "hello", "version": 1, "token": org})) == 4001


async def test_token_handover_on_the_open_socket(demo: Demo, tokens: dict[str, str]) -> None:
    agent = await Agent.connect(demo, tokens["alice"])
    try:
        await agent.send({"type": "token.update", "token": demo.communication_token("alice")})
        assert (await agent.next("token.accepted"))["expiresOn"]
        await agent.send({"type": "token.update", "token": tokens["megan"]})
        assert (await agent.next("error"))["code"] == "IdentityMismatch"
    finally:
        await agent.close()


async def connected_call(demo: Demo, tokens: dict[str, str]) -> tuple[Agent, Agent, str]:
    """Alice's call to Megan, answered: (alice, megan, call id)."""
    alice, megan = await Agent.connect(demo, tokens["alice"]), await Agent.connect(demo, tokens["megan"])
    call_id = await alice.call(raw(demo, "megan"), chat_between(demo, "alice", "megan"))
    await megan.next("call.incoming", callId=call_id)
    await megan.send({"type": "call.accept", "callId": call_id})
    await alice.state(call_id, "Connected")
    return alice, megan, call_id


async def test_a_call_survives_a_reconnection_within_the_grace(demo: Demo, tokens: dict[str, str]) -> None:
    alice, megan, call_id = await connected_call(demo, tokens)
    await megan.close()
    back = await Agent.connect(demo, tokens["megan"], agentId=megan.agent_id)
    assert back.agent_id == megan.agent_id
    await back.send({"type": "call.hangUp", "callId": call_id})
    assert (await alice.state(call_id, "Disconnected"))["endReason"] == {"code": 0, "subCode": 0}
    for agent in (alice, back):
        await agent.close()


async def test_a_lost_agent_ends_the_call_after_the_grace(demo: Demo, tokens: dict[str, str]) -> None:
    alice, megan, call_id = await connected_call(demo, tokens)
    await megan.close()
    assert (await alice.state(call_id, "Disconnected"))["endReason"] == {"code": 0, "subCode": 4521}
    await alice.close()


async def test_cross_tenant_calls_need_federation_on_both_sides(demo: Demo, tokens: dict[str, str]) -> None:
    from callbridge.directory import tenants
    from callbridge.store.db import Database
    from callbridge.store.models import Chat, ChatMember
    from callbridge.store.types import utcnow

    alice, nina = demo.user("alice"), demo.user("nina")
    thread = f"19:{uuid.uuid4().hex}@thread.v2"

    async def setup(federate: bool) -> None:
        db = Database(demo.settings.effective_database_url)
        try:
            async with db.transaction() as s:
                for tenant in (alice["tenant_id"], nina["tenant_id"]):
                    await tenants.set_tenant_setting(s, tenant, "federation_enabled", federate)
                if federate:
                    s.add(Chat(id=thread, tenant_id=alice["tenant_id"], chat_type="group", topic="federated",
                               created_at=utcnow(), updated_at=utcnow()))
                    await s.flush()
                    s.add_all(ChatMember(chat_id=thread, user_id=u["id"], roles=["owner"], added_at=utcnow())
                              for u in (alice, nina))
        finally:
            await db.close()

    await setup(True)
    caller, callee = await Agent.connect(demo, tokens["alice"]), await Agent.connect(demo, tokens["nina"])
    try:
        call_id = await caller.call(raw(demo, "nina"), thread)
        assert (await callee.next("call.incoming", callId=call_id))["caller"]["displayName"] == "Alice Smith"
        await caller.send({"type": "call.hangUp", "callId": call_id})
    finally:
        await setup(False)
        await caller.close()
        await callee.close()


async def test_an_endpoint_that_lost_the_race_can_leave_cleanly(demo: Demo, tokens: dict[str, str]) -> None:
    alice, tab, phone = (await Agent.connect(demo, tokens["alice"]), await Agent.connect(demo, tokens["megan"]),
                         await Agent.connect(demo, tokens["megan"]))
    thread = chat_between(demo, "alice", "megan")
    call_id = await alice.call(raw(demo, "megan"), thread)
    await phone.next("call.incoming", callId=call_id)
    await tab.send({"type": "call.accept", "callId": call_id})
    await phone.next("call.incoming.ended", callId=call_id)
    await phone.close()  # the endpoint that did not answer goes away
    await alice.send({"type": "call.hangUp", "callId": call_id})
    await alice.state(call_id, "Disconnected")
    second = await alice.call(raw(demo, "megan"), thread)
    await tab.next("call.incoming", callId=second)  # the registry forgot the closed endpoint, and only it
    await alice.send({"type": "call.hangUp", "callId": second})
    assert (await tab.next("call.incoming.ended", callId=second))["endReason"] == {"code": 487, "subCode": 0}
    for agent in (alice, tab):
        await agent.close()


async def test_resuming_while_the_old_socket_lingers_keeps_the_new_one(demo: Demo, tokens: dict[str, str]) -> None:
    old = await Agent.connect(demo, tokens["megan"])
    new = await Agent.connect(demo, tokens["megan"], agentId=old.agent_id)
    assert new.agent_id == old.agent_id
    await old.close()  # the old socket's late close must not take the new connection's place away
    alice = await Agent.connect(demo, tokens["alice"])
    call_id = await alice.call(raw(demo, "megan"), chat_between(demo, "alice", "megan"))
    await new.next("call.incoming", callId=call_id)
    await alice.send({"type": "call.hangUp", "callId": call_id})
    for agent in (alice, new):
        await agent.close()


async def test_a_binary_first_frame_is_closed_with_4000(demo: Demo) -> None:
    assert await close_code_after(demo, b"\x00\x01binary") == 4000


def short_lived_token(demo: Demo, who: str, seconds: float) -> str:
    from datetime import UTC, datetime, timedelta

    from callbridge.acs import tokens as comm_tokens

    acs, now = demo.platform.acs, datetime.now(UTC)
    return comm_tokens.issue(acs.ring, acs.issuer, f"8:orgid:{demo.user(who)['id']}", "resource", ("voip",),
                             now, now + timedelta(seconds=seconds))


async def test_an_expired_token_closes_the_socket_with_4001(demo: Demo) -> None:
    agent = await Agent.connect(demo, short_lived_token(demo, "alice", 1.5))
    try:
        assert await agent.next("token.expired")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(agent.ws.recv(), TIMEOUT)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
    finally:
        await agent.close()


async def test_a_token_handed_over_in_time_keeps_the_socket_open(demo: Demo, tokens: dict[str, str]) -> None:
    agent = await Agent.connect(demo, short_lived_token(demo, "alice", 1.5))
    try:
        await agent.send({"type": "token.update", "token": tokens["alice"]})
        await agent.next("token.accepted")
        await asyncio.sleep(2.0)  # past the first token's expiry
        await agent.send({"type": "ping"})
        assert await agent.next("pong") == {"type": "pong"}
    finally:
        await agent.close()
