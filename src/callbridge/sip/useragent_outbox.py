"""The user agent's two pieces of asyncio plumbing over one `Endpoint`.

`Outbox` sends requests in client transactions and hands every response back to the callback given with the
request; a transaction timeout becomes the 408 the layer made (RFC 3261 8.1.3.1) and a transport failure a 503
made here (8.1.3.1 too), both flagged `local`. `request()` awaits the first final response.

`Schedule` is the user agent's one timer (an `Alarm` on the loop's): the sans-I/O pieces (dialogs with their 2xx
retransmission, sessions with their no-answer timers) say when they are next due (`next_deadline()`), and are
called back with `on_timer(now)`, as `Endpoint` does for the transaction layer.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from callbridge.logs import Throttled
from callbridge.sip.alarm import Alarm
from callbridge.sip.endpoint import Endpoint
from callbridge.sip.message import Message, Request, Response
from callbridge.sip.responses import make_response
from callbridge.sip.transaction import ClientKey, ResponseReceived, ServerKey, Terminated, Timeout, TransportFailed
from callbridge.sip.transaction_layer import UnknownTransaction
from callbridge.sip.transport import Address

log = logging.getLogger("callbridge.sip")
throttled = Throttled(log)  # for what others can repeat at will: one line a minute per kind

OnResponse = Callable[[Response, bool], None]  # (response, made locally)
ClientEvent = ResponseReceived | Timeout | TransportFailed | Terminated


@dataclass
class _Pending:
    request: Request
    on_response: OnResponse


def _ignore(response: Response, local: bool) -> None:
    return None


class Outbox:
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._pending: dict[ClientKey, _Pending] = {}

    def send(self, request: Request, destination: Address, on_response: OnResponse = _ignore) -> ClientKey:
        key = self.endpoint.send_request(request, destination)
        self._pending[key] = _Pending(request, on_response)
        return key

    async def request(self, request: Request, destination: Address,
                      after: OnResponse = _ignore) -> tuple[Response, bool]:
        """The first final response (and whether it was made locally); later ones (2xx repeats) go to `after`."""
        answer: asyncio.Future[tuple[Response, bool]] = asyncio.get_running_loop().create_future()

        def on_response(response: Response, local: bool) -> None:
            if response.is_final and not answer.done():
                answer.set_result((response, local))
            elif answer.done():
                after(response, local)

        self.send(request, destination, on_response)
        return await answer

    def respond(self, key: ServerKey, response: Response, destination: Address) -> None:
        """A response in its server transaction; once that has ended (a late 2xx retransmission), statelessly."""
        try:
            self.endpoint.send_response(key, response)
        except UnknownTransaction:
            self.endpoint.send_stateless(response, destination)

    def stateless(self, message: Message, destination: Address) -> None:
        self.endpoint.send_stateless(message, destination)

    def abandon(self, key: ClientKey) -> None:
        """Forget a client transaction that will never end by itself (an INVITE still Proceeding 64*T1 after
        its CANCEL, RFC 3261 9.1)."""
        self._pending.pop(key, None)
        self.endpoint.layer.clients.pop(key, None)

    def on_event(self, event: ClientEvent) -> None:
        key = event.transaction
        pending = self._pending.get(key) if isinstance(key, ClientKey) else None
        if pending is None or not isinstance(key, ClientKey):
            return  # a stray response (RFC 6026 8.9: discarded), or a server transaction's event
        if isinstance(event, Terminated):
            del self._pending[key]
        elif isinstance(event, ResponseReceived):
            pending.on_response(event.response, False)
        elif isinstance(event, Timeout):
            pending.on_response(event.response or make_response(pending.request, 408), True)
        else:
            pending.on_response(make_response(pending.request, 503, "Service Unavailable (transport)"), True)


class Timed(Protocol):
    def next_deadline(self) -> float | None: ...

    def on_timer(self, now: float) -> None: ...


class Schedule:
    """Deadlines of many `Timed` owners in one heap (stale entries skipped when they come up), one alarm."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, Timed]] = []
        self._filed: dict[Timed, float] = {}
        self._sequence = itertools.count()
        self._alarm = Alarm(clock, self._on_alarm)

    def file(self, owner: Timed) -> None:
        """Call after `owner` changed: its next deadline is (re)filed, or dropped when it has none."""
        deadline = owner.next_deadline()
        if deadline is None:
            self._filed.pop(owner, None)
            return
        if self._filed.get(owner) != deadline:
            self._filed[owner] = deadline
            heapq.heappush(self._heap, (deadline, next(self._sequence), owner))
            self._alarm.arm(self.next_deadline())

    def forget(self, owner: Timed) -> None:
        self._filed.pop(owner, None)

    def next_deadline(self) -> float | None:
        while self._heap:
            deadline, _, owner = self._heap[0]
            if self._filed.get(owner) == deadline:
                return deadline
            heapq.heappop(self._heap)
        return None

    def run_due(self, now: float) -> None:
        due: list[Timed] = []
        while (deadline := self.next_deadline()) is not None and deadline <= now:
            _, _, owner = heapq.heappop(self._heap)
            del self._filed[owner]
            due.append(owner)
        for owner in due:
            try:
                owner.on_timer(now)
            except Exception:  # one failing owner must not stop the others
                throttled.exception("sip user agent timer failed")
            self.file(owner)

    async def close(self) -> None:
        self._alarm.cancel()

    def _on_alarm(self) -> None:
        self.run_due(self.clock())
        self._alarm.arm(self.next_deadline())
