"""The conference engine on Janus AudioBridge (1.1.2, Debian), over Janus's WebSocket API.

One Janus session per callbridge node; one plugin handle per participant (a second ``join`` on a handle fails with
491) plus one for room verbs. Every request carries a transaction id and waits, bounded, for its answer:

    create, attach, detach, keepalive, claim         -> success | ack (keepalive) | error
    plugin create/destroy/mute/kick/play_file ...    -> success {plugindata}
    plugin join/configure/changeroom                 -> ack, then event {plugindata, jsep?} with the same transaction

Notifications are events without a transaction; ``sender`` is the handle they reached. Each notification reaches
every handle of the room, so an event is taken only from the handle of the participant it is about (talking, kicked,
destroyed, hangup): one event per fact.

The session outlives a dropped WebSocket for ``reclaim_timeout`` (Janus's reclaim_session_timeout): the adapter
reconnects and claims it, and the participants keep their media. Past that, or when Janus is gone, it reports
MediaLost once and starts a new session at the next verb.

Rooms get a ``secret`` drawn per engine (mute, kick, destroy, play_file need it) and are created with the plugin's
``admin_key``; every request carries the ``apisecret`` (janus_process.JanusAccess).

Janus's error codes, from janus_audiobridge.c at v1.1.2: 485 no such room, 486 room exists, 487 no such
participant, 489 unauthorised, 490 id taken, 491 already in a room.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException
from websockets.typing import Subprotocol

from callbridge.config import Settings
from callbridge.media.conference import (
    DEFAULT_SAMPLING_RATE,
    SAMPLING_RATES,
    AlreadyJoined,
    ConferenceError,
    ConferenceEvent,
    ConferenceRejected,
    ConferenceUnavailable,
    EventHandler,
    Left,
    LeftReason,
    MediaLost,
    NoSuchParticipant,
    NoSuchRoom,
    RoomExists,
    RtpAddress,
    RtpCodec,
    RtpLeg,
    Talking,
)
from callbridge.media.janus_process import JanusAccess, JanusProcess
from callbridge.media.rtp_endpoint import PortRange

log = logging.getLogger("callbridge.media.janus")

PLUGIN = "janus.plugin.audiobridge"
OPUS_PAYLOAD_TYPE = 111
Message = dict[str, Any]  # one JSON message of Janus's API: parsed here, never passed on
IDEMPOTENT = frozenset({"mute", "unmute", "stop_file"})  # retried once when the connection drops under them


class _Dropped(ConferenceUnavailable):
    """The connection dropped while a request waited for its answer."""


# -- sans-I/O: what Janus's answers and notifications mean ----------------------------------------------------------
def plugin_error(data: Message) -> ConferenceError | None:
    """The typed error of a plugin answer's ``plugindata.data``, or None if it is not an error."""
    code = data.get("error_code")
    if code is None:
        return None
    reason = f"janus audiobridge {code}: {data.get('error', '')}"
    kinds: dict[int, type[ConferenceRejected]] = {485: NoSuchRoom, 486: RoomExists}
    if code in kinds:
        return kinds[code](reason, code)
    if code == 487:
        return NoSuchParticipant(reason)
    if code in (490, 491):
        return AlreadyJoined(reason)
    return ConferenceRejected(reason, int(code))


def notification(room: str, participant: str, message: Message) -> ConferenceEvent | None:
    """What a notification that reached ``participant``'s own handle says about that participant, if anything."""
    if message.get("janus") == "hangup":
        return Left(room, participant, LeftReason.HANGUP)
    data = message.get("plugindata", {}).get("data", {})
    kind = data.get("audiobridge")
    if kind in ("talking", "stopped-talking") and data.get("id") == participant:
        return Talking(str(data.get("room", room)), participant, kind == "talking")
    if data.get("kicked") == participant:
        return Left(room, participant, LeftReason.KICKED)
    if kind == "destroyed":
        return Left(room, participant, LeftReason.ROOM_CLOSED)
    return None


G711_STATIC_TYPES = {"PCMU/8000": 0, "PCMA/8000": 8}


def static_g711_payload(sdp: str) -> str:
    """Janus 1.1.2's own offer of a G.711 leg (``generate_offer`` with codec pcmu/pcma) maps G.711 to dynamic type
    111, yet sends RTP with G.711's static type (0 or 8): a peer that believes the SDP drops every packet as of an
    unknown type. The offer is rewritten to the static type, the one on the wire."""
    dynamic: dict[str, str] = {}
    for line in sdp.splitlines():
        if line.startswith("a=rtpmap:"):
            payload_type, _, encoding = line[len("a=rtpmap:"):].partition(" ")
            static = G711_STATIC_TYPES.get(encoding.strip().upper())
            if static is not None and payload_type != str(static):
                dynamic[payload_type] = str(static)
    if not dynamic:
        return sdp
    lines = []
    for line in sdp.split("\r\n") if "\r\n" in sdp else sdp.split("\n"):
        if line.startswith("m=audio "):
            words = line.split(" ")
            line = " ".join(words[:3] + [dynamic.get(word, word) for word in words[3:]])
        elif line.startswith("a=") and ":" in line:
            attribute, _, rest = line.partition(":")
            payload_type, space, tail = rest.partition(" ")
            if payload_type in dynamic and attribute in ("a=rtpmap", "a=fmtp", "a=rtcp-fb"):
                line = f"{attribute}:{dynamic[payload_type]}{space}{tail}"
        lines.append(line)
    return ("\r\n" if "\r\n" in sdp else "\n").join(lines)


def room_request(room_id: str, secret: str, admin_key: str, sampling_rate: int) -> Message:
    return {"request": "create", "room": room_id, "secret": secret, "admin_key": admin_key,
            "sampling_rate": sampling_rate, "allow_rtp_participants": True,
            # talking events: 50 packets (1 s) averaging above level 40 (of 127, lower is louder)
            "audiolevel_event": True, "audio_active_packets": 50, "audio_level_average": 40}


# -- the adapter ----------------------------------------------------------------------------------------------------
@dataclass
class _Participant:
    room: str
    handle: int
    display: str


@dataclass
class _Pending:
    future: asyncio.Future[Message]
    wants_event: bool  # join/configure/changeroom: the ack is not the answer


class JanusConference:
    def __init__(self, access: JanusAccess, *, request_timeout: float = 5.0, connect_timeout: float = 2.0,
                 sampling_rate: int = DEFAULT_SAMPLING_RATE) -> None:
        self.access, self.sampling_rate = access, sampling_rate
        self.request_timeout, self.connect_timeout = request_timeout, connect_timeout
        self.secret = secrets.token_urlsafe(18)  # of every room this engine opens
        self._socket: ClientConnection | None = None
        self._session: int | None = None
        self._admin_handle: int | None = None
        self._pending: dict[str, _Pending] = {}
        self._transactions = itertools.count(1)
        self._rooms: set[str] = set()
        self._participants: dict[str, _Participant] = {}
        self._by_handle: dict[int, str] = {}
        self._handlers: list[EventHandler] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._reader: asyncio.Task[None] | None = None
        self._reclaiming: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._connecting = asyncio.Lock()
        self._closing = False

    # -- the port: lifecycle and events -------------------------------------------------------------------------
    def on_event(self, handler: EventHandler) -> None:
        self._handlers.append(handler)

    async def start(self) -> None:
        """Connects and opens the session; ConferenceUnavailable if Janus does not answer in time."""
        await self._ensure_session()

    async def close(self) -> None:
        for room in list(self._rooms):
            with contextlib.suppress(ConferenceError):
                await self.close_room(room)
        self._closing = True
        if self._session is not None and self._socket is not None:
            with contextlib.suppress(ConferenceError):
                await self._janus({"janus": "destroy"})
        await self._disconnect()
        for task in [*self._tasks, self._reclaiming]:
            if task is not None:
                task.cancel()
        self._tasks.clear()

    def rooms(self) -> frozenset[str]:
        return frozenset(self._rooms)

    def participants(self, room_id: str) -> frozenset[str]:
        return frozenset(p for p, record in self._participants.items() if record.room == room_id)

    # -- the port: rooms ----------------------------------------------------------------------------------------
    async def open_room(self, room_id: str, sampling_rate: int | None = None) -> None:
        sampling_rate = sampling_rate or self.sampling_rate
        if sampling_rate not in SAMPLING_RATES:
            raise ConferenceError(f"sampling rate {sampling_rate} is not one of {SAMPLING_RATES}")
        await self._admin(room_request(room_id, self.secret, self.access.admin_key, sampling_rate))
        self._rooms.add(room_id)

    async def close_room(self, room_id: str) -> None:
        await self._admin({"request": "destroy", "room": room_id, "secret": self.secret})
        self._rooms.discard(room_id)
        for participant in self.participants(room_id):
            self._drop(participant, LeftReason.ROOM_CLOSED)

    # -- the port: joining --------------------------------------------------------------------------------------
    async def join_webrtc(self, room_id: str, participant_id: str, display: str, offer_sdp: str) -> str:
        answer = await self._join(room_id, participant_id, display, {}, {"type": "offer", "sdp": offer_sdp})
        return _sdp_of(answer, "answer")

    async def join_offering(self, room_id: str, participant_id: str, display: str,
                            codec: RtpCodec = RtpCodec.OPUS) -> str:
        answer = await self._join(room_id, participant_id, display,
                                  {"generate_offer": True, "codec": codec.value}, None)
        return static_g711_payload(_sdp_of(answer, "offer"))

    async def complete(self, room_id: str, participant_id: str, answer_sdp: str) -> None:
        record = self._participant(room_id, participant_id)
        await self._plugin(record.handle, {"request": "configure"}, jsep={"type": "answer", "sdp": answer_sdp})

    async def join_rtp(self, room_id: str, participant_id: str, display: str, codec: RtpCodec,
                       remote: RtpAddress) -> RtpLeg:
        rtp: Message = {"ip": remote.ip, "port": remote.port}
        if codec is RtpCodec.OPUS:
            rtp["payload_type"] = OPUS_PAYLOAD_TYPE
        answer = await self._join(room_id, participant_id, display, {"codec": codec.value, "rtp": rtp}, None)
        local = answer.get("plugindata", {}).get("data", {}).get("rtp", {})
        try:
            return RtpLeg(RtpAddress(str(local["ip"]), int(local["port"])), int(local["payload_type"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConferenceError(f"janus joined {participant_id} without a plain RTP address: {local}") from exc

    async def _join(self, room_id: str, participant_id: str, display: str, extra: Message,
                    jsep: Message | None) -> Message:
        if participant_id in self._participants:
            raise AlreadyJoined(f"participant {participant_id} is already in room "
                                f"{self._participants[participant_id].room}")
        handle = await self._attach()
        body = {"request": "join", "room": room_id, "id": participant_id, "display": display, **extra}
        try:
            answer = await self._plugin(handle, body, jsep=jsep)
        except BaseException:
            await self._detach_quietly(handle)
            raise
        self._participants[participant_id] = _Participant(room_id, handle, display)
        self._by_handle[handle] = participant_id
        return answer

    # -- the port: in the room ----------------------------------------------------------------------------------
    async def leave(self, room_id: str, participant_id: str) -> None:
        record = self._participants.get(participant_id)
        if record is None or record.room != room_id:
            return
        self._forget(participant_id)
        await self._detach_quietly(record.handle)

    async def mute(self, room_id: str, participant_id: str, muted: bool) -> None:
        self._participant(room_id, participant_id)
        await self._admin({"request": "mute" if muted else "unmute", "room": room_id, "secret": self.secret,
                           "id": participant_id})

    async def move(self, participant_id: str, to_room: str) -> None:
        record = self._participants.get(participant_id)
        if record is None:
            raise NoSuchParticipant(f"no participant {participant_id}")
        await self._plugin(record.handle, {"request": "changeroom", "room": to_room, "id": participant_id,
                                           "display": record.display})
        record.room = to_room

    async def kick(self, room_id: str, participant_id: str) -> None:
        self._participant(room_id, participant_id)
        await self._admin({"request": "kick", "room": room_id, "secret": self.secret, "id": participant_id})
        self._drop(participant_id, LeftReason.KICKED)

    async def play_file(self, room_id: str, path: Path, *, loop: bool = False) -> str:
        file_id = f"file-{secrets.token_hex(6)}"
        await self._admin({"request": "play_file", "room": room_id, "secret": self.secret, "file_id": file_id,
                           "filename": str(path.resolve()), "loop": loop})
        return file_id

    async def stop_file(self, room_id: str, file_id: str) -> None:
        await self._admin({"request": "stop_file", "room": room_id, "secret": self.secret, "file_id": file_id})

    def _participant(self, room_id: str, participant_id: str) -> _Participant:
        record = self._participants.get(participant_id)
        if record is None or record.room != room_id:
            raise NoSuchParticipant(f"no participant {participant_id} in room {room_id}")
        return record

    # -- participants leaving on their own ----------------------------------------------------------------------
    def _forget(self, participant_id: str) -> _Participant | None:
        record = self._participants.pop(participant_id, None)
        if record is not None:
            self._by_handle.pop(record.handle, None)
        return record

    def _drop(self, participant_id: str, reason: LeftReason) -> None:
        """Idempotent: the notification and the verb's answer race; the first reports Left."""
        record = self._forget(participant_id)
        if record is None:
            return
        self._emit(Left(record.room, participant_id, reason))
        self._background(self._detach_quietly(record.handle))

    def _emit(self, event: ConferenceEvent) -> None:
        for handler in self._handlers:
            try:
                handler(event)
            except Exception:
                log.exception("a conference event handler failed", extra={"event": repr(event)})

    def _notified(self, message: Message) -> None:
        participant = self._by_handle.get(message.get("sender", 0))
        if participant is None:
            return
        record = self._participants[participant]
        event = notification(record.room, participant, message)
        if isinstance(event, Left):
            self._drop(participant, event.reason)
        elif event is not None:
            self._emit(event)

    # -- requests -----------------------------------------------------------------------------------------------
    async def _admin(self, body: Message) -> Message:
        for attempt in (1, 2):
            await self._ensure_session()
            assert self._admin_handle is not None
            try:
                return await self._plugin(self._admin_handle, body)
            except _Dropped:  # the connection dropped under the request: once more after the reclaim, if safe
                if attempt == 2 or body["request"] not in IDEMPOTENT:
                    raise
                await asyncio.sleep(0)  # the reader sees the end of the connection and starts the reclaim
        raise AssertionError("unreachable")

    async def _plugin(self, handle: int, body: Message, *, jsep: Message | None = None) -> Message:
        asynchronous = body["request"] in ("join", "configure", "changeroom")
        message: Message = {"janus": "message", "handle_id": handle, "body": body}
        if jsep is not None:
            message["jsep"] = jsep
        answer = await self._janus(message, wants_event=asynchronous)
        error = plugin_error(answer.get("plugindata", {}).get("data", {}))
        if error is not None:
            raise error
        return answer

    async def _attach(self) -> int:
        await self._ensure_session()
        answer = await self._janus({"janus": "attach", "plugin": PLUGIN})
        return int(answer["data"]["id"])

    async def _detach_quietly(self, handle: int) -> None:
        with contextlib.suppress(ConferenceError):
            await self._janus({"janus": "detach", "handle_id": handle})

    async def _janus(self, message: Message, *, wants_event: bool = False, session: bool = True) -> Message:
        """One request and its answer, within ``request_timeout``."""
        socket = self._socket
        if socket is None or (session and self._session is None):
            raise ConferenceUnavailable("no connection to janus")
        transaction = f"t{next(self._transactions)}"
        message = {**message, "transaction": transaction, "apisecret": self.access.api_secret}
        if session:
            message["session_id"] = self._session
        pending = _Pending(asyncio.get_running_loop().create_future(), wants_event)
        self._pending[transaction] = pending
        try:
            await asyncio.wait_for(socket.send(json.dumps(message)), self.request_timeout)
            answer = await asyncio.wait_for(pending.future, self.request_timeout)
        except (WebSocketException, OSError) as exc:
            raise _Dropped(f"the connection to janus dropped: {exc}") from exc
        except TimeoutError as exc:
            raise ConferenceUnavailable(f"janus did not answer {message['janus']} "
                                        f"{message.get('body', {}).get('request', '')} within "
                                        f"{self.request_timeout} s") from exc
        finally:
            self._pending.pop(transaction, None)
        if answer.get("janus") == "error":
            error = answer.get("error", {})
            raise ConferenceRejected(f"janus {error.get('code')}: {error.get('reason')}", int(error.get("code", 0)))
        return answer

    def _received(self, message: Message) -> None:
        pending = self._pending.get(str(message.get("transaction", "")))
        kind = message.get("janus")
        if pending is not None and not (kind == "ack" and pending.wants_event):
            if not pending.future.done():
                pending.future.set_result(message)
            return
        if pending is None and kind in ("event", "hangup"):
            self._notified(message)

    # -- the connection -----------------------------------------------------------------------------------------
    async def _ensure_session(self) -> None:
        if self._session is not None and self._socket is not None:
            return
        reclaiming = self._reclaiming
        if reclaiming is not None and not reclaiming.done():
            try:  # a verb during a reclaim waits a little for it, and never starts a second session
                await asyncio.wait_for(asyncio.shield(reclaiming), self.connect_timeout)
            except TimeoutError as exc:
                raise ConferenceUnavailable("the connection to janus dropped; reconnecting") from exc
            if self._session is not None and self._socket is not None:
                return
        async with self._connecting:
            if self._session is not None and self._socket is not None:
                return
            self._closing = False
            await self._connect()
            try:
                created = await self._janus({"janus": "create"}, session=False)
                self._session = int(created["data"]["id"])
                admin = await self._janus({"janus": "attach", "plugin": PLUGIN})
                self._admin_handle = int(admin["data"]["id"])
            except BaseException:
                await self._disconnect()
                raise
            self._keepalive = asyncio.ensure_future(self._keep_alive())

    async def _connect(self) -> None:
        try:
            self._socket = await connect(self.access.url, subprotocols=[Subprotocol("janus-protocol")],
                                         open_timeout=self.connect_timeout, close_timeout=1.0)
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise ConferenceUnavailable(f"janus does not answer at {self.access.url}: {exc}") from exc
        self._reader = asyncio.ensure_future(self._read(self._socket))

    async def _read(self, socket: ClientConnection) -> None:
        with contextlib.suppress(WebSocketException, OSError):
            async for raw in socket:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(message, dict):
                    self._received(message)
        if socket is self._socket and not self._closing:
            self._reclaiming = asyncio.ensure_future(self._reclaim())

    async def _keep_alive(self) -> None:
        """More often than Janus's session timeout; a keepalive not answered drops the connection (then reclaim)."""
        while True:
            await asyncio.sleep(min(self.access.session_timeout / 3, 20))
            try:
                await self._janus({"janus": "keepalive"})
            except ConferenceUnavailable:
                if self._socket is not None:
                    await self._socket.close()
                return

    async def _reclaim(self) -> None:
        """A dropped connection: a new one claims the old session while Janus keeps it, else everything is lost."""
        self._fail_pending()
        session = self._session
        await self._disconnect(keep_session=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.access.reclaim_timeout * 0.75
        while session is not None and loop.time() < deadline and not self._closing:
            with contextlib.suppress(ConferenceError):
                await self._connect()
                try:
                    await self._janus({"janus": "claim", "session_id": session}, session=False)
                except ConferenceError:
                    await self._disconnect(keep_session=True)
                    raise
                self._session = session
                self._keepalive = asyncio.ensure_future(self._keep_alive())
                log.warning("reclaimed the janus session after its connection dropped")
                return
            await asyncio.sleep(0.5)
        if self._closing:
            return
        lost = list(self._participants)
        self._session = self._admin_handle = None
        self._participants.clear()
        self._by_handle.clear()
        self._rooms.clear()
        log.error("lost the janus session", extra={"participants": len(lost)})
        self._emit(MediaLost("the conference engine's session was lost"))

    def _fail_pending(self) -> None:
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(_Dropped("the connection to janus dropped"))

    async def _disconnect(self, *, keep_session: bool = False) -> None:
        socket, self._socket = self._socket, None
        for task in (self._keepalive, self._reader):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        self._keepalive = self._reader = None
        if not keep_session:
            self._session = self._admin_handle = None
        if socket is not None:
            with contextlib.suppress(WebSocketException, OSError):
                await socket.close()
        self._fail_pending()

    def _background(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _sdp_of(answer: Message, kind: str) -> str:
    jsep = answer.get("jsep") or {}
    if jsep.get("type") != kind or not jsep.get("sdp"):
        raise ConferenceError(f"janus answered without an SDP {kind}")
    return str(jsep["sdp"])


@contextlib.asynccontextmanager
async def running_conference(settings: Settings, workdir: Path) -> AsyncIterator[JanusConference]:
    """A Janus child process with ``settings``' ports, and the engine connected to it; both end on exit."""
    process = JanusProcess(workdir, binary=settings.janus_binary, api_port=settings.janus_api_port,
                           webrtc_ports=PortRange(settings.janus_webrtc_port_min, settings.janus_webrtc_port_max),
                           rtp_ports=PortRange(settings.janus_rtp_port_min, settings.janus_rtp_port_max),
                           rtp_address=settings.janus_rtp_address)
    access = await process.start()
    engine = JanusConference(access, sampling_rate=settings.conference_sampling_rate)
    try:
        await engine.start()
        yield engine
    finally:
        await engine.close()
        await process.stop()
