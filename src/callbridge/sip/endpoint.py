"""A SIP endpoint on asyncio: the transport and the transaction layer glued together, one timer task, and the
events for the transaction user (the dialog and user-agent layers) handed to one callback.

The transaction layer is sans-I/O; this driver feeds it what the transport receives, sends what it asks to send
(a datagram at once; a send over TCP or TLS in its own task, so a connect never holds the others up; a send
that fails is reported to the transaction as a transport error), and wakes it at `next_deadline()` with an
`Alarm` on the loop's timer.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable

from callbridge.logs import Throttled
from callbridge.sip.alarm import Alarm
from callbridge.sip.message import Message, Request, Response
from callbridge.sip.transaction import (
    DEFAULT_TIMERS,
    ClientKey,
    Output,
    RequestReceived,
    ResponseReceived,
    ServerKey,
    Terminated,
    Timeout,
    Transmit,
    TransportFailed,
)
from callbridge.sip.transaction_layer import TransactionLayer
from callbridge.sip.transaction_tables import TimerSettings
from callbridge.sip.transport import Address, SipTransport, TransportLimits

log = logging.getLogger("callbridge.sip")
throttled = Throttled(log)  # for what others can repeat at will: one line a minute per kind

TuEvent = RequestReceived | ResponseReceived | Timeout | TransportFailed | Terminated
OnEvent = Callable[[TuEvent], None]


class Endpoint:
    def __init__(
        self,
        on_event: OnEvent,
        *,
        timers: TimerSettings = DEFAULT_TIMERS,
        limits: TransportLimits | None = None,
        tls_server: ssl.SSLContext | None = None,
        tls_client: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.on_event = on_event
        self.clock = clock
        self.transport = SipTransport(self._received, limits=limits, tls_server=tls_server, tls_client=tls_client)
        self.layer = TransactionLayer(self.transport.local, timers)
        self._alarm = Alarm(clock, self._on_alarm)
        self._sends: set[asyncio.Task[None]] = set()

    async def listen(self, transport: str, host: str = "127.0.0.1", port: int = 0) -> Address:
        return await self.transport.listen(transport, host, port)

    async def close(self) -> None:
        self._alarm.cancel()
        for task in list(self._sends):
            task.cancel()
        await self.transport.close()

    # -- for the transaction user -------------------------------------------------------------------------------
    def send_request(self, request: Request, destination: Address) -> ClientKey:
        key, out = self.layer.send_request(request, destination, self.clock())
        self._dispatch(out)
        return key

    def send_response(self, key: ServerKey, response: Response) -> None:
        self._dispatch(self.layer.send_response(key, response, self.clock()))

    def send_stateless(self, message: Message, destination: Address) -> None:
        self._dispatch(self.layer.send_stateless(message, destination))

    # -- inside -------------------------------------------------------------------------------------------------
    def _received(self, message: Message, source: Address) -> None:
        self._dispatch(self.layer.receive(message, source, self.clock()))

    def _dispatch(self, out: list[Output]) -> None:
        """Sends first, then events: what the TU sends while handling an event goes out after them."""
        failed: list[Transmit] = []
        for item in out:
            if isinstance(item, Transmit):
                self._transmit(item, failed)
        for item in out:
            if not isinstance(item, Transmit):
                try:
                    self.on_event(item)
                except Exception:  # one failing handler must not stop the others
                    throttled.exception("sip event handler failed", extra={"event": type(item).__name__})
        for item in failed:
            self._transport_error(item)
        self._alarm.arm(self.layer.next_deadline())

    def _transmit(self, item: Transmit, failed: list[Transmit]) -> None:
        """A datagram goes out now (a failure is reported after the events); a stream send gets its task."""
        if not item.destination.reliable:
            try:
                self.transport.send_datagram(bytes(item.message), item.destination)
            except OSError as exc:
                throttled.warning("sip send failed", extra={"destination": str(item.destination), "error": str(exc)})
                failed.append(item)
            return
        task = asyncio.create_task(self._send(item))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _send(self, item: Transmit) -> None:
        try:
            await self.transport.send(bytes(item.message), item.destination)
        except (OSError, TimeoutError) as exc:
            throttled.warning("sip send failed", extra={"destination": str(item.destination), "error": str(exc)})
            self._transport_error(item)

    def _transport_error(self, item: Transmit) -> None:
        if item.transaction is not None:
            self._dispatch(self.layer.on_transport_error(item.transaction, self.clock()))

    def _on_alarm(self) -> None:
        try:
            self._dispatch(self.layer.on_timer(self.clock()))
        except Exception:  # a timer must never stop the others
            throttled.exception("sip timer failed")
            self._alarm.arm(self.layer.next_deadline())
