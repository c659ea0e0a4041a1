"""RTP packets (RFC 3550 section 5.1), RFC 4733 telephone-event payloads, and sequence arithmetic.

RTP fixed header::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    |V=2|P|X|  CC   |M|     PT      |       sequence number         |
    |                           timestamp                           |
    |           synchronization source (SSRC) identifier            |
    |            contributing source (CSRC) identifiers             |  (CC of them)
    |  extension profile            |  extension length (words)     |  (if X)

telephone-event payload (RFC 4733 section 2.3)::

    |     event     |E|R| volume    |          duration             |
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

SEQUENCE_MOD = 1 << 16
TIMESTAMP_MOD = 1 << 32
DTMF_DIGITS = "0123456789*#ABCD"  # RFC 4733 section 3.2: events 0-15
_RTCP_TYPES = range(72, 77)  # RTCP SR..APP (200-204) with the marker bit folded away (RFC 5761 section 4)


class RtpError(ValueError):
    """A datagram that is not a well-formed RTP packet or telephone-event payload."""


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension: tuple[int, bytes] | None = None  # (profile, data); data a multiple of 4 bytes

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        if len(data) < 12:
            raise RtpError("shorter than an RTP header")
        first, second, sequence, timestamp, ssrc = struct.unpack_from("!BBHII", data)
        if first >> 6 != 2:
            raise RtpError("not RTP version 2")
        offset = 12 + 4 * (first & 0x0F)
        if len(data) < offset:
            raise RtpError("truncated CSRC list")
        csrcs = struct.unpack_from(f"!{first & 0x0F}I", data, 12)
        extension = None
        if first & 0x10:
            if len(data) < offset + 4:
                raise RtpError("truncated header extension")
            profile, words = struct.unpack_from("!HH", data, offset)
            extension = (profile, data[offset + 4:offset + 4 + 4 * words])
            offset += 4 + 4 * words
        end = len(data)
        if first & 0x20:
            end -= data[-1] if data[-1] else end + 1  # a zero padding count is malformed
        if end < offset:
            raise RtpError("bad padding or truncated extension")
        return cls(second & 0x7F, sequence, timestamp, ssrc, data[offset:end], bool(second & 0x80), csrcs,
                   extension)

    def __bytes__(self) -> bytes:
        first = 0x80 | (0x10 if self.extension else 0) | len(self.csrcs)
        header = struct.pack("!BBHII", first, (0x80 if self.marker else 0) | self.payload_type,
                             self.sequence, self.timestamp, self.ssrc)
        header += b"".join(struct.pack("!I", c) for c in self.csrcs)
        if self.extension:
            profile, data = self.extension
            header += struct.pack("!HH", profile, len(data) // 4) + data
        return header + self.payload


def is_rtcp(data: bytes) -> bool:
    """RTCP multiplexed on the RTP port (RFC 5761), told apart by its packet type."""
    return len(data) >= 2 and data[1] & 0x7F in _RTCP_TYPES


@dataclass(frozen=True)
class TelephoneEvent:
    """One RFC 4733 telephone-event payload: an event (0-15 are DTMF), end bit, volume (-dBm0) and duration."""

    event: int
    end: bool = False
    volume: int = 10
    duration: int = 0  # in timestamp units (1/8000 s for G.711)

    @classmethod
    def parse(cls, data: bytes) -> TelephoneEvent:
        if len(data) < 4:
            raise RtpError("telephone-event payload is 4 bytes")
        event, flags, duration = struct.unpack_from("!BBH", data)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def __bytes__(self) -> bytes:
        return struct.pack("!BBH", self.event, (0x80 if self.end else 0) | (self.volume & 0x3F),
                           min(self.duration, 0xFFFF))

    @property
    def digit(self) -> str | None:
        return DTMF_DIGITS[self.event] if self.event < len(DTMF_DIGITS) else None


def dtmf_event(digit: str) -> int:
    index = DTMF_DIGITS.find(digit.upper()) if len(digit) == 1 else -1
    if index < 0:
        raise ValueError(f"not a DTMF digit: {digit!r}")
    return index


def sequence_add(sequence: int, count: int) -> int:
    return (sequence + count) % SEQUENCE_MOD


def timestamp_add(timestamp: int, count: int) -> int:
    return (timestamp + count) % TIMESTAMP_MOD


def sequence_delta(newer: int, older: int) -> int:
    """How far ``newer`` is ahead of ``older`` (negative when behind), modulo 2**16 (RFC 3550 appendix A.1)."""
    delta = (newer - older) % SEQUENCE_MOD
    return delta - SEQUENCE_MOD if delta >= SEQUENCE_MOD // 2 else delta


class ReceptionCounter:
    """Packets expected and received from one source, for the cumulative loss of RFC 3550 section 6.4.1."""

    def __init__(self) -> None:
        self.received = 0
        self._lost_before = 0  # of earlier sources
        self._run = 0  # received from the current source
        self._first: int | None = None
        self._highest = 0  # extended: cycles * 2**16 + sequence

    def count(self, sequence: int) -> None:
        self.received += 1
        self._run += 1
        if self._first is None:
            self._first = self._highest = sequence
            return
        delta = sequence_delta(sequence, self._highest % SEQUENCE_MOD)
        if delta > 0:
            self._highest += delta

    @property
    def lost(self) -> int:
        if self._first is None:
            return self._lost_before
        return self._lost_before + max(0, self._highest - self._first + 1 - self._run)

    def new_source(self) -> None:
        """Another SSRC: what is lost so far stays counted, the sequence starts afresh."""
        self._lost_before = self.lost
        self._first, self._run = None, 0
