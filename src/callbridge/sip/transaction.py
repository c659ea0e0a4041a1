"""The transaction machines (RFC 3261 section 17, RFC 6026), sans-I/O: they carry out the actions of the tables in
`transaction_tables.py`, and every call returns typed outputs.

A client transaction is created with the request (its top Via carrying the branch) and the address to send it
to; `start(now)` sends it. `receive(response, now)`, `timer(now)` and `transport_error(now)` drive it. A server
transaction is created with the request and its source; `start(now)` passes the request to the TU (and answers
100 Trying for an INVITE); the TU answers with `send_response(response, now)`. `next_deadline()` says when
`timer()` is next due. Outputs: `Transmit` (to the transport), `RequestReceived` / `ResponseReceived` (to the
TU), `Timeout`, `TransportFailed` and `Terminated`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

from callbridge.sip.fields import MAGIC_COOKIE, Via
from callbridge.sip.message import Message, Request, Response
from callbridge.sip.responses import make_response
from callbridge.sip.transaction_tables import (
    INVITE_CLIENT,
    INVITE_SERVER,
    NON_INVITE_CLIENT,
    NON_INVITE_SERVER,
    TIMER_EVENTS,
    Action,
    Arm,
    Backoff,
    Do,
    Event,
    MachineSpec,
    State,
    Timer,
    TimerSettings,
)
from callbridge.sip.transport import Address, response_destination

DEFAULT_TIMERS = TimerSettings()


def new_branch() -> str:
    """A Via branch unique in space and time, with the RFC 3261 magic cookie (8.1.1.7)."""
    return MAGIC_COOKIE + secrets.token_hex(10)


@dataclass(frozen=True, slots=True)
class ClientKey:
    """RFC 3261 17.1.3: a response matches by its top Via's branch and its CSeq method."""

    branch: str
    method: str


@dataclass(frozen=True, slots=True)
class ServerKey:
    """RFC 3261 17.2.3: branch, sent-by and method of the request's top Via (an ACK's method counts as INVITE)."""

    branch: str
    sent_by: str
    method: str


TransactionKey = ClientKey | ServerKey


@dataclass(frozen=True)
class Transmit:
    message: Message
    destination: Address
    transaction: TransactionKey | None = None


@dataclass(frozen=True)
class RequestReceived:
    """A new request for the TU. `transaction` is None for an ACK that matched none (the ACK for a 2xx);
    `cancels` is set on a CANCEL that matched an INVITE server transaction (RFC 3261 9.2)."""

    request: Request
    source: Address
    transaction: ServerKey | None
    cancels: ServerKey | None = None


@dataclass(frozen=True)
class ResponseReceived:
    """A response for the TU; `transaction` is None for a response that matched no client transaction."""

    response: Response
    transaction: ClientKey | None


@dataclass(frozen=True)
class Timeout:
    """Timer B or F (client: `response` is a 408 made for the TU, RFC 3261 8.1.3.1) or H (server: no ACK came)."""

    transaction: TransactionKey
    response: Response | None


@dataclass(frozen=True)
class TransportFailed:
    transaction: TransactionKey


@dataclass(frozen=True)
class Terminated:
    transaction: TransactionKey


Output = Transmit | RequestReceived | ResponseReceived | Timeout | TransportFailed | Terminated


class _Machine:
    """The engine shared by the four machines: state, timers, and the table's steps."""

    def __init__(self, spec: MachineSpec, reliable: bool, settings: TimerSettings) -> None:
        self.spec = spec
        self.state = spec.initial
        self.reliable = reliable
        self._settings = settings
        self._deadlines: dict[Timer, float] = {}
        self._intervals: dict[Timer, float] = {}
        self._immediate: list[Timer] = []
        self._started = False

    @property
    def key(self) -> TransactionKey:
        raise NotImplementedError

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED

    def next_deadline(self) -> float | None:
        return min(self._deadlines.values(), default=None)

    def timers(self) -> dict[Timer, float]:
        """The running timers and when each fires (for tests and diagnostics)."""
        return dict(self._deadlines)

    def start(self, now: float) -> list[Output]:
        if self._started:
            raise RuntimeError(f"{self.spec.name} transaction already started")
        self._started = True
        return self._carry_out(self.spec.entry, now, None)

    def timer(self, now: float) -> list[Output]:
        out: list[Output] = []
        while self._deadlines:
            timer, deadline = min(self._deadlines.items(), key=lambda item: item[1])
            if deadline > now:
                break
            del self._deadlines[timer]
            out += self.handle(TIMER_EVENTS[timer], now)
        return out

    def transport_error(self, now: float) -> list[Output]:
        return self.handle(Event.TRANSPORT_ERROR, now)

    def handle(self, event: Event, now: float, message: Message | None = None) -> list[Output]:
        """One step of the table; raises `InvalidTransition` for an event the state has no row for."""
        target, actions = self.spec.step(self.state, event)
        self.state = target
        kept = self.spec.kept(target)
        self._deadlines = {timer: at for timer, at in self._deadlines.items() if timer in kept}
        out = self._carry_out(actions, now, message)
        if target is State.TERMINATED:
            self._deadlines.clear()
            self._immediate.clear()
            return [*out, Terminated(self.key)]
        return out

    def _carry_out(self, actions: tuple[Action, ...], now: float, message: Message | None) -> list[Output]:
        out: list[Output] = []
        for action in actions:
            if isinstance(action, Arm):
                self._arm(action, now)
            else:
                out += self._do(action, message)
        while self._immediate and not self.terminated:  # zero-length timers (D, I, J, K on reliable transports)
            out += self.handle(TIMER_EVENTS[self._immediate.pop(0)], now)
        return out

    def _arm(self, arm: Arm, now: float) -> None:
        if arm.backoff is Backoff.START:
            interval = self._settings.initial(arm.timer, self.reliable)
            if interval is None:
                return
        else:
            interval = self._settings.backed_off(arm.timer, self._intervals.get(arm.timer, 0.0), arm.backoff)
        self._intervals[arm.timer] = interval
        if interval <= 0:
            self._immediate.append(arm.timer)
        else:
            self._deadlines[arm.timer] = now + interval

    def _do(self, action: Do, message: Message | None) -> list[Output]:
        raise NotImplementedError


class ClientTransaction(_Machine):
    """The INVITE client (Calling, Proceeding, Accepted, Completed) or non-INVITE client (Trying, Proceeding,
    Completed) machine for one request."""

    def __init__(self, request: Request, destination: Address, settings: TimerSettings = DEFAULT_TIMERS) -> None:
        branch = request.top_via.branch
        if request.method == "ACK" or branch is None:
            raise ValueError("a client transaction needs a request other than ACK with a Via branch")
        super().__init__(
            INVITE_CLIENT if request.method == "INVITE" else NON_INVITE_CLIENT, destination.reliable, settings
        )
        self.request = request
        self.destination = destination
        self._key = ClientKey(branch, request.method)
        self._ack: Request | None = None

    @property
    def key(self) -> ClientKey:
        return self._key

    def receive(self, response: Response, now: float) -> list[Output]:
        if response.is_provisional:
            event = Event.PROVISIONAL
        else:
            event = Event.SUCCESS if response.status < 300 else Event.FAILURE
        return self.handle(event, now, response)

    def _do(self, action: Do, message: Message | None) -> list[Output]:
        if action is Do.SEND_REQUEST:
            return [Transmit(self.request, self.destination, self.key)]
        if action is Do.SEND_ACK and isinstance(message, Response):
            self._ack = self._ack or ack_for(self.request, message)
            return [Transmit(self._ack, self.destination, self.key)]
        if action is Do.PASS_UP and isinstance(message, Response):
            return [ResponseReceived(message, self.key)]
        if action is Do.TIMEOUT:
            return [Timeout(self.key, make_response(self.request, 408))]
        if action is Do.TRANSPORT_ERROR:
            return [TransportFailed(self.key)]
        raise ValueError(f"{self.spec.name}: cannot {action} with {type(message).__name__}")


class ServerTransaction(_Machine):
    """The INVITE server (Proceeding, Completed, Confirmed, Accepted) or non-INVITE server (Trying, Proceeding,
    Completed) machine for one request received from `source`."""

    def __init__(
        self, request: Request, source: Address, key: ServerKey, settings: TimerSettings = DEFAULT_TIMERS
    ) -> None:
        if request.method == "ACK":
            raise ValueError("an ACK never creates a server transaction")
        super().__init__(INVITE_SERVER if request.method == "INVITE" else NON_INVITE_SERVER, source.reliable, settings)
        self.request = request
        self.source = source
        self.destination = response_destination(request.top_via, source)
        self._key = key
        self.last_response: Response | None = None

    @property
    def key(self) -> ServerKey:
        return self._key

    def receive(self, request: Request, now: float) -> list[Output]:
        """A retransmission of the request, or the ACK (INVITE only)."""
        return self.handle(Event.ACK if request.method == "ACK" else Event.REQUEST, now, request)

    def send_response(self, response: Response, now: float) -> list[Output]:
        if response.is_provisional:
            event = Event.TU_PROVISIONAL
        else:
            event = Event.TU_SUCCESS if response.status < 300 else Event.TU_FAILURE
        return self.handle(event, now, response)

    def _do(self, action: Do, message: Message | None) -> list[Output]:
        if action is Do.PASS_UP:
            request = message if isinstance(message, Request) else self.request
            return [RequestReceived(request, self.source, self.key)]
        if action is Do.SEND_TRYING:
            self.last_response = make_response(self.request, 100)
            return [Transmit(self.last_response, self.destination, self.key)]
        if action is Do.SEND_RESPONSE and isinstance(message, Response):
            self.last_response = message
            return [Transmit(message, self.destination, self.key)]
        if action is Do.RESEND_RESPONSE:
            return [] if self.last_response is None else [Transmit(self.last_response, self.destination, self.key)]
        if action is Do.TIMEOUT:
            return [Timeout(self.key, None)]
        if action is Do.TRANSPORT_ERROR:
            return [TransportFailed(self.key)]
        raise ValueError(f"{self.spec.name}: cannot {action} with {type(message).__name__}")


def _field(message: Message, name: str) -> str:
    value = message.header(name)
    if value is None:
        raise ValueError(f"{name} missing")
    return value


def _same_hop(method: str, invite: Request, to: str) -> Request:
    """ACK (non-2xx) and CANCEL: the INVITE's Request-URI, top Via, Route set, From, Call-ID and CSeq number."""
    fields: list[tuple[str, str]] = [("Via", invite.values("Via")[0])]
    fields += [("Route", value) for value in invite.headers("Route")]
    fields += [
        ("Max-Forwards", invite.header("Max-Forwards") or "70"),
        ("From", _field(invite, "From")),
        ("To", to),
        ("Call-ID", _field(invite, "Call-ID")),
        ("CSeq", f"{invite.cseq.number} {method}"),
    ]
    return Request(method, invite.uri, tuple(fields))


def ack_for(invite: Request, response: Response) -> Request:
    """The ACK for a non-2xx final response (RFC 3261 17.1.1.3): same branch, the response's To (with its tag)."""
    return _same_hop("ACK", invite, _field(response, "To"))


def cancel_for(invite: Request) -> Request:
    """The CANCEL of an INVITE (RFC 3261 9.1); send it with `TransactionLayer.send_request` to the INVITE's
    destination, only after a provisional response arrived."""
    return _same_hop("CANCEL", invite, _field(invite, "To"))


def with_branch(via: Via, branch: str | None = None) -> Via:
    """`via` with its branch replaced by `branch` (or a fresh one): each request sent is a new transaction."""
    kept = tuple((key, value) for key, value in via.params if key.lower() != "branch")
    return replace(via, params=(*kept, ("branch", branch or new_branch())))


def via_for(local: Address, branch: str | None = None) -> Via:
    """Our Via for a request sent from `local`: its transport and sent-by, rport asked for (RFC 3581) and a
    fresh branch."""
    host = f"[{local.host}]" if ":" in local.host else local.host
    return with_branch(Via(local.transport, host, local.port, (("rport", None),)), branch)
