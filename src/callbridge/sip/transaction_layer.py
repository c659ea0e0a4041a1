"""All the transactions of an endpoint, sans-I/O: messages in from the transport, outputs out, one deadline.

`TransactionLayer.receive(message, source, now)` matches a response to its client transaction (RFC 3261 17.1.3:
top Via branch and CSeq method) and a request to its server transaction (17.2.3: top Via branch, sent-by and
method, an ACK matching the INVITE), so retransmissions are absorbed by their machine. A request that matches
none starts a server transaction and goes up to the TU, a CANCEL naming the INVITE server transaction it
cancels. What matches nothing and starts nothing goes up as is: an ACK for a 2xx (its own branch, RFC 3261
13.2.2.4) and a stray response (RFC 6026 8.9 has a user agent discard those; the UA core decides).

Requests without the RFC 3261 magic cookie in their branch (RFC 2543 peers) are matched on a key made of their
Call-ID, CSeq number, From tag, Request-URI and top Via: an approximation of 17.2.3's fallback that compares
no To tag.

Deadlines sit in a heap of (deadline, sequence, key); an entry whose transaction has moved on or ended is
skipped when it comes up (as in `calling.switchboard`).
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections.abc import Callable, Mapping

from callbridge.sip.message import Message, Request, Response
from callbridge.sip.transaction import (
    DEFAULT_TIMERS,
    ClientKey,
    ClientTransaction,
    Output,
    RequestReceived,
    ResponseReceived,
    ServerKey,
    ServerTransaction,
    TransactionKey,
    Transmit,
    new_branch,
    via_for,
)
from callbridge.sip.transaction_tables import TimerSettings
from callbridge.sip.transport import DEFAULT_PORTS, Address


class UnknownTransaction(LookupError):
    """The TU named a transaction that does not exist (any more)."""


def server_key(request: Request) -> ServerKey:
    via = request.top_via
    method = "INVITE" if request.method == "ACK" else request.method
    port = via.port or DEFAULT_PORTS.get(via.transport, 5060)
    sent_by = f"{via.host.lower()}:{port}"
    if via.has_rfc3261_branch and via.branch is not None:
        return ServerKey(via.branch, sent_by, method)
    from_tag = request.from_.tag or ""
    return ServerKey(f"rfc2543|{request.call_id}|{request.cseq.number}|{from_tag}|{request.uri}|{via}", sent_by, method)


def client_key(response: Response) -> ClientKey:
    return ClientKey(response.top_via.branch or "", response.cseq.method)


Transaction = ClientTransaction | ServerTransaction


class TransactionLayer:
    """`local` maps each transport ("UDP", "TCP", "TLS") to the address we send from, for the Via we add; it is
    read when a request is sent (the transport's own `local`, filled in as it starts listening)."""

    def __init__(
        self,
        local: Mapping[str, Address],
        timers: TimerSettings = DEFAULT_TIMERS,
        *,
        branch: Callable[[], str] = new_branch,
    ) -> None:
        self.local = local
        self.timers = timers
        self._branch = branch
        self.clients: dict[ClientKey, ClientTransaction] = {}
        self.servers: dict[ServerKey, ServerTransaction] = {}
        self._deadlines: list[tuple[float, int, TransactionKey]] = []  # heap; stale entries skipped
        self._filed: dict[TransactionKey, float] = {}  # transaction -> its live deadline in the heap
        self._sequence = itertools.count()

    # -- from the TU --------------------------------------------------------------------------------------------
    def send_request(self, request: Request, destination: Address, now: float) -> tuple[ClientKey, list[Output]]:
        """Start a client transaction. A request without a Via gets ours with a fresh branch; a CANCEL built by
        `cancel_for` keeps the INVITE's."""
        if request.method == "ACK":
            raise ValueError("an ACK for a 2xx is sent with send_stateless; the transaction ACKs the others")
        request = self._with_via(request, destination)
        transaction = ClientTransaction(request, destination, self.timers)
        if transaction.key in self.clients:
            raise ValueError(f"a client transaction with branch {transaction.key.branch} exists")
        self.clients[transaction.key] = transaction
        return transaction.key, self._settle(transaction, transaction.start(now))

    def send_response(self, key: ServerKey, response: Response, now: float) -> list[Output]:
        transaction = self.servers.get(key)
        if transaction is None:
            raise UnknownTransaction(key)
        return self._settle(transaction, transaction.send_response(response, now))

    def send_stateless(self, message: Message, destination: Address) -> list[Output]:
        """Outside any transaction: the ACK for a 2xx (given a Via here if it has none), a stateless response."""
        if isinstance(message, Request):
            message = self._with_via(message, destination)
        return [Transmit(message, destination, None)]

    def on_transport_error(self, key: TransactionKey, now: float) -> list[Output]:
        """The transport could not send a message of transaction `key` (RFC 3261 17.1.4, 17.2.4)."""
        transaction = self._find(key)
        return [] if transaction is None else self._settle(transaction, transaction.transport_error(now))

    # -- from the transport -------------------------------------------------------------------------------------
    def receive(self, message: Message, source: Address, now: float) -> list[Output]:
        if isinstance(message, Response):
            client = self.clients.get(client_key(message))
            if client is None:
                return [ResponseReceived(message, None)]
            return self._settle(client, client.receive(message, now))
        key = server_key(message)
        server = self.servers.get(key)
        if server is not None:
            return self._settle(server, server.receive(message, now))
        if message.method == "ACK":
            return [RequestReceived(message, source, None)]
        server = ServerTransaction(message, source, key, self.timers)
        self.servers[key] = server
        out = server.start(now)
        if message.method == "CANCEL":
            invite = dataclasses.replace(key, method="INVITE")
            if invite in self.servers:
                out = [dataclasses.replace(o, cancels=invite) if isinstance(o, RequestReceived) else o for o in out]
        return self._settle(server, out)

    # -- timers -------------------------------------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        while self._deadlines:
            deadline, _, key = self._deadlines[0]
            if self._filed.get(key) == deadline:
                return deadline
            heapq.heappop(self._deadlines)
        return None

    def on_timer(self, now: float) -> list[Output]:
        due: list[TransactionKey] = []
        while (deadline := self.next_deadline()) is not None and deadline <= now:
            _, _, key = heapq.heappop(self._deadlines)
            del self._filed[key]
            due.append(key)
        out: list[Output] = []
        for key in due:
            transaction = self._find(key)
            if transaction is not None:
                out += self._settle(transaction, transaction.timer(now))
        return out

    # -- inside -------------------------------------------------------------------------------------------------
    def _find(self, key: TransactionKey) -> Transaction | None:
        return self.clients.get(key) if isinstance(key, ClientKey) else self.servers.get(key)

    def _settle(self, transaction: Transaction, out: list[Output]) -> list[Output]:
        """After `transaction` moved: file its next deadline, or forget it once terminated."""
        key = transaction.key
        if transaction.terminated:
            self._filed.pop(key, None)
            if isinstance(transaction, ClientTransaction):
                self.clients.pop(transaction.key, None)
            else:
                self.servers.pop(transaction.key, None)
            return out
        deadline = transaction.next_deadline()
        if deadline is None:
            self._filed.pop(key, None)
        elif self._filed.get(key) != deadline:
            self._filed[key] = deadline
            heapq.heappush(self._deadlines, (deadline, next(self._sequence), key))
        return out

    def _with_via(self, request: Request, destination: Address) -> Request:
        if request.values("Via"):
            if not request.top_via.has_rfc3261_branch:
                raise ValueError("the top Via of a request we send needs an RFC 3261 branch")
            return request
        local = self.local.get(destination.transport)
        if local is None:
            raise ValueError(f"no local {destination.transport} address to send from")
        return request.with_header("Via", str(via_for(local, self._branch())), first=True)
