"""Cutting SIP messages out of a byte stream (TCP, TLS, WebSocket-less streams; RFC 3261 18.3).

On a stream, Content-Length is mandatory and frames the body. CRLFs between messages are skipped
(RFC 3261 7.5); a double CRLF is a keep-alive ping (RFC 5626 4.4.1) and is reported as `KeepAlive` so the
transport can answer it with a single CRLF. A framing error (no, several or a bad Content-Length, a header
section or message over the limits) cannot be recovered from: the framer reports it once and is `broken`; the
transport answers if the error has a status, then closes the connection. A message that frames well but fails
to parse is reported as its `SipParseError` and the stream goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from callbridge.sip.errors import DEFAULT_LIMITS, Limits, SipParseError, bad_request
from callbridge.sip.fields import parse_content_length
from callbridge.sip.headers import lenient_header_lines, values_of
from callbridge.sip.message import Message, parse

_PING: Final = b"\r\n\r\n"


@dataclass(frozen=True)
class KeepAlive:
    """A CRLFCRLF ping received between messages; answer with b"\\r\\n"."""


Framed = Message | SipParseError | KeepAlive


class StreamFramer:
    """Sans-I/O: `feed()` the bytes as they arrive, get back what they completed."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._buffer = bytearray()
        self._searched = 0  # bytes of the buffer already searched for the end of the header section
        self.broken = False

    @property
    def partial(self) -> bool:
        """Whether bytes of a message not yet complete are buffered."""
        return bool(self._buffer)

    def feed(self, data: bytes) -> list[Framed]:
        if self.broken:
            return []
        self._buffer += data
        out: list[Framed] = []
        while not self.broken:
            item = self._next()
            if item is None:
                break
            out.append(item)
        return out

    def _next(self) -> Framed | None:
        if self._skip_crlfs():
            return KeepAlive()
        if not self._buffer or (len(self._buffer) < 4 and _PING.startswith(bytes(self._buffer))):
            return None
        end = self._buffer.find(_PING, max(self._searched - 3, 0))
        if end < 0:
            self._searched = len(self._buffer)
            if len(self._buffer) > self._limits.max_header_size:
                return self._fail(bad_request("Header section too large"), bytes(self._buffer))
            return None
        head = bytes(self._buffer[:end])
        try:
            total = end + 4 + self._content_length(head)
        except SipParseError as err:
            return self._fail(err, head)
        if total > self._limits.max_message_size:
            return self._fail(SipParseError(513, "Message Too Large"), head)
        if len(self._buffer) < total:
            return None
        return self._take(total)

    def _skip_crlfs(self) -> bool:
        """Drop CRLFs before a start line; True when they were a CRLFCRLF ping."""
        while self._buffer.startswith(b"\r\n"):
            if self._buffer.startswith(_PING):
                del self._buffer[:4]
                return True
            if len(self._buffer) < 4 and _PING.startswith(bytes(self._buffer)):
                return False
            del self._buffer[:2]
        return False

    def _content_length(self, head: bytes) -> int:
        lines = head.decode("utf-8", "replace").split("\r\n")[1:]
        lengths = values_of(lenient_header_lines(lines, self._limits.max_header_count), "Content-Length")
        if not lengths:
            raise bad_request("Missing Content-Length on a stream")
        if len(lengths) > 1:
            raise bad_request("More than one Content-Length header")
        return parse_content_length(lengths[0])

    def _take(self, total: int) -> Framed:
        data = bytes(self._buffer[:total])
        del self._buffer[:total]
        self._searched = 0
        try:
            return parse(data, limits=self._limits)
        except SipParseError as err:
            return err

    def _fail(self, error: SipParseError, head: bytes) -> SipParseError:
        self.broken = True
        self._buffer.clear()
        start, *lines = head.decode("utf-8", "replace").split("\r\n")
        fields = lenient_header_lines(lines, self._limits.max_header_count)
        return error.in_context(is_request=not start.startswith("SIP/"), header_fields=fields)
