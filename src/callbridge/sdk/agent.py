"""CallClient and TeamsCallAgent: one agent per identity and client, on one WebSocket to ``/calling/ws``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import uuid
from dataclasses import dataclass
from typing import Any

import websockets
from aiortc import RTCIceServer

from callbridge.sdk.calls import (
    CallerInfo,
    MediaSession,
    RemoteParticipant,
    TeamsCall,
    TeamsIncomingCall,
)
from callbridge.sdk.credential import CommunicationTokenCredential
from callbridge.sdk.errors import CallingError
from callbridge.sdk.events import Emitter
from callbridge.sdk.identifiers import CommunicationIdentifier, identifier_from_raw_id
from callbridge.sdk.media import AudioSource
from callbridge.sdk.meetings import MeetingLocator, join_frame


@dataclass(frozen=True)
class IncomingCallEvent:
    incoming_call: TeamsIncomingCall


@dataclass(frozen=True)
class CallsUpdatedEvent:
    added: list[TeamsCall]
    removed: list[TeamsCall]


class CallClient:
    """``CallClient(base_url, ca_file=...)``: the entry point, as ``CallClient()`` is in ACS's SDKs."""

    def __init__(self, base_url: str, ca_file: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.ssl_context = ssl.create_default_context(cafile=ca_file)
        self._agents: dict[str, TeamsCallAgent] = {}

    async def create_teams_call_agent(self, credential: CommunicationTokenCredential) -> TeamsCallAgent:
        token = await credential.get_token()
        agent = TeamsCallAgent(self, credential)
        identity = await agent.connect(token)
        if identity in self._agents:
            await agent.dispose()
            raise CallingError(409, 40230, "A TeamsCallAgent for this identity already exists on this CallClient.")
        self._agents[identity] = agent
        credential.start()
        return agent

    def _forget(self, agent: TeamsCallAgent) -> None:
        self._agents = {k: v for k, v in self._agents.items() if v is not agent}


@dataclass
class _Placing:
    target: CommunicationIdentifier | None  # None: a meeting
    media: MediaSession
    future: asyncio.Future[TeamsCall]


class TeamsCallAgent(Emitter):
    """Events: ``incoming_call`` (``IncomingCallEvent``), ``calls_updated`` (``CallsUpdatedEvent``),
    ``connection_state_changed``."""

    kind = "TeamsCallAgent"

    def __init__(self, client: CallClient, credential: CommunicationTokenCredential) -> None:
        super().__init__()
        self._client = client
        self._credential = credential
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[str, _Placing] = {}  # request id -> a call being placed
        self._calls: dict[str, TeamsCall] = {}
        self._incoming: dict[str, TeamsIncomingCall] = {}
        self.agent_id = ""
        self.identity = ""
        self.connection_state = "Disconnected"
        self.ice_servers: list[RTCIceServer] = []
        credential.on_refreshed(self._hand_over)

    @property
    def calls(self) -> list[TeamsCall]:
        return [c for c in self._calls.values() if c.state != "Disconnected"]

    async def connect(self, token: str) -> str:
        host = self._client.base_url.split("://", 1)[1]
        self._ws = await websockets.connect(f"wss://{host}/calling/ws", ssl=self._client.ssl_context)
        await self._ws.send(json.dumps({"type": "hello", "version": 1, "token": token, "client": "app"}))
        welcome = json.loads(await asyncio.wait_for(self._ws.recv(), 10))
        if welcome.get("type") != "welcome":
            raise CallingError(welcome.get("code", 401), 0, welcome.get("message", "the service refused the agent"))
        self.agent_id, self.identity = welcome["agentId"], welcome["identity"]["rawId"]
        self.ice_servers = [RTCIceServer(s["urls"], s.get("username"), s.get("credential"))
                            for s in welcome.get("iceServers", [])]
        self.connection_state = "Connected"
        self._reader = asyncio.create_task(self._read())
        return self.identity

    async def _send(self, frame: dict[str, Any]) -> None:
        await self._ws.send(json.dumps(frame))

    async def _hand_over(self, token: str) -> None:
        if self._ws is not None:
            await self._send({"type": "token.update", "token": token})

    async def join(self, meeting_locator: MeetingLocator, *, display_name: str | None = None,
                   audio: AudioSource | None = None) -> TeamsCall:
        """Join a meeting by its link or by its id and passcode (ACS's ``TeamsCallAgent.join``): the call is
        ``Connected``, or ``InLobby`` until someone lets it in; the mixer then offers its media session. A guest
        (a communication identity) gives the ``display_name`` the others see."""
        request_id = uuid.uuid4().hex
        return await self._place(request_id, None, MediaSession(audio, self.ice_servers),
                                 join_frame(meeting_locator, request_id, display_name))

    async def start_call(self, target: CommunicationIdentifier, *, thread_id: str | None = None,
                         audio: AudioSource | None = None) -> TeamsCall:
        media = MediaSession(audio, self.ice_servers)
        offer = await media.offer()
        request_id = uuid.uuid4().hex
        return await self._place(request_id, target, media, {
            "type": "call.start", "requestId": request_id, "target": {"rawId": target.raw_id},
            "threadId": thread_id, "sdp": offer})

    async def _place(self, request_id: str, target: CommunicationIdentifier | None, media: MediaSession,
                     frame: dict[str, Any]) -> TeamsCall:
        placing = _Placing(target, media, asyncio.get_running_loop().create_future())
        self._pending[request_id] = placing
        await self._send(frame)
        try:
            return await asyncio.wait_for(placing.future, 15)
        except (CallingError, TimeoutError):
            self._pending.pop(request_id, None)
            await media.close()
            raise

    def _adopt(self, call: TeamsCall) -> None:
        self._calls[call.id] = call
        self.emit("calls_updated", CallsUpdatedEvent([call], []))

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self._ws:
                await self._dispatch(json.loads(raw))
        self.connection_state = "Disconnected"
        self.emit("connection_state_changed", self)

    async def _dispatch(self, frame: dict[str, Any]) -> None:
        kind, call_id = frame["type"], frame.get("callId")
        if kind == "call.started":
            self._started(frame["requestId"], frame["callId"])
        elif kind == "error" and frame.get("requestId") in self._pending:
            placing = self._pending.pop(frame["requestId"], None)
            if placing is not None and not placing.future.done():
                placing.future.set_exception(CallingError(frame["code"], frame.get("subCode", 0), frame["message"]))
        elif kind == "call.incoming":
            incoming = TeamsIncomingCall(frame, self._send, self._adopt, self.ice_servers)
            self._incoming[incoming.id] = incoming
            self.emit("incoming_call", IncomingCallEvent(incoming))
        elif kind == "call.incoming.ended" and call_id in self._incoming:
            self._incoming.pop(call_id).ended(frame)
        elif call_id in self._calls:
            call = self._calls[call_id]
            await call.on_frame(frame)
            if call.state == "Disconnected":
                self.emit("calls_updated", CallsUpdatedEvent([], [call]))

    def _started(self, request_id: str, call_id: str) -> None:
        """The service placed the call: it exists from now on, before any of its states arrive."""
        placing = self._pending.pop(request_id, None)
        if placing is None:
            return
        me = CallerInfo(identifier_from_raw_id(self.identity), None)
        remote = RemoteParticipant(placing.target, None, "Connecting") if placing.target is not None else None
        call = TeamsCall(call_id, "Outgoing", me, remote, placing.media, self._send)
        self._adopt(call)
        if not placing.future.done():
            placing.future.set_result(call)

    async def dispose(self) -> None:
        for call in self.calls:
            with contextlib.suppress(Exception):
                await call.hang_up()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._credential.close()
        self._client._forget(self)
