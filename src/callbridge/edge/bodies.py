"""Request bodies bounded per route family before a route reads them: a declared ``Content-Length`` over the
limit is refused without reading a byte, a chunked body is counted as it streams and refused at the first byte
past the limit. The refusal is a 413 in the family's error shape, and the connection closes (the rest of the body
is never read)."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callbridge.edge.refusals import refusal_bytes
from callbridge.identity.authority import route_template


class BodyTooLarge(Exception):
    """Raised from ``receive`` when a streamed body passes its limit (caught by ``BodyLimits``)."""


class BodyLimits:
    def __init__(self, app: ASGIApp, limits: Mapping[str, int], default: int) -> None:
        self.app = app
        self.limits = sorted(limits.items(), key=lambda item: -len(item[0]))  # the longest prefix wins
        self.default = default

    def limit_for(self, path: str) -> int:
        path = route_template(path)  # the identity provider's routes are keyed "/{tenant}/"
        return next((limit for prefix, limit in self.limits if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        if _declared_length(scope) > limit:
            await _refuse(scope["path"], limit, send)
            return
        counted, started = 0, False

        async def counting_receive() -> Message:
            nonlocal counted
            message = await receive()
            if message["type"] == "http.request":
                counted += len(message.get("body", b""))
                if counted > limit:
                    raise BodyTooLarge
            return message

        async def noting_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, noting_send)
        except BodyTooLarge:
            if not started:
                await _refuse(scope["path"], limit, send)


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0  # the HTTP parser has refused a malformed one already
    return 0


async def _refuse(path: str, limit: int, send: Send) -> None:
    body = refusal_bytes(path, 413, "RequestEntityTooLarge", f"The request body is larger than {limit} bytes.")
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
