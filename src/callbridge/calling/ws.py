"""``/calling/ws``: one call agent per WebSocket. The first frame is ``hello`` with a communication token;
then commands in and events out until the socket closes or the token expires (a new token can be handed over
with ``token.update`` on the open socket, without dropping calls)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response

from callbridge.acs import tokens as comm_tokens
from callbridge.acs.context import AcsContext
from callbridge.acs.standing import refusal_now
from callbridge.calling.call import CallError
from callbridge.calling.end_reasons import NOT_A_TEAMS_CALLER
from callbridge.calling.protocol import (
    AddParticipant,
    CallCommand,
    CallCommandKind,
    Hello,
    JoinMeeting,
    Ping,
    ProtocolError,
    StartCall,
    TokenUpdate,
    parse,
)
from callbridge.calling.service import CallingService, TooManyAgents, error_frame
from callbridge.calling.sockets import OpenSockets
from callbridge.calling.turn import ice_servers
from callbridge.identity.tokens import TokenInvalid
from callbridge.ratelimit import TokenBuckets

router = APIRouter(tags=["calling"])

HELLO_TIMEOUT_S = 10
CLOSE_PROTOCOL, CLOSE_TOKEN, CLOSE_FLOOD, CLOSE_TOO_MANY = 4000, 4001, 4008, 4029
FRAMES_PER_SECOND, FRAME_BURST, FLOOD_STRIKES = 20, 60, 50


class TokenRefused(Exception):
    pass


async def _identity(acs: AcsContext, token: str, now: datetime) -> comm_tokens.CommunicationToken:
    try:
        read = comm_tokens.read(acs.ring, acs.issuer, token, now)
    except TokenInvalid as exc:
        raise TokenRefused(f"The token is not valid ({exc.reason}).") from None
    if (why := await refusal_now(acs.db, read)) is not None:
        raise TokenRefused(why)
    return read


class Connection:
    """One agent's socket: a reader loop, a writer task, and the token's expiry."""

    def __init__(self, ws: WebSocket, service: CallingService, acs: AcsContext) -> None:
        self.ws, self.service, self.acs = ws, service, acs
        self.token: comm_tokens.CommunicationToken | None = None
        self.agent_id = ""
        self.client: str | None = None  # "browser" or "app", as its hello says
        self.generation = 0
        self.buckets = TokenBuckets(FRAMES_PER_SECOND, FRAME_BURST, max_keys=1)
        self.strikes = 0
        self.expiry: asyncio.TimerHandle | None = None
        self.expiring: asyncio.Task[None] | None = None

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send_text(json.dumps(frame))

    async def handshake(self) -> bool:
        try:
            message = await asyncio.wait_for(self.ws.receive(), HELLO_TIMEOUT_S)
            raw = message.get("text") or message.get("bytes") or b""
            hello = parse(raw)
            if not isinstance(hello, Hello):
                raise ProtocolError("HelloRequired", "The first frame must be 'hello'.")
            self.token = await _identity(self.acs, hello.token, self.service.clock.now())
            self.client = hello.client
        except (TimeoutError, ProtocolError) as exc:
            await self.ws.close(CLOSE_PROTOCOL, str(exc)[:120] or "hello expected")
            return False
        except TokenRefused as exc:
            await self.ws.close(CLOSE_TOKEN, str(exc)[:120])
            return False
        resume = json.loads(raw).get("agentId")
        try:
            self.agent_id, self.generation, self.queue = await self.service.connect(
                self.token.raw_id, resume if isinstance(resume, str) else None)
        except TooManyAgents:
            await self.ws.close(CLOSE_TOO_MANY, "Too many connections for this identity.")
            return False
        settings = self.acs.settings
        servers = ice_servers(settings.turn_urls, settings.turn_secret, self.token.raw_id,
                              self.service.clock.now(), settings.turn_ttl_s)
        await self.send({"type": "welcome", "version": 1, "agentId": self.agent_id,
                         "identity": {"rawId": self.token.raw_id}, "expiresOn": self.token.expires_at.isoformat(),
                         "iceServers": servers})
        return True

    async def writer(self) -> None:
        while True:
            event = await self.queue.get()
            await self.send(event.to_wire())  # the one place events become frames

    def watch_expiry(self) -> None:
        """(Re)arm one timer handle for the token's expiry (cheaper than a task per socket)."""
        assert self.token is not None
        if self.expiry is not None:
            self.expiry.cancel()
        left = (self.token.expires_at - self.service.clock.now()).total_seconds()
        loop = asyncio.get_running_loop()
        self.expiry = loop.call_later(max(0.0, left), self._expire)

    def _expire(self) -> None:
        self.expiring = asyncio.get_running_loop().create_task(self.expired())  # held: tasks are weakly kept

    async def expired(self) -> None:
        assert self.token is not None
        if self.token.expires_at > self.service.clock.now():  # the clock moved back or a handover raced
            self.watch_expiry()
            return
        with contextlib.suppress(Exception):  # the socket may be closing already
            await self.send({"type": "token.expired"})
            await self.ws.close(CLOSE_TOKEN, "The token expired.")

    @property
    def current_token(self) -> comm_tokens.CommunicationToken | None:
        return self.token

    async def revoke(self, reason: str) -> None:
        """The identity was deleted or disabled, or its tokens revoked (``OpenSockets.sweep``)."""
        await self.ws.close(CLOSE_TOKEN, reason)

    async def reader(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text") or message.get("bytes") or b""
            if self.buckets.take("frames", self.service.clock.now()):
                self.strikes += 1
                if self.strikes >= FLOOD_STRIKES:
                    await self.ws.close(CLOSE_FLOOD, "Too many frames.")
                    return
                await self.send({"type": "error", "code": "RateLimited", "message": "Too many frames; slow down."})
                continue
            await self.dispatch(raw)

    async def dispatch(self, raw: str | bytes) -> None:
        cmd: Any = None
        try:
            cmd = parse(raw)
            await self.handle(cmd)
        except ProtocolError as exc:
            await self.send(exc.to_wire())
        except CallError as exc:
            request_id = cmd.request_id if isinstance(cmd, StartCall | JoinMeeting | CallCommand) else None
            if isinstance(cmd, CallCommand) and isinstance(cmd.payload, AddParticipant):
                request_id = cmd.payload.request_id
            call_id = cmd.call_id if isinstance(cmd, CallCommand) else None
            await self.send(error_frame(exc, request_id, call_id))
        except TokenRefused as exc:
            await self.send({"type": "error", "code": "InvalidToken", "message": str(exc)})

    def _teams_user(self) -> str:
        """The object id of this agent's Teams user: only they place calls and add participants."""
        assert self.token is not None
        if not self.token.raw_id.startswith("8:orgid:"):
            reason = NOT_A_TEAMS_CALLER
            raise CallError(reason.code, reason.sub_code, "Only Teams users can place these calls.")
        return self.token.raw_id.removeprefix("8:orgid:")

    async def handle(self, cmd: Any) -> None:
        assert self.token is not None
        if isinstance(cmd, Ping):
            await self.send({"type": "pong"})
        elif isinstance(cmd, TokenUpdate):
            fresh = await _identity(self.acs, cmd.token, self.service.clock.now())
            if fresh.raw_id != self.token.raw_id:
                raise ProtocolError("IdentityMismatch", "The new token is for another identity.")
            self.token = fresh
            self.watch_expiry()
            await self.send({"type": "token.accepted", "expiresOn": fresh.expires_at.isoformat()})
        elif isinstance(cmd, StartCall):
            await self.service.start_call(self.agent_id, self._teams_user(), cmd)
        elif isinstance(cmd, JoinMeeting):
            await self.service.join_meeting(self.agent_id, cmd, self.client)
        elif isinstance(cmd, CallCommand) and cmd.kind is CallCommandKind.ADD_PARTICIPANT:
            await self.service.add_participant(self.agent_id, self._teams_user(), cmd)
        elif isinstance(cmd, CallCommand):
            await self.service.command(self.agent_id, cmd)
        else:
            raise ProtocolError("UnexpectedFrame", "'hello' is only the first frame.")


@router.websocket("/calling/ws")
async def calling_socket(ws: WebSocket) -> None:
    await ws.accept()
    connection = Connection(ws, ws.app.state.calling, ws.app.state.acs)
    if not await connection.handshake():
        return
    sockets: OpenSockets = ws.app.state.sockets
    sockets.add(connection)
    writer = asyncio.create_task(connection.writer())
    connection.watch_expiry()
    try:
        await connection.reader()
    except WebSocketDisconnect:
        pass
    finally:
        sockets.discard(connection)
        if connection.expiry is not None:
            connection.expiry.cancel()
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer
        await connection.service.disconnect(connection.agent_id, connection.generation)


async def _caller_identity(request: Request) -> comm_tokens.CommunicationToken:
    acs: AcsContext = request.app.state.acs
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        raise TokenRefused("A communication token is required (Authorization: Bearer).")
    return await _identity(acs, token.strip(), acs.clock.now())


def _token_refused(exc: TokenRefused) -> Response:
    return JSONResponse({"error": {"code": "InvalidToken", "message": str(exc)}}, status_code=401)


@router.get("/calling/v1/calls")
async def recent_calls(request: Request) -> Response:
    """The signed-in identity's recent calls (call records), newest first; bearer: a communication token."""
    try:
        identity = await _caller_identity(request)
    except TokenRefused as exc:
        return _token_refused(exc)
    calls = await request.app.state.calling.recent_calls(identity.raw_id)
    return JSONResponse({"value": calls})


@router.get("/calling/v1/calls/{call_id}/participants")
async def call_participants(request: Request, call_id: str) -> Response:
    """The meeting record of a finished group call or meeting the signed-in identity took part in: who, from
    what, when, for how long, and how each left. 404 for any other call (whether or not it exists)."""
    try:
        identity = await _caller_identity(request)
    except TokenRefused as exc:
        return _token_refused(exc)
    participants = await request.app.state.calling.call_participants(call_id[:64], identity.raw_id)
    if participants is None:
        return JSONResponse({"error": {"code": "NotFound", "message": "No such call in your history."}},
                            status_code=404)
    return JSONResponse({"value": participants})
