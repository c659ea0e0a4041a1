"""A client of rtpengine's ng control protocol: each request is ``cookie + " " + bencode(dict)`` in one UDP
datagram, and the reply repeats the cookie. A request is sent again with the same cookie when no reply came in time
(rtpengine answers a repeated cookie from its cache, so a retry never runs a command twice)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any

from callbridge.media import bencode
from callbridge.media.errors import EngineRejected, EngineUnavailable, MediaError


class _Replies(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.waiting: dict[bytes, asyncio.Future[bytes]] = {}

    def datagram_received(self, data: bytes, addr: Any) -> None:
        cookie, _, body = data.partition(b" ")
        future = self.waiting.get(cookie)
        if future is not None and not future.done():
            future.set_result(body)

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable: nobody listens
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(EngineUnavailable(f"rtpengine is not reachable: {exc}"))


class NgClient:
    def __init__(self, host: str, port: int, *, timeout: float = 1.0, attempts: int = 3) -> None:
        self.address, self.timeout, self.attempts = (host, port), timeout, attempts
        self._transport: asyncio.DatagramTransport | None = None
        self._replies = _Replies()

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(lambda: self._replies, remote_addr=self.address)

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def request(self, command: str, **arguments: bencode.Value) -> dict[str, bencode.Value]:
        """Run one command; a reply with ``result`` other than ``ok``/``pong`` raises ``EngineRejected``."""
        if self._transport is None:
            await self.open()
        assert self._transport is not None
        cookie = secrets.token_hex(8).encode()
        message = cookie + b" " + bencode.encode({"command": command, **arguments})
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._replies.waiting[cookie] = future
        try:
            for _ in range(self.attempts):
                self._transport.sendto(message)
                with contextlib.suppress(TimeoutError):
                    return _reply(command, await asyncio.wait_for(asyncio.shield(future), self.timeout))
        finally:
            self._replies.waiting.pop(cookie, None)
            future.cancel()
        raise EngineUnavailable(f"rtpengine did not answer {command!r} at {self.address[0]}:{self.address[1]}")


def _reply(command: str, body: bytes) -> dict[str, bencode.Value]:
    reply = bencode.decode(body)
    if not isinstance(reply, dict):
        raise MediaError(f"rtpengine answered {command!r} with something other than a dictionary")
    result = reply.get("result")
    if result not in ("ok", "pong"):
        reason = reply.get("error-reason", reply.get("warning", result))
        raise EngineRejected(f"rtpengine refused {command!r}: {reason!s}")
    return reply
