"""SIP requests and responses (RFC 3261 section 7): frozen dataclasses with `parse()` and `__bytes__()`.

`parse(data)` reads one message from a datagram (or from the bytes a `StreamFramer` cut out of a stream):
CRLFs before the start line are skipped, the body is Content-Length octets (the rest of the datagram when the
header is absent, RFC 3261 18.3), anything after it is ignored (RFC 4475 3.1.1.8). Failures raise
`SipParseError` with the status to answer, or None to drop.

Header fields are a tuple of (canonical name, value) in wire order; `__bytes__` writes them back with CRLF
line ends and a Content-Length recomputed from the body. A message is immutable, so what is read from its headers
is read once: an index of the fields by name, and each typed reading (Via, From, To, CSeq, ...) on first use.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property
from typing import Self

from callbridge.sip import grammar as g
from callbridge.sip.checks import check_message
from callbridge.sip.errors import DEFAULT_LIMITS, Headers, Limits, SipParseError, bad_request
from callbridge.sip.fields import (
    CSeq,
    NameAddr,
    Via,
    Wildcard,
    parse_contacts,
    parse_cseq,
    parse_delta_seconds,
    parse_max_forwards,
    parse_name_addr,
    parse_via,
)
from callbridge.sip.headers import (
    FieldIndex,
    canonical_name,
    field_index,
    header_key,
    indexed_values,
    lenient_header_lines,
    read_header_lines,
    same_name,
    values_of,
)
from callbridge.sip.uri import SipUri, Uri, parse_uri

SIP_VERSION = "SIP/2.0"


class StatusClass(IntEnum):
    PROVISIONAL = 1
    SUCCESS = 2
    REDIRECTION = 3
    CLIENT_ERROR = 4
    SERVER_ERROR = 5
    GLOBAL_FAILURE = 6


class HeaderAccess:
    """Header lookups and typed readings shared by requests and responses (each computed once per message)."""

    header_fields: Headers

    @cached_property
    def _index(self) -> FieldIndex:
        return field_index(self.header_fields)

    def header(self, name: str) -> str | None:
        """The first value of a header (compact and long names alike), or None."""
        lines = self._index.get(header_key(name))
        return lines[0] if lines else None

    def headers(self, name: str) -> tuple[str, ...]:
        """Every header line's value for `name`, as written (comma lists not split)."""
        return tuple(self._index.get(header_key(name), ()))

    def values(self, name: str) -> tuple[str, ...]:
        """Every value for `name`, comma lists of list headers (Via, Contact, Route, ...) split."""
        return tuple(indexed_values(self._index, name))

    def _required(self, name: str) -> str:
        value = self.header(name)
        if value is None:
            raise bad_request(f"Missing {name} header")
        return value

    @cached_property
    def vias(self) -> tuple[Via, ...]:
        return tuple(parse_via(value) for value in self.values("Via"))

    @cached_property
    def top_via(self) -> Via:
        values = self.values("Via")
        if not values:
            raise bad_request("Missing Via header")
        return parse_via(values[0])

    @cached_property
    def from_(self) -> NameAddr:
        return parse_name_addr(self._required("From"), "From")

    @cached_property
    def to(self) -> NameAddr:
        return parse_name_addr(self._required("To"), "To")

    @property
    def call_id(self) -> str:
        return self._required("Call-ID")

    @cached_property
    def cseq(self) -> CSeq:
        return parse_cseq(self._required("CSeq"))

    @property
    def max_forwards(self) -> int | None:
        value = self.header("Max-Forwards")
        return parse_max_forwards(value) if value is not None else None

    @cached_property
    def contacts(self) -> tuple[NameAddr, ...] | Wildcard:
        return parse_contacts(list(self.values("Contact")))

    @cached_property
    def routes(self) -> tuple[NameAddr, ...]:
        return tuple(parse_name_addr(value, "Route") for value in self.values("Route"))

    @cached_property
    def record_routes(self) -> tuple[NameAddr, ...]:
        return tuple(parse_name_addr(value, "Record-Route") for value in self.values("Record-Route"))

    @property
    def expires(self) -> int | None:
        value = self.header("Expires")
        return parse_delta_seconds(value) if value is not None else None

    @property
    def content_type(self) -> str | None:
        return self.header("Content-Type")

    def with_header(self, name: str, value: str, *, first: bool = False) -> Self:
        """A copy with one more header line, appended (or put first, as a proxy's Via or Record-Route)."""
        field = _checked_field(name, value)
        fields = (field, *self.header_fields) if first else (*self.header_fields, field)
        return dataclasses.replace(self, header_fields=fields)  # type: ignore[type-var]

    def without_header(self, name: str) -> Self:
        fields = tuple((key, value) for key, value in self.header_fields if not same_name(key, name))
        return dataclasses.replace(self, header_fields=fields)  # type: ignore[type-var]

    def replacing_header(self, name: str, value: str) -> Self:
        """A copy where `name` has exactly one line, at the place of the first old one (or last)."""
        field = _checked_field(name, value)
        fields: list[tuple[str, str]] = []
        for key, old in self.header_fields:
            if not same_name(key, name):
                fields.append((key, old))
            elif field not in fields:
                fields.append(field)
        if field not in fields:
            fields.append(field)
        return dataclasses.replace(self, header_fields=tuple(fields))  # type: ignore[type-var]

    def _wire(self, start_line: str, body: bytes) -> bytes:
        lines = [start_line]
        for name, value in self.header_fields:
            if name != "Content-Length":
                lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def _checked_field(name: str, value: str) -> tuple[str, str]:
    if not g.METHOD_RE.fullmatch(name) or any(char in value for char in "\r\n\0"):
        raise ValueError(f"not a header line: {name!r}")
    return canonical_name(name), value.strip(" \t")


@dataclass(frozen=True)
class Request(HeaderAccess):
    method: str
    uri: Uri
    header_fields: Headers = ()
    body: bytes = b""

    @classmethod
    def parse(cls, data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Request:
        message = parse(data, limits=limits)
        if not isinstance(message, Request):
            raise SipParseError(None, "Expected a request")
        return message

    @property
    def start_line(self) -> str:
        return f"{self.method} {self.uri} {SIP_VERSION}"

    def __bytes__(self) -> bytes:
        return self._wire(self.start_line, self.body)


@dataclass(frozen=True)
class Response(HeaderAccess):
    status: int
    reason: str
    header_fields: Headers = ()
    body: bytes = b""

    @classmethod
    def parse(cls, data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Response:
        message = parse(data, limits=limits)
        if not isinstance(message, Response):
            raise SipParseError(None, "Expected a response")
        return message

    @property
    def status_class(self) -> StatusClass:
        return StatusClass(self.status // 100)

    @property
    def is_provisional(self) -> bool:
        return self.status < 200

    @property
    def is_final(self) -> bool:
        return self.status >= 200

    @property
    def start_line(self) -> str:
        return f"{SIP_VERSION} {self.status:03d} {self.reason}"

    def __bytes__(self) -> bytes:
        return self._wire(self.start_line, self.body)


Message = Request | Response


def parse(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Message:
    """One SIP message from `data`; raises `SipParseError` (never anything else) when it cannot be accepted."""
    try:
        return _parse(data, limits)
    except SipParseError as err:
        raise _placed(err, data, limits) from None


def _parse(data: bytes, limits: Limits) -> Message:
    if len(data) > limits.max_message_size:
        raise SipParseError(513, "Message Too Large")
    data = data.lstrip(b"\r\n")
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise bad_request("No empty line after the header section")
    if end > limits.max_header_size:
        raise bad_request("Header section too large")
    start, *lines = _decode(data[:end]).split("\r\n")
    if len(start) > limits.max_line_length:
        raise bad_request("Start line too long")
    if start.startswith("SIP/"):
        status, reason = parse_status_line(start)
        fields = read_header_lines(lines, limits)
        check_message(fields, None, limits.max_header_count)
        return Response(status, reason, fields, _body(fields, data[end + 4 :]))
    method, uri = parse_request_line(start)
    fields = read_header_lines(lines, limits)
    check_message(fields, method, limits.max_header_count)
    return Request(method, uri, fields, _body(fields, data[end + 4 :]))


def _decode(head: bytes) -> str:
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("Header section is not UTF-8") from None


def _body(fields: Headers, rest: bytes) -> bytes:
    lengths = values_of(fields, "Content-Length")
    if not lengths:
        return rest
    length = int(lengths[0])
    if length > len(rest):
        raise bad_request("Content-Length larger than the message body")
    return rest[:length]


def _placed(err: SipParseError, data: bytes, limits: Limits) -> SipParseError:
    """Whether the failed message is a request and which header fields it had, read leniently."""
    head = data[: limits.max_header_size].lstrip(b"\r\n").split(b"\r\n\r\n", 1)[0]
    start, *lines = head.decode("utf-8", "replace").split("\r\n")
    method = start.split(" ", 1)[0]
    is_request = " SIP/" in start and g.METHOD_RE.fullmatch(method) is not None and not start.startswith("SIP/")
    return err.in_context(is_request=is_request, header_fields=lenient_header_lines(lines, limits.max_header_count))


def parse_request_line(line: str) -> tuple[str, Uri]:
    """Request-Line  =  Method SP Request-URI SP SIP-Version CRLF (exactly one SP: RFC 4475 3.1.2.7-10)."""
    parts = line.split(" ")
    if len(parts) != 3:
        raise bad_request("Malformed Request-Line")
    method, uri_text, version = parts
    if not g.METHOD_RE.fullmatch(method) or not g.SIP_VERSION_RE.fullmatch(version.upper()):
        raise bad_request("Malformed Request-Line")
    if version.upper() != SIP_VERSION:
        raise SipParseError(505, "Version Not Supported")
    try:
        uri = parse_uri(uri_text)
    except SipParseError:
        raise bad_request("Invalid Request-URI") from None
    if isinstance(uri, SipUri) and uri.headers:
        raise bad_request("Request-URI must not contain headers")
    return method, uri


def parse_status_line(line: str) -> tuple[int, str]:
    """Status-Line  =  SIP-Version SP Status-Code SP Reason-Phrase CRLF (a missing last SP is tolerated)."""
    version, _, rest = line.partition(" ")
    code, _, reason = rest.partition(" ")
    if version.upper() != SIP_VERSION:
        raise SipParseError(505, "Version Not Supported")
    if not g.STATUS_CODE_RE.fullmatch(code):
        raise bad_request("Invalid Status-Code")
    if not g.REASON_PHRASE_RE.fullmatch(reason):
        raise bad_request("Invalid Reason-Phrase")
    return int(code), reason
