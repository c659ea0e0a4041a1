"""The built-in carrier's page and API under ``/carrier``: its virtual phones as JSON, actions on them, the last
call's audio as WAV, a Server-Sent Events stream of their changes, and a plain HTML page on top of all that.

A demo and test tool: served only when the carrier runs in this process (``carrier_enabled``, which
``callbridge demo`` turns on) or by ``callbridge carrier`` alone; there is no sign-in, so it is served on loopback
only and answers its own page only (``guard.py``). Not in the OpenAPI document (it is no part of the platform's API).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import re
import signal
import threading
import time
import wave
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from callbridge.carrier.guard import ApiError, Guards, require_json
from callbridge.carrier.network import Carrier, PhoneSpec
from callbridge.carrier.phone import AnswerMode, PhoneBusy, PhoneState, VirtualPhone
from callbridge.json_body import JsonRejected, read_json
from callbridge.logs import Throttled
from callbridge.media.audio import rms
from callbridge.media.g711 import SAMPLE_RATE
from callbridge.sip.transport import Address
from callbridge.sip.useragent_events import ReinviteFailed

log = logging.getLogger("callbridge.carrier")
throttled = Throttled(log)  # for what others can repeat at will: one line a minute per kind

router = APIRouter(prefix="/carrier", tags=["carrier"], include_in_schema=False)

E164 = re.compile(r"\+[1-9][0-9]{1,14}")
DTMF = re.compile(r"[0-9*#A-D]{1,32}")
KEEP_ALIVE_S = 15.0  # a comment line on an idle event stream this often (proxies close silent connections)
TICK_S = 1.0  # how often a stream looks at the level and digits of phones in a call
QUEUE_SIZE = 64  # changes waiting for one stream client; the oldest go first (each change is a whole phone)
LEVEL_CHUNKS = 10  # the level is the RMS of the last 10 frames heard (200 ms)


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, status_code=exc.status,
                        headers=exc.headers)


class CarrierHub:
    """The carrier as the page sees it: each phone as JSON, what each plays, and the event streams' queues."""

    def __init__(self, carrier: Carrier, guards: Guards) -> None:
        self.carrier, self.guards = carrier, guards
        self.playing: dict[str, str] = {}
        self.closed = asyncio.Event()
        self._clients: dict[asyncio.Queue[dict[str, Any]], str] = {}  # each stream's queue -> its address
        self._published: dict[str, dict[str, Any]] = {}
        carrier.on_change = self.publish

    def phone(self, number: str) -> VirtualPhone:
        number = number.strip()
        if not number.startswith("+"):
            number = f"+{number}"
        phone = self.carrier.phones.get(number)
        if phone is None:
            raise ApiError(404, "PhoneNotFound", f"The carrier has no phone {number[:32]}.")
        return phone

    def describe(self, phone: VirtualPhone) -> dict[str, Any]:
        call = phone.call
        chunks = phone.recording.chunks[-LEVEL_CHUNKS:] if phone.state is PhoneState.CONNECTED else []
        return {
            "number": phone.number, "name": phone.name, "state": str(phone.state), "held": phone.held,
            "answerMode": str(phone.answer_mode), "earlyMedia": phone.early_media,
            "playing": self.playing.get(phone.number, "tone:440"),
            "call": None if call is None else {"direction": call.direction, "peer": call.peer,
                                               "peerName": call.peer_name, "sipCallId": call.sip_call_id,
                                               "outcome": call.outcome},
            "digits": "".join(phone.digits),
            "level": round(rms(np.concatenate(chunks)), 3) if chunks else 0.0,
        }

    def publish(self, phone: VirtualPhone) -> None:
        data = self._published[phone.number] = self.describe(phone)
        for queue in self._clients:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(data)

    def publish_if_changed(self, phone: VirtualPhone) -> dict[str, Any]:
        """After an action: what changed beside the phone's state (its mode, what it plays, or an outcome the
        phone settled after its last state change, e.g. "hung up here") reaches the streams too."""
        data = self.describe(phone)
        if data != self._published.get(phone.number):
            self.publish(phone)
        return data

    @property
    def streams(self) -> int:
        return len(self._clients)

    def subscribe(self, client: str) -> asyncio.Queue[dict[str, Any]]:
        """A queue of changes for a new event stream from ``client`` (an address), within the limits."""
        limits, retry = self.guards.streams, {"Retry-After": "5"}
        if sum(1 for address in self._clients.values() if address == client) >= limits.per_client:
            raise ApiError(429, "TooManyStreams", f"At most {limits.per_client} event streams from one address: "
                                                  "close a carrier page.", retry)
        if len(self._clients) >= limits.total:
            raise ApiError(503, "TooManyStreams", f"At most {limits.total} event streams at a time.", retry)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._clients[queue] = client
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._clients.pop(queue, None)

    def close(self) -> None:
        self.closed.set()

    def close_on_signals(self) -> None:
        """End the event streams when the server is told to stop (SIGINT, SIGTERM): uvicorn waits for open
        responses before it shuts down, and these never end by themselves. Chains the handlers in place; only
        possible from the main thread (a test server in a thread stops its streams with its graceful timeout)."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(sig)

            def handler(number: int, frame: Any, previous: Any = previous) -> None:
                loop.call_soon_threadsafe(self.close)
                if callable(previous):
                    previous(number, frame)

            signal.signal(sig, handler)


def attach(app: FastAPI, carrier: Carrier, guards: Guards) -> CarrierHub:
    hub = CarrierHub(carrier, guards)
    app.state.carrier, app.state.carrier_hub = carrier, hub
    hub.close_on_signals()
    return hub


# -- which phones --------------------------------------------------------------------------------------------------
def phone_specs(data: Any) -> list[PhoneSpec]:
    """Phones from JSON: a list of {number, name, answerMode?}, or an object with such a list under "phones" or
    under "carrier" → "phones" (demo.json)."""
    if isinstance(data, dict):
        data = data.get("carrier", data)
        data = data.get("phones") if isinstance(data, dict) else None
    if not isinstance(data, list):
        raise ValueError("expected a list of phones ({number, name}), or an object with one under \"phones\"")
    specs = []
    for item in data:
        if not isinstance(item, dict) or not E164.fullmatch(str(item.get("number", ""))):
            raise ValueError(f"a phone is {{\"number\": \"+<E.164>\", \"name\": ...}}, not {item!r:.80}")
        mode = str(item.get("answerMode", item.get("answer_mode", "manual")))
        specs.append(PhoneSpec(item["number"], str(item.get("name") or item["number"]), AnswerMode(mode)))
    return specs


def demo_phones(demo_json: Path) -> list[PhoneSpec]:
    """The demo's customers: demo.json's "carrier" entry when it has one, else the built-in list."""
    from callbridge.demo import CUSTOMERS

    if demo_json.is_file():
        with contextlib.suppress(ValueError, OSError):
            info = json.loads(demo_json.read_text())
            if isinstance(info, dict) and "carrier" in info:
                return phone_specs(info)
    return [PhoneSpec(number, name) for number, name in CUSTOMERS]


def standalone_app(trunk: Address, phones: Iterable[PhoneSpec], guards: Guards, *, host: str = "127.0.0.1",
                   sip_port: int = 5070, transport: str = "UDP") -> FastAPI:
    """The carrier alone (``callbridge carrier``): its SIP endpoint, and this page and API over HTTPS."""
    specs = list(phones)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        carrier = Carrier(trunk, host=host, port=sip_port, transport=transport)
        await carrier.start(specs)
        hub = attach(app, carrier, guards)
        yield
        hub.close()
        await carrier.stop()

    app = FastAPI(title="callbridge carrier", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(router)

    @app.get("/", include_in_schema=False)
    async def home() -> Response:
        return Response(status_code=307, headers={"Location": "/carrier"})

    return app


# -- the API ---------------------------------------------------------------------------------------------------------
def _hub(request: Request) -> CarrierHub:
    hub = getattr(request.app.state, "carrier_hub", None)
    if not isinstance(hub, CarrierHub):
        raise ApiError(503, "CarrierNotRunning", "The built-in carrier is not running in this server.")
    return hub


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = read_json(await request.body())
    except JsonRejected as exc:
        raise ApiError(400, "InvalidJson", str(exc)) from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidJson", "The body is a JSON object.")
    return body


def _field(body: dict[str, Any], name: str, example: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ApiError(400, "BadRequest", f"Give \"{name}\", e.g. {{\"{name}\": \"{example}\"}}.")
    return value


async def _dial(hub: CarrierHub, phone: VirtualPhone, body: dict[str, Any]) -> None:
    to = _field(body, "to", "+14255550101").replace(" ", "")
    if not E164.fullmatch(to):
        raise ApiError(400, "BadNumber", f"\"to\" is an E.164 number (+ and up to 15 digits), not {to[:32]!r}.")
    if phone.state is not PhoneState.IDLE:
        raise PhoneBusy(f"{phone.number} is {phone.state}")
    try:
        await phone.dial(to)
    except PhoneBusy:
        raise
    except Exception as exc:
        throttled.warning("a virtual phone could not dial", extra={"number": phone.number, "error": repr(exc)})
        raise ApiError(502, "DialFailed", f"The call could not be placed: {exc}") from None


async def _answer(hub: CarrierHub, phone: VirtualPhone, body: dict[str, Any]) -> None:
    await phone.answer()


async def _decline(hub: CarrierHub, phone: VirtualPhone, body: dict[str, Any]) -> None:
    status = body.get("status", 603)
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 699:
        raise ApiError(400, "BadRequest", "\"status\" is a SIP failure status, 400 to 699 (486 busy, 603 decline).")
    await phone.decline(status)


async def _hang_up(hub: CarrierHub, phone: VirtualPhone, body: dict[str, Any]) -> None:
    await phone.hang_up()


async def _hold(hub: CarrierHub, phone: VirtualPhone, body: dict[str, Any]) -> None:
    await _reinvite(phone.hold)


async def _resume(hub: CarrierHub, phone: VirtualPhone, body: dict[str, Any]) -> None:
    await _reinvite(phone.resume)


async def _reinvite(change: Callable[[], Awaitable[None]]) -> None:
    try:
        await change()
    except ReinviteFailed as exc:
        raise ApiError(409, "ReinviteRefused", f"The other side refused the re-INVITE ({exc.status}).") from None


async def _play(hub: CarrierHub, phone: VirtualPhone, body: dict[str, Any]) -> None:
    what = _field(body, "what", "tone:440")
    kind, _, name = what.partition(":")
    try:
        phone.play(f"wav:{hub.guards.wav.resolve(name)}" if kind == "wav" else what)
    except ValueError as exc:
        raise ApiError(400, "BadRequest", str(exc)) from None
    hub.playing[phone.number] = what


async def _ringback(hub: CarrierHub, phone: VirtualPhone, body: dict[str, Any]) -> None:
    on = body.get("on", True)
    if not isinstance(on, bool):
        raise ApiError(400, "BadRequest", "\"on\" is true or false.")
    phone.early_media = on


async def _mode(hub: CarrierHub, phone: VirtualPhone, body: dict[str, Any]) -> None:
    mode = _field(body, "mode", "auto")
    try:
        phone.answer_mode = AnswerMode(mode)
    except ValueError:
        raise ApiError(400, "BadRequest", f"\"mode\" is one of {', '.join(AnswerMode)}.") from None


async def _dtmf(hub: CarrierHub, phone: VirtualPhone, body: dict[str, Any]) -> None:
    digits = _field(body, "digits", "123").upper()
    if not DTMF.fullmatch(digits):
        raise ApiError(400, "BadRequest", "\"digits\" are 1 to 32 of 0-9, *, #, A-D.")
    await phone.send_dtmf(digits)


ACTIONS: dict[str, Callable[[CarrierHub, VirtualPhone, dict[str, Any]], Awaitable[None]]] = {
    "dial": _dial, "answer": _answer, "decline": _decline, "hangup": _hang_up, "hold": _hold, "resume": _resume,
    "play": _play, "mode": _mode, "ringback": _ringback, "dtmf": _dtmf,
}


@router.get("/api/phones")
async def list_phones(request: Request) -> Response:
    try:
        hub = _hub(request)
    except ApiError as exc:
        return error_response(exc)
    return JSONResponse({"phones": [hub.describe(p) for p in hub.carrier.phones.values()]})


@router.get("/api/phones/{number}")
async def get_phone(number: str, request: Request) -> Response:
    try:
        hub = _hub(request)
        return JSONResponse(hub.describe(hub.phone(number)))
    except ApiError as exc:
        return error_response(exc)


@router.post("/api/phones/{number}/{action}")
async def act(number: str, action: str, request: Request) -> Response:
    try:
        hub = _hub(request)
        hub.guards.origin.check(request)
        require_json(request)
        phone = hub.phone(number)
        handler = ACTIONS.get(action)
        if handler is None:
            raise ApiError(404, "UnknownAction", f"A phone can {', '.join(ACTIONS)}; not {action[:32]!r}.")
        await handler(hub, phone, await _body(request))
    except ApiError as exc:
        return error_response(exc)
    except PhoneBusy as exc:
        return error_response(ApiError(409, "PhoneBusy", str(exc)))
    return JSONResponse(hub.publish_if_changed(phone))


@router.get("/api/phones/{number}/recording.wav")
async def recording(number: str, request: Request) -> Response:
    try:
        phone = _hub(request).phone(number)
        samples = phone.recording.samples()
        if not len(samples):
            raise ApiError(404, "NoRecording", f"{phone.number} has heard nothing yet.")
    except ApiError as exc:
        return error_response(exc)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(samples.astype("<i2").tobytes())
    return Response(out.getvalue(), media_type="audio/wav",
                    headers={"Content-Disposition": f'attachment; filename="{phone.number[1:]}.wav"'})


def _event(data: dict[str, Any]) -> str:
    return f"event: phone\ndata: {json.dumps(data)}\n\n"


@router.get("/api/events")
async def events(request: Request) -> Response:
    """Every phone once, then each phone again whenever it changes (and each second while in a call whose level
    or digits moved); a comment line after 15 s of quiet; the end after ``idle_s`` without a change (the browser's
    EventSource reconnects after the ``retry`` it was given)."""
    client = request.client.host if request.client else ""
    try:
        hub = _hub(request)
        hub.guards.origin.check(request)
        queue = hub.subscribe(client)
    except ApiError as exc:
        return error_response(exc)

    async def stream() -> AsyncIterator[str]:
        try:
            sent: dict[str, dict[str, Any]] = {}
            frames = ["retry: 1000\n\n"]
            for phone in hub.carrier.phones.values():
                sent[phone.number] = hub.describe(phone)
                frames.append(_event(sent[phone.number]))
            yield "".join(frames)
            quiet_since = changed = time.monotonic()
            while not hub.closed.is_set() and time.monotonic() - changed < hub.guards.streams.idle_s:
                try:
                    changes = [await asyncio.wait_for(queue.get(), TICK_S)]
                except TimeoutError:
                    changes = [d for p in hub.carrier.phones.values() if p.state is PhoneState.CONNECTED
                               for d in (hub.describe(p),) if d != sent.get(p.number)]
                for data in changes:
                    sent[data["number"]] = data
                    yield _event(data)
                if changes:
                    quiet_since = changed = time.monotonic()
                elif time.monotonic() - quiet_since >= KEEP_ALIVE_S:
                    quiet_since = time.monotonic()
                    yield ": keep-alive\n\n"
        finally:
            hub.unsubscribe(queue)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# -- the page --------------------------------------------------------------------------------------------------------
def _page() -> bytes:
    return (resources.files("callbridge.carrier") / "static" / "carrier.html").read_bytes()


@router.get("")
async def page() -> Response:
    return Response(_page(), media_type="text/html; charset=utf-8",
                    headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})
