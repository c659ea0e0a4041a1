"""Shutting down a WebSocket its peer is closing (callbridge.edge.websockets): uvicorn's own protocol raised."""

from __future__ import annotations

import asyncio

import pytest
import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.exceptions import InvalidState
from websockets.protocol import State

from callbridge.edge.websockets import EdgeWebSocket


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.closed = False
        self.written: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


async def _app(scope: object, receive: object, send: object) -> None:
    return None


def closing(kind: type[WebSocketsSansIOProtocol]) -> tuple[WebSocketsSansIOProtocol, Transport]:
    """A socket past its handshake in the middle of its closing handshake, which the application did not start
    (uvicorn's ``close_sent`` is false): what a server shutting down met in the test suite's logs."""
    config = uvicorn.Config(_app, ws="websockets-sansio")
    config.load()
    protocol = kind(config, ServerState(), {}, _loop=asyncio.new_event_loop())
    transport = Transport()
    protocol.transport = transport
    protocol.handshake_complete = True
    protocol.conn.state = State.CLOSING  # the close handshake under way (the peer's close frame answered)
    return protocol, transport


def test_uvicorns_protocol_raises_at_shutdown_on_a_closing_socket() -> None:
    protocol, _ = closing(WebSocketsSansIOProtocol)
    with pytest.raises(InvalidState, match="closing"):
        protocol.shutdown()


def test_the_edge_protocol_closes_it_instead() -> None:
    protocol, transport = closing(EdgeWebSocket)
    protocol.shutdown()
    assert transport.closed
