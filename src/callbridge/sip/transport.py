"""The SIP transport layer (RFC 3261 section 18, RFC 3581): UDP, TCP and TLS on asyncio, and the pure rules of
where responses go.

`SipTransport` listens (`listen("UDP" | "TCP" | "TLS", host, port)`), sends bytes to an `Address`
(`send(data, destination)`, opening a TCP or TLS connection when there is none to reuse) and calls
`on_message(message, source)` for every message it receives, parsed. On the way in it:

* stamps the top Via of a request with ``received`` and ``rport`` (RFC 3261 18.2.1, RFC 3581 4);
* answers a request that fails to parse with the response its `SipParseError` names (400, 505, 513...), when one
  can be formed, and drops everything else; a stream whose framing breaks is answered, then closed;
* answers a CRLFCRLF keep-alive on a stream with CRLF (RFC 5626 4.4.1);
* keeps to its `TransportLimits`: datagram size, connections in all and per source address, bytes waiting to be
  written per connection, TLS handshakes that take too long, idle connections (no whole message either way) and
  slow senders (a message begun but not finished within ``message_timeout``: a trickled byte is not activity).

Connections are reused both ways (in the spirit of RFC 5923): one registry keyed by the peer's address holds the
connections we opened and those we accepted, and responses to a request received on a connection go back on it.
Nothing here raises on bad input; problems are logged as structured warnings on ``callbridge.sip``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol, cast

from callbridge.logs import Throttled
from callbridge.sip.errors import DEFAULT_LIMITS, Limits, SipParseError
from callbridge.sip.fields import Via
from callbridge.sip.framing import KeepAlive, StreamFramer
from callbridge.sip.headers import same_name, split_list
from callbridge.sip.message import Message, Request, Response, parse
from callbridge.sip.responses import error_response

log = logging.getLogger("callbridge.sip")
throttled = Throttled(log)  # for what others can repeat at will: one line a minute per kind

RELIABLE: Final = frozenset({"TCP", "TLS"})
DEFAULT_PORTS: Final = {"UDP": 5060, "TCP": 5060, "TLS": 5061}


@dataclass(frozen=True, slots=True)
class Address:
    """Where a message came from or goes to: an IP address (or host name, outbound), a port and a transport."""

    host: str
    port: int
    transport: str = "UDP"

    @property
    def reliable(self) -> bool:
        return self.transport in RELIABLE

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport} {host}:{self.port}"


@dataclass(frozen=True)
class TransportLimits:
    max_datagram: int = 65_507  # the largest UDP payload over IPv4
    max_connections: int = 1024
    max_connections_per_source: int = 16  # accepted connections from one IP address
    max_write_buffer: int = 1024 * 1024  # bytes queued to a peer that does not read; past it the connection closes
    idle_timeout: float = 300.0  # seconds without a whole message (or keep-alive) either way before a connection closes
    message_timeout: float = 10.0  # seconds a message begun on a stream may take to arrive whole
    handshake_timeout: float = 10.0  # seconds a TLS handshake may take, either way
    connect_timeout: float = 5.0
    messages: Limits = DEFAULT_LIMITS  # message size and header limits; bounds the bytes a stream buffers


OnMessage = Callable[[Message, Address], None]


class Transport(Protocol):
    """The port the endpoint sends through; raises `OSError` when the bytes cannot be sent."""

    async def send(self, data: bytes, destination: Address) -> None: ...


def response_destination(via: Via, source: Address) -> Address:
    """Where the response to a request goes (RFC 3261 18.2.2, RFC 3581 4), from its top Via as stamped on receipt:
    back on the connection for TCP/TLS; for UDP to ``received`` (else the sent-by host) and ``rport`` (else the
    sent-by port, else 5060). ``maddr`` (multicast) is not supported."""
    if source.reliable:
        return source
    host = via.received or via.host.strip("[]")
    return Address(host, via.rport or via.port or DEFAULT_PORTS.get(via.transport, 5060), source.transport)


def stamped_via(via: Via, source: Address) -> Via:
    """RFC 3261 18.2.1: ``received`` when the sent-by host is not the source address; RFC 3581: with ``rport``
    asked for, ``rport`` is the source port and ``received`` is always added."""
    if not via.has_rport and via.host.strip("[]") == source.host:
        return via
    params: list[tuple[str, str | None]] = []
    for name, value in via.params:
        if name.lower() == "received":
            continue
        params.append((name, str(source.port)) if name.lower() == "rport" else (name, value))
    params.append(("received", source.host))
    return dataclasses.replace(via, params=tuple(params))


def stamp_received(request: Request, source: Address) -> Request:
    via = request.top_via
    stamped = stamped_via(via, source)
    if stamped is via:
        return request
    fields = list(request.header_fields)
    for index, (name, value) in enumerate(fields):
        if same_name(name, "Via"):
            fields[index] = ("Via", ", ".join([str(stamped), *split_list(value)[1:]]))
            break
    return dataclasses.replace(request, header_fields=tuple(fields))


def _error_destination(response: Response, source: Address) -> Address:
    try:
        return response_destination(stamped_via(response.top_via, source), source)
    except SipParseError:
        return source


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, owner: SipTransport) -> None:
        self._owner = owner

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        source = Address(str(addr[0]), int(addr[1]), "UDP")
        try:
            self._owner._datagram(data, source)
        except Exception:  # never let one datagram stop the socket
            throttled.exception("sip datagram handling failed", extra={"source": str(source)})

    def error_received(self, exc: Exception) -> None:
        throttled.warning("sip udp error", extra={"error": str(exc)})


class _Connection(asyncio.Protocol):
    """One TCP or TLS connection, accepted or opened; a `StreamFramer` cuts the messages out."""

    def __init__(self, owner: SipTransport, transport_name: str, *, inbound: bool) -> None:
        self._owner = owner
        self.name = transport_name
        self.inbound = inbound
        self.framer = StreamFramer(owner.limits.messages)
        self.peer = Address("", 0, transport_name)
        self.transport: asyncio.WriteTransport | None = None
        self.last_active = asyncio.get_running_loop().time()  # of the last whole message, either way
        self.partial_since: float | None = None  # when the message still being received began

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream protocol is always given a writable transport, but not always a subclass of asyncio's:
        # uvloop's TCP and TLS transports are its own classes (an isinstance check reset every connection).
        self.transport = cast(asyncio.WriteTransport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = Address(str(peer[0]), int(peer[1]), self.name)
        self._owner._connected(self)

    def data_received(self, data: bytes) -> None:
        now = asyncio.get_running_loop().time()
        try:
            for item in self.framer.feed(data):
                self.last_active = now
                self._framed(item)
        except Exception:  # a bug must cost this connection at most
            throttled.exception("sip stream handling failed", extra={"source": str(self.peer)})
            self.close()
        if self.framer.broken:
            self.close()
        elif not self.framer.partial:
            self.partial_since = None
        elif self.partial_since is None:
            self.partial_since = now

    def overdue(self, now: float, limits: TransportLimits) -> str | None:
        """Why this connection should close now, if it should: idle, or a message trickling in too slowly."""
        if self.partial_since is not None and now - self.partial_since > limits.message_timeout:
            return "slow sender"
        if now - self.last_active > limits.idle_timeout:
            return "idle"
        return None

    def _framed(self, item: Message | SipParseError | KeepAlive) -> None:
        if isinstance(item, KeepAlive):
            self.write(b"\r\n")
        elif isinstance(item, SipParseError):
            self._owner._refuse(item, self.peer, self.write)
        else:
            self._owner._deliver(item, self.peer)

    def write(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionError(f"connection to {self.peer} is closed")
        if self.transport.get_write_buffer_size() + len(data) > self._owner.limits.max_write_buffer:
            throttled.warning("sip peer not reading, connection closed", extra={"peer": str(self.peer)})
            self.close()
            raise ConnectionError(f"write buffer to {self.peer} full")
        self.last_active = asyncio.get_running_loop().time()
        self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner._disconnected(self)


class SipTransport:
    def __init__(
        self,
        on_message: OnMessage,
        *,
        limits: TransportLimits | None = None,
        tls_server: ssl.SSLContext | None = None,
        tls_client: ssl.SSLContext | None = None,
    ) -> None:
        self.limits = limits or TransportLimits()
        self.local: dict[str, Address] = {}  # the address we listen on, per transport
        self._on_message = on_message
        self._tls_server = tls_server
        self._tls_client = tls_client
        self._udp: asyncio.DatagramTransport | None = None
        self._servers: list[asyncio.Server] = []
        self._connections: dict[Address, _Connection] = {}
        self._opening: dict[Address, asyncio.Future[_Connection]] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False

    # -- setting up ---------------------------------------------------------------------------------------------
    async def listen(self, transport: str, host: str = "127.0.0.1", port: int = 0) -> Address:
        """Listen on `host`:`port` (0: any free port) and return the bound address."""
        loop = asyncio.get_running_loop()
        transport = transport.upper()
        if transport == "UDP":
            if self._udp is not None:
                raise ValueError("already listening on UDP")
            self._udp, _ = await loop.create_datagram_endpoint(lambda: _Datagrams(self), local_addr=(host, port))
            bound = self._udp.get_extra_info("sockname")
        else:
            if transport not in RELIABLE or (transport == "TLS" and self._tls_server is None):
                raise ValueError(f"cannot listen on {transport}" + (" without a certificate" * (transport == "TLS")))
            tls = self._tls_server if transport == "TLS" else None
            server = await loop.create_server(lambda: _Connection(self, transport, inbound=True), host, port, ssl=tls,
                                              ssl_handshake_timeout=self.limits.handshake_timeout if tls else None)
            self._servers.append(server)
            bound = server.sockets[0].getsockname()
        self.local[transport] = Address(host, int(bound[1]), transport)
        return self.local[transport]

    async def close(self) -> None:
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        for pending in self._opening.values():
            pending.cancel()
        for connection in list(self._connections.values()):
            connection.close()
        for server in self._servers:
            server.close()
        if self._udp is not None:
            self._udp.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    # -- sending ------------------------------------------------------------------------------------------------
    async def send(self, data: bytes, destination: Address) -> None:
        if not destination.reliable:
            self.send_datagram(data, destination)
            return
        connection = self._connections.get(destination)
        if connection is None:
            connection = await self._connection_to(destination)
        connection.write(data)

    def send_datagram(self, data: bytes, destination: Address) -> None:
        """Over UDP, at once (nothing to wait for); raises `OSError` as `send` does."""
        if self._udp is None or self._udp.is_closing():
            raise ConnectionError("not listening on UDP")
        if len(data) > self.limits.max_datagram:
            raise ConnectionError(f"{len(data)} bytes do not fit a datagram")
        self._udp.sendto(data, (destination.host, destination.port))

    async def _connection_to(self, destination: Address) -> _Connection:
        """The connection being opened to `destination`, shared by every message sent to it meanwhile."""
        pending = self._opening.get(destination)
        if pending is None:
            pending = asyncio.ensure_future(self._open(destination))
            self._opening[destination] = pending
            pending.add_done_callback(lambda _: self._opening.pop(destination, None))
        return await asyncio.shield(pending)

    async def _open(self, destination: Address) -> _Connection:
        if len(self._connections) >= self.limits.max_connections:
            raise ConnectionError("too many connections")
        tls = self._tls_client if destination.transport == "TLS" else None
        if destination.transport == "TLS" and tls is None:
            raise ConnectionError("no TLS client context configured")
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.limits.connect_timeout):
            _, connection = await loop.create_connection(
                lambda: _Connection(self, destination.transport, inbound=False),
                destination.host,
                destination.port,
                ssl=tls,
                server_hostname=destination.host if tls else None,
                ssl_handshake_timeout=self.limits.handshake_timeout if tls else None,
            )
        self._connections[destination] = connection  # also filed under its peer address by `_connected`
        return connection

    # -- receiving ----------------------------------------------------------------------------------------------
    def _datagram(self, data: bytes, source: Address) -> None:
        if len(data) > self.limits.max_datagram:
            throttled.warning("sip datagram too large, dropped", extra={"source": str(source), "size": len(data)})
            return
        if not data.strip(b"\r\n\x00"):
            return  # a keep-alive (RFC 5626 4.4.2 uses STUN on UDP; CRLFs are common too)
        try:
            message = parse(data, limits=self.limits.messages)
        except SipParseError as err:
            self._refuse(err, source, lambda raw: self._reply_datagram(raw, source))
            return
        self._deliver(message, source)

    def _reply_datagram(self, data: bytes, destination: Address) -> None:
        if self._udp is not None:
            self._udp.sendto(data, (destination.host, destination.port))

    def _refuse(self, err: SipParseError, source: Address, reply: Callable[[bytes], None]) -> None:
        """A message that failed to parse: answer it statelessly when it can be answered, else drop it."""
        response = error_response(err)
        throttled.warning(
            "sip message refused",
            extra={"source": str(source), "status": err.status, "reason": err.reason, "answered": response is not None},
        )
        if response is None:
            return
        with contextlib.suppress(OSError):
            if source.reliable:
                reply(bytes(response))
            else:
                self._reply_datagram(bytes(response), _error_destination(response, source))

    def _deliver(self, message: Message, source: Address) -> None:
        if isinstance(message, Request):
            try:
                message = stamp_received(message, source)
            except SipParseError as err:
                throttled.warning("sip request with a bad Via, dropped",
                                  extra={"source": str(source), "reason": str(err)})
                return
        try:
            self._on_message(message, source)
        except Exception:  # the layers above must not take the transport down
            throttled.exception("sip message handler failed", extra={"source": str(source)})

    # -- the connection registry --------------------------------------------------------------------------------
    def _connected(self, connection: _Connection) -> None:
        if self._closed or (connection.inbound and not self._admit(connection.peer)):
            connection.close()
            return
        self._connections[connection.peer] = connection
        self._schedule_sweep()

    def _admit(self, peer: Address) -> bool:
        from_peer = sum(1 for c in self._connections.values() if c.inbound and c.peer.host == peer.host)
        if len(self._connections) >= self.limits.max_connections or (
            from_peer >= self.limits.max_connections_per_source
        ):
            throttled.warning("sip connection refused: too many", extra={"peer": str(peer), "from_peer": from_peer})
            return False
        return True

    def _disconnected(self, connection: _Connection) -> None:
        for key in [key for key, held in self._connections.items() if held is connection]:
            del self._connections[key]

    def _schedule_sweep(self) -> None:
        if self._sweeper is None and not self._closed:
            period = max(0.05, min(self.limits.idle_timeout / 4, self.limits.message_timeout / 2))
            self._sweeper = asyncio.get_running_loop().call_later(period, self._sweep)

    def _sweep(self) -> None:
        """Close the connections idle for longer than the idle timeout, and those of slow senders."""
        self._sweeper = None
        now = asyncio.get_running_loop().time()
        for connection in set(self._connections.values()):
            reason = connection.overdue(now, self.limits)
            if reason is not None:
                log.info("sip connection closed", extra={"peer": str(connection.peer), "reason": reason})
                connection.close()
        self._schedule_sweep()
