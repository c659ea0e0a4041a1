"""SDP session descriptions (RFC 8866, which obsoletes RFC 4566), one frozen dataclass per line kind.

``SessionDescription.parse`` reads text or bytes (UTF-8), tolerates LF-only line ends, trailing blank lines,
runs of spaces between fields and optional lines out of the RFC's order; it is strict about everything else and
raises ``SdpError`` naming the line. ``str()`` writes CRLF lines in the order of RFC 8866 section 9:

    session-description = version-field origin-field session-name-field [information-field] [uri-field]
                          *email-field *phone-field [connection-field] *bandwidth-field
                          1*time-description [zone-adjustments] [key-field] *attribute-field
                          *media-description
    time-description    = time-field [repeat-description]
    media-description   = media-field [information-field] *connection-field *bandwidth-field [key-field]
                          *attribute-field

Attributes are kept verbatim and in order; accessors read the ones a G.711 gateway needs (rtpmap, fmtp, ptime,
maxptime, direction, rtcp, rtcp-mux) and ``parse`` checks those are well formed. ICE and DTLS attributes stay
verbatim. This module allows one c= line per media section (several are for layered multicast only).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import Enum
from itertools import pairwise
from typing import TypeVar

_T = TypeVar("_T")
_DIGITS = re.compile(r"[0-9]{1,20}")
# token-char = %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E   (RFC 8866 section 9)
_TOKEN = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+")
_PTIME = re.compile(r"([0-9]{1,6})(?:\.[0-9]{1,6})?")
_RTPMAP = re.compile(r"([0-9]{1,3}) ([^/ ]+)/([0-9]{1,9})(?:/([0-9]{1,3}))?")


class SdpError(ValueError):
    """A session description that cannot be read. ``line`` and ``number`` (1-based) name the offending line."""

    def __init__(self, reason: str, line: str | None = None, number: int | None = None) -> None:
        self.reason = reason
        self.line = line
        self.number = number
        super().__init__(reason if line is None else f"line {number} {line!r}: {reason}")


def _number(text: str, what: str, maximum: int | None = None) -> int:
    if not _DIGITS.fullmatch(text):
        raise SdpError(f"{what} is not a number: {text!r}")
    value = int(text)
    if maximum is not None and value > maximum:
        raise SdpError(f"{what} out of range: {value}")
    return value


def _fields(value: str, what: str, low: int, high: int | None = None) -> list[str]:
    """Space-separated fields; runs of spaces are tolerated."""
    parts = [part for part in value.split(" ") if part]
    if len(parts) < low or len(parts) > (low if high is None else high):
        raise SdpError(f"{what} has {len(parts)} fields")
    return parts


@dataclass(frozen=True, slots=True)
class Origin:
    """o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>"""

    username: str
    session_id: int
    session_version: int
    nettype: str
    addrtype: str
    address: str

    @classmethod
    def parse(cls, value: str) -> Origin:
        user, sess_id, version, nettype, addrtype, address = _fields(value, "o=", 6)
        return cls(user, _number(sess_id, "sess-id"), _number(version, "sess-version"), nettype, addrtype, address)

    def __str__(self) -> str:
        return (f"{self.username} {self.session_id} {self.session_version} "
                f"{self.nettype} {self.addrtype} {self.address}")


@dataclass(frozen=True, slots=True)
class Connection:
    """c=<nettype> <addrtype> <connection-address>; a multicast address keeps its /ttl/count suffix."""

    nettype: str
    addrtype: str
    address: str

    @classmethod
    def parse(cls, value: str) -> Connection:
        return cls(*_fields(value, "c=", 3))

    @property
    def is_unspecified(self) -> bool:
        """0.0.0.0 (or ::): nothing is to be sent to this address (RFC 3264 section 8.4)."""
        return self.address in ("0.0.0.0", "::")  # noqa: S104 - compared, never bound

    def __str__(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"


@dataclass(frozen=True, slots=True)
class Bandwidth:
    """b=<bwtype>:<bandwidth>"""

    bwtype: str
    bandwidth: int

    @classmethod
    def parse(cls, value: str) -> Bandwidth:
        bwtype, colon, amount = value.partition(":")
        if not colon or not _TOKEN.fullmatch(bwtype):
            raise SdpError("b= is not <bwtype>:<bandwidth>")
        return cls(bwtype, _number(amount, "bandwidth"))

    def __str__(self) -> str:
        return f"{self.bwtype}:{self.bandwidth}"


@dataclass(frozen=True, slots=True)
class Timing:
    """t=<start-time> <stop-time> with its r= lines, kept verbatim."""

    start: int = 0
    stop: int = 0
    repeats: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str) -> Timing:
        start, stop = _fields(value, "t=", 2)
        return cls(_number(start, "start-time"), _number(stop, "stop-time"))

    def __str__(self) -> str:
        return f"{self.start} {self.stop}"


@dataclass(frozen=True, slots=True)
class Attribute:
    """a=<name> (a flag, value None) or a=<name>:<value> (the value verbatim, possibly empty)."""

    name: str
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> Attribute:
        name, colon, value = text.partition(":")
        if not _TOKEN.fullmatch(name):
            raise SdpError(f"attribute name is not a token: {name!r}")
        return cls(name, value if colon else None)

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


class Direction(Enum):
    """The media direction attributes of RFC 8866 section 6.7 (and RFC 3264 section 5.1)."""

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    @property
    def sends(self) -> bool:
        return self in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        return self in (Direction.SENDRECV, Direction.RECVONLY)

    @classmethod
    def of(cls, *, sends: bool, receives: bool) -> Direction:
        return {(True, True): cls.SENDRECV, (True, False): cls.SENDONLY,
                (False, True): cls.RECVONLY, (False, False): cls.INACTIVE}[sends, receives]

    def answered(self, wanted: Direction | None = None) -> Direction:
        """The direction of an answer to an offer in this direction, by an answerer that wants ``wanted``
        (RFC 3264 section 6.1: it sends only what the offerer receives and receives only what it sends)."""
        wanted = wanted or Direction.SENDRECV
        return Direction.of(sends=self.receives and wanted.sends, receives=self.sends and wanted.receives)


def _direction(attributes: Iterable[Attribute]) -> Direction | None:
    names = {direction.value: direction for direction in Direction}
    found = [names[attr.name] for attr in attributes if attr.name in names]
    return found[-1] if found else None


@dataclass(frozen=True, slots=True)
class RtpMap:
    """a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>]"""

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int = 1

    @classmethod
    def parse(cls, value: str) -> RtpMap:
        match = _RTPMAP.fullmatch(value.strip())
        if not match:
            raise SdpError(f"rtpmap is not '<pt> <encoding>/<rate>[/<channels>]': {value!r}")
        pt, encoding, rate, channels = match.groups()
        return cls(_number(pt, "payload type", 127), encoding, int(rate), int(channels or 1))

    def same_codec(self, other: RtpMap) -> bool:
        """Same encoding (names are case-insensitive), clock rate and channels; payload types may differ."""
        return (self.encoding.casefold(), self.clock_rate, self.channels) == (
            other.encoding.casefold(), other.clock_rate, other.channels)

    def __str__(self) -> str:
        channels = f"/{self.channels}" if self.channels != 1 else ""
        return f"{self.payload_type} {self.encoding}/{self.clock_rate}{channels}"


# RFC 3551 section 6: the static audio payload types, known without an a=rtpmap line.
STATIC_PAYLOAD_TYPES = {pt: RtpMap(pt, name, rate) for pt, name, rate in (
    (0, "PCMU", 8000), (3, "GSM", 8000), (4, "G723", 8000), (8, "PCMA", 8000), (9, "G722", 8000),
    (13, "CN", 8000), (18, "G729", 8000))}


@dataclass(frozen=True, slots=True)
class Rtcp:
    """a=rtcp:<port> [<nettype> <addrtype> <connection-address>] (RFC 3605)."""

    port: int
    connection: Connection | None = None

    @classmethod
    def parse(cls, value: str) -> Rtcp:
        port, *address = _fields(value, "rtcp", 1, 4)
        if address and len(address) != 3:
            raise SdpError("rtcp address needs <nettype> <addrtype> <address>")
        return cls(_number(port, "rtcp port", 65535), Connection(*address) if address else None)


def _ptime(value: str) -> int:
    match = _PTIME.fullmatch(value.strip())
    if not match:
        raise SdpError(f"not a packet time in milliseconds: {value!r}")
    return int(match.group(1))


def _fmtp(value: str) -> tuple[str, str]:
    fmt, _, params = value.partition(" ")
    if not _TOKEN.fullmatch(fmt):
        raise SdpError(f"fmtp format is not a token: {fmt!r}")
    return fmt, params.strip()


# Attributes checked when parsing, so the accessors below cannot fail on a parsed description.
_CHECKED: dict[str, Callable[[str], object]] = {
    "rtpmap": RtpMap.parse, "fmtp": _fmtp, "ptime": _ptime, "maxptime": _ptime, "rtcp": Rtcp.parse}


def _check_attribute(attribute: Attribute) -> None:
    check = _CHECKED.get(attribute.name)
    if check is not None:
        if attribute.value is None:
            raise SdpError(f"a={attribute.name} needs a value")
        check(attribute.value)


@dataclass(frozen=True, slots=True)
class MediaDescription:
    """m=<media> <port>[/<number of ports>] <proto> <fmt> ... and the lines of its section."""

    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    port_count: int = 1
    information: str | None = None
    connection: Connection | None = None
    bandwidths: tuple[Bandwidth, ...] = ()
    key: str | None = None
    attributes: tuple[Attribute, ...] = ()

    @classmethod
    def parse_media_line(cls, value: str) -> MediaDescription:
        media, port_field, proto, *formats = _fields(value, "m=", 4, 10_000)
        port, slash, count = port_field.partition("/")
        port_count = _number(count, "number of ports") if slash else 1
        is_rtp = "RTP/" in proto
        for fmt in formats:
            if not _TOKEN.fullmatch(fmt) or (is_rtp and not _DIGITS.fullmatch(fmt)):
                raise SdpError(f"format {fmt!r} is not {'an RTP payload type' if is_rtp else 'a token'}")
            if is_rtp:
                _number(fmt, "payload type", 127)
        return cls(media, _number(port, "port", 65535), proto, tuple(formats), port_count)

    @property
    def is_rtp(self) -> bool:
        return "RTP/" in self.proto

    @property
    def payload_types(self) -> tuple[int, ...]:
        return tuple(int(fmt) for fmt in self.formats) if self.is_rtp else ()

    def values(self, name: str) -> tuple[str | None, ...]:
        """The values of every a=<name> line, in order (None for a flag)."""
        return tuple(attr.value for attr in self.attributes if attr.name == name)

    def has(self, name: str) -> bool:
        return any(attr.name == name for attr in self.attributes)

    def rtpmap(self, payload_type: int) -> RtpMap | None:
        """The a=rtpmap for a payload type, or the RFC 3551 static assignment."""
        for value in self.values("rtpmap"):
            rtpmap = RtpMap.parse(value or "")
            if rtpmap.payload_type == payload_type:
                return rtpmap
        return STATIC_PAYLOAD_TYPES.get(payload_type)

    @property
    def rtpmaps(self) -> tuple[RtpMap, ...]:
        """The known codecs of this m-line in its format order (unmapped dynamic types left out)."""
        found = (self.rtpmap(pt) for pt in self.payload_types)
        return tuple(rtpmap for rtpmap in found if rtpmap is not None)

    def fmtp(self, fmt: int | str) -> str | None:
        for value in self.values("fmtp"):
            name, params = _fmtp(value or "")
            if name == str(fmt):
                return params
        return None

    @property
    def ptime(self) -> int | None:
        return self._integer("ptime")

    @property
    def maxptime(self) -> int | None:
        return self._integer("maxptime")

    def _integer(self, name: str) -> int | None:
        values = self.values(name)
        return _ptime(values[0] or "") if values else None

    @property
    def direction(self) -> Direction | None:
        """This section's own direction attribute; ``SessionDescription.direction_of`` applies inheritance."""
        return _direction(self.attributes)

    @property
    def rtcp(self) -> Rtcp | None:
        values = self.values("rtcp")
        return Rtcp.parse(values[0] or "") if values else None

    @property
    def rtcp_mux(self) -> bool:
        return self.has("rtcp-mux")

    def lines(self) -> list[str]:
        port = f"{self.port}/{self.port_count}" if self.port_count != 1 else str(self.port)
        lines = [f"m={self.media} {port} {' '.join((self.proto, *self.formats))}"]
        lines += _optional("i", self.information) + _optional("c", self.connection)
        lines += [f"b={bandwidth}" for bandwidth in self.bandwidths] + _optional("k", self.key)
        return lines + [f"a={attribute}" for attribute in self.attributes]


def _optional(letter: str, value: object | None) -> list[str]:
    return [] if value is None else [f"{letter}={value}"]


@dataclass(frozen=True, slots=True)
class SessionDescription:
    """A whole session description: the session-level lines, then its media sections in order."""

    origin: Origin
    session_name: str = "-"
    timings: tuple[Timing, ...] = (Timing(),)
    connection: Connection | None = None
    attributes: tuple[Attribute, ...] = ()
    media: tuple[MediaDescription, ...] = ()
    information: str | None = None
    uri: str | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    bandwidths: tuple[Bandwidth, ...] = ()
    zone: str | None = None
    key: str | None = None
    version: int = 0

    @classmethod
    def parse(cls, text: str | bytes) -> SessionDescription:
        lines = _split_lines(text)
        if lines[0].letter != "v":
            raise SdpError("a session description starts with v=", lines[0].text, 1)
        starts = [index for index, line in enumerate(lines) if line.letter == "m"] + [len(lines)]
        media = tuple(_read_media(lines[start:end]) for start, end in pairwise(starts))
        return _read_session(lines[: starts[0]], media)

    @property
    def direction(self) -> Direction | None:
        """The session-level direction attribute, inherited by media sections without their own."""
        return _direction(self.attributes)

    def direction_of(self, media: MediaDescription) -> Direction:
        """A media section's direction: its own, else the session's, else sendrecv (RFC 8866 section 6.7)."""
        own = media.direction if media.direction is not None else self.direction
        return own if own is not None else Direction.SENDRECV

    def connection_of(self, media: MediaDescription) -> Connection | None:
        """A media section's c= line, else the session's."""
        return media.connection if media.connection is not None else self.connection

    def __str__(self) -> str:
        lines = [f"v={self.version}", f"o={self.origin}", f"s={self.session_name}"]
        lines += _optional("i", self.information) + _optional("u", self.uri)
        lines += [f"e={email}" for email in self.emails] + [f"p={phone}" for phone in self.phones]
        lines += _optional("c", self.connection) + [f"b={bandwidth}" for bandwidth in self.bandwidths]
        for timing in self.timings:
            lines += [f"t={timing}", *(f"r={repeat}" for repeat in timing.repeats)]
        lines += _optional("z", self.zone) + _optional("k", self.key)
        lines += [f"a={attribute}" for attribute in self.attributes]
        for media in self.media:
            lines += media.lines()
        return "\r\n".join(lines) + "\r\n"

    def __bytes__(self) -> bytes:
        return str(self).encode("utf-8")


def parse(text: str | bytes) -> SessionDescription:
    """Read a session description; ``SdpError`` names the first line that cannot be read."""
    return SessionDescription.parse(text)


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    text: str

    @property
    def letter(self) -> str:
        return self.text[0]

    @property
    def value(self) -> str:
        return self.text[2:]


def _split_lines(text: str | bytes) -> list[_Line]:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SdpError(f"not UTF-8 at byte {exc.start}") from None
    raw = text.split("\n")
    while raw and raw[-1] in ("", "\r"):
        raw.pop()
    lines = [_Line(number, line.removesuffix("\r")) for number, line in enumerate(raw, 1)]
    for line in lines:
        if len(line.text) < 2 or line.text[1] != "=" or not "a" <= line.letter <= "z":
            raise SdpError("not <type>=<value>", line.text, line.number)
        if "\r" in line.text or "\0" in line.text:
            raise SdpError("CR or NUL inside a line", line.text, line.number)
    if not lines:
        raise SdpError("empty session description")
    return lines


def _at(line: _Line, parse: Callable[[str], _T]) -> _T:
    """Parse one line's value; an error names the line."""
    try:
        return parse(line.value)
    except SdpError as exc:
        raise SdpError(exc.reason, line.text, line.number) from None


def _group(lines: list[_Line], allowed: str, single: str) -> dict[str, list[_Line]]:
    groups: dict[str, list[_Line]] = {}
    for line in lines:
        if line.letter not in allowed:
            raise SdpError(f"{line.letter}= is not allowed here", line.text, line.number)
        found = groups.setdefault(line.letter, [])
        if found and line.letter in single:
            raise SdpError(f"more than one {line.letter}= line", line.text, line.number)
        found.append(line)
    return groups


def _one(groups: dict[str, list[_Line]], letter: str, parse: Callable[[str], _T]) -> _T | None:
    found = groups.get(letter)
    return _at(found[0], parse) if found else None


def _all(groups: dict[str, list[_Line]], letter: str, parse: Callable[[str], _T]) -> tuple[_T, ...]:
    return tuple(_at(line, parse) for line in groups.get(letter, ()))


def _version(value: str) -> int:
    if value != "0":
        raise SdpError("only SDP version 0 exists")
    return 0


def _timings(lines: list[_Line]) -> tuple[Timing, ...]:
    timings: list[Timing] = []
    for line in lines:
        if line.letter == "t":
            timings.append(_at(line, Timing.parse))
        elif line.letter == "r":
            if not timings:
                raise SdpError("r= before any t=", line.text, line.number)
            timings[-1] = replace(timings[-1], repeats=(*timings[-1].repeats, line.value))
    return tuple(timings)


def _read_session(lines: list[_Line], media: tuple[MediaDescription, ...]) -> SessionDescription:
    version = _at(lines[0], _version)
    groups = _group(lines[1:], "osiuepcbtrzka", "osiuczk")
    timings = _timings(lines)
    for letter in "ost":
        if letter not in groups:
            raise SdpError(f"no {letter}= line")
    origin = _at(groups["o"][0], Origin.parse)
    return SessionDescription(
        origin, groups["s"][0].value, timings, _one(groups, "c", Connection.parse),
        _all(groups, "a", Attribute.parse), media, _one(groups, "i", str), _one(groups, "u", str),
        _all(groups, "e", str), _all(groups, "p", str), _all(groups, "b", Bandwidth.parse),
        _one(groups, "z", str), _one(groups, "k", str), version)


def _checked_attribute(value: str) -> Attribute:
    attribute = Attribute.parse(value)
    _check_attribute(attribute)
    return attribute


def _read_media(lines: list[_Line]) -> MediaDescription:
    groups = _group(lines[1:], "icbka", "ick")
    return replace(
        _at(lines[0], MediaDescription.parse_media_line),
        information=_one(groups, "i", str), connection=_one(groups, "c", Connection.parse),
        bandwidths=_all(groups, "b", Bandwidth.parse), key=_one(groups, "k", str),
        attributes=_all(groups, "a", _checked_attribute))
