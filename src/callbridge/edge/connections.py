"""Connection deadlines and caps, in uvicorn's own HTTP protocol (its ``http=`` option takes a protocol class).

A slow client that trickles a header byte every few seconds holds a connection, a parser and a TLS session for as
long as it likes; a thousand of them hold a server. Here a connection must deliver each request head within
``http_header_timeout_s`` of being accepted or of its last answer (else it is closed), and one client address may
hold ``http_max_connections_per_address`` connections, the whole server ``http_max_connections``: one more is
closed as soon as it is made. A connection upgraded to a WebSocket leaves this protocol (and its counts): the
calling service bounds those itself (hello deadline, token expiry, frame rate).

The TLS handshake comes before any of this (the protocol sees a connection once it is done); its bound is
asyncio's ``ssl_handshake_timeout``, which ``callbridge.server`` sets."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from callbridge.config import Settings


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_s: float
    max_total: int
    max_per_address: int

    @classmethod
    def of(cls, settings: Settings) -> ConnectionLimits:
        return cls(settings.http_header_timeout_s, settings.http_max_connections,
                   settings.http_max_connections_per_address)


class ConnectionBook:
    """Who holds how many connections (one book per server)."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.by_address: Counter[str] = Counter()
        self.total = 0

    def admit(self, address: str) -> bool:
        if self.total >= self.limits.max_total or self.by_address[address] >= self.limits.max_per_address:
            return False
        self.by_address[address] += 1
        self.total += 1
        return True

    def release(self, address: str) -> None:
        self.total -= 1
        self.by_address[address] -= 1
        if self.by_address[address] <= 0:
            del self.by_address[address]


class EdgeProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a request-head deadline and the book's caps. Used by name (workers > 1:
    each worker process reads its limits from the environment) or through ``edge_protocol`` (one book per server)."""

    book: ClassVar[ConnectionBook | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if type(self).book is None:
            type(self).book = ConnectionBook(ConnectionLimits.of(Settings()))
        self._address = ""
        self._admitted = False
        self._awaiting_head = False
        self._head_timer: asyncio.TimerHandle | None = None

    @property
    def _book(self) -> ConnectionBook:
        assert self.book is not None
        return self.book

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._address = self.client[0] if self.client else ""
        self._admitted = self._book.admit(self._address)
        if not self._admitted:
            transport.abort()  # over a cap: no parser time, no TLS close handshake
            return
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._leave()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._awaiting_head = False
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:  # a pipelined request's head is here already
            self._await_head()

    def handle_websocket_upgrade(self) -> None:
        self._leave()  # the WebSocket protocol owns the transport from here
        super().handle_websocket_upgrade()

    def _await_head(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._awaiting_head = True
        self._head_timer = self.loop.call_later(self._book.limits.header_timeout_s, self._head_overdue)

    def _head_overdue(self) -> None:
        if self._awaiting_head and not self.transport.is_closing():
            self.transport.close()

    def _leave(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        if self._admitted:
            self._admitted = False
            self._book.release(self._address)


def edge_protocol(settings: Settings) -> type[EdgeProtocol]:
    """The protocol class of one server, with a book of its own."""
    return type("EdgeProtocol", (EdgeProtocol,), {"book": ConnectionBook(ConnectionLimits.of(settings))})
