"""uvicorn's sans-I/O WebSocket protocol, able to shut down a socket whose peer is closing it.

At server shutdown uvicorn asks each open WebSocket to send a close frame (1012). A socket whose peer has sent its
own close frame is in the CLOSING state already; websockets refuses a second close (``InvalidState``), and that
exception ended uvicorn's shutdown before the application's own (lifespan: call records written, phone side and
rtpengine stopped). Such a socket is simply closed.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State


class EdgeWebSocket(WebSocketsSansIOProtocol):
    def shutdown(self) -> None:
        if not self.close_sent and self.conn.state is State.CLOSING:
            self.stop_keepalive()
            self.transport.close()
            return
        super().shutdown()
