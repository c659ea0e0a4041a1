"""A client of rtpengine's ng control protocol: each request is ``cookie + " " + bencode(dict)`` in one UDP
datagram, and the reply repeats the cookie. A request is sent again with the same cookie when no reply came in time
(rtpengine answers a repeated cookie from its cache, so a retry never runs a command twice).

Cookies are 16 hex digits, a random prefix per client and a counter: unique for the client's life without a
random draw per request. The wait for a reply is a timer handle on the loop, not a task per attempt."""

from __future__ import annotations

import asyncio
import itertools
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
        self._prefix = secrets.token_hex(4)
        self._sequence = itertools.count(1)

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
        cookie = f"{self._prefix}{next(self._sequence):08x}".encode()
        message = cookie + b" " + bencode.encode({"command": command, **arguments})
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._replies.waiting[cookie] = future
        try:
            for _ in range(self.attempts):
                self._transport.sendto(message)
                if await _settled_within(future, self.timeout):
                    return _reply(command, future.result())
        finally:
            self._replies.waiting.pop(cookie, None)
            future.cancel()
        raise EngineUnavailable(f"rtpengine did not answer {command!r} at {self.address[0]}:{self.address[1]}")


async def _settled_within(future: asyncio.Future[bytes], seconds: float) -> bool:
    """Wait until `future` is done or `seconds` have passed (without cancelling it); whether it is done."""
    if future.done():
        return True
    loop = asyncio.get_running_loop()
    woken: asyncio.Future[None] = loop.create_future()

    def wake(_: object = None) -> None:
        if not woken.done():
            woken.set_result(None)

    timer = loop.call_later(seconds, wake)
    future.add_done_callback(wake)
    try:
        await woken
    finally:
        timer.cancel()
        future.remove_done_callback(wake)
    return future.done()


def _reply(command: str, body: bytes) -> dict[str, bencode.Value]:
    reply = bencode.decode(body)
    if not isinstance(reply, dict):
        raise MediaError(f"rtpengine answered {command!r} with something other than a dictionary")
    result = reply.get("result")
    if result not in ("ok", "pong"):
        reason = reply.get("error-reason", reply.get("warning", result))
        raise EngineRejected(f"rtpengine refused {command!r}: {reason!s}")
    return reply
