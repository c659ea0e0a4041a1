"""One G.711 RTP stream each way, sans I/O: audio frames and DTMF digits in, datagrams out; datagrams in, heard
audio and digits out; with the counters a media gateway reports. The asyncio driver is ``rtp_endpoint``."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from callbridge.media import g711
from callbridge.media.g711 import FRAME_SAMPLES, SAMPLE_RATE, Codec, Samples
from callbridge.media.rtp import (
    ReceptionCounter,
    RtpError,
    RtpPacket,
    TelephoneEvent,
    dtmf_event,
    is_rtcp,
    sequence_add,
    timestamp_add,
)

FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
DTMF_START_COPIES = 3
DTMF_END_COPIES = 3
_REMEMBERED_EVENTS = 32


@dataclass
class RtpStats:
    packets_sent: int = 0
    bytes_sent: int = 0
    packets_received: int = 0
    bytes_received: int = 0
    packets_lost: int = 0


@dataclass(frozen=True)
class AudioReceived:
    samples: Samples


@dataclass(frozen=True)
class DigitReceived:
    digit: str
    duration_ms: int


Event = AudioReceived | DigitReceived


class RtpStream:
    def __init__(self, codec: Codec = Codec.PCMU, telephone_event: int | None = 101) -> None:
        self.codec = codec
        self.telephone_event = telephone_event
        self.ssrc = secrets.randbits(32)
        self._sequence = secrets.randbits(16)
        self._timestamp = secrets.randbits(32)
        self._first_packet = True
        self._stats = RtpStats()
        self._counter = ReceptionCounter()
        self._remote_ssrc: int | None = None
        self._events_seen: list[int] = []

    @property
    def stats(self) -> RtpStats:
        self._stats.packets_lost = self._counter.lost
        return self._stats

    # -- sending ----------------------------------------------------------------------------------------------
    def audio_packet(self, samples: Samples) -> bytes:
        """One packet of audio (normally 160 samples, 20 ms); the timestamp moves on by its length."""
        payload = g711.encode(self.codec, samples)
        packet = self._packet(self.codec.value, self._timestamp, payload, marker=self._first_packet)
        self._first_packet = False
        self._timestamp = timestamp_add(self._timestamp, len(samples))
        return packet

    def dtmf_packets(self, digit: str, duration_ms: int = 100) -> list[tuple[float, bytes]]:
        """RFC 4733 packets for one digit, each with when to send it (seconds from now): the first packet three
        times (marker on the first), one every 20 ms while the tone lasts, and the end packet three times. The
        audio timestamp moves on by the duration, so audio after the digit follows it."""
        if self.telephone_event is None:
            raise ValueError("the other side did not negotiate telephone-event")
        event, frames = dtmf_event(digit), max(1, round(duration_ms / 1000 / FRAME_SECONDS))
        start = self._timestamp
        planned: list[tuple[float, TelephoneEvent, bool]] = []
        planned += [(0.0, TelephoneEvent(event, duration=FRAME_SAMPLES), i == 0) for i in range(DTMF_START_COPIES)]
        planned += [(n * FRAME_SECONDS, TelephoneEvent(event, duration=(n + 1) * FRAME_SAMPLES), False)
                    for n in range(1, frames - 1)]
        end = TelephoneEvent(event, end=True, duration=frames * FRAME_SAMPLES)
        planned += [((frames - 1) * FRAME_SECONDS, end, False) for _ in range(DTMF_END_COPIES)]
        self._timestamp = timestamp_add(start, frames * FRAME_SAMPLES)
        return [(at, self._packet(self.telephone_event, start, bytes(payload), marker))
                for at, payload, marker in planned]

    def _packet(self, payload_type: int, timestamp: int, payload: bytes, marker: bool = False) -> bytes:
        data = bytes(RtpPacket(payload_type, self._sequence, timestamp, self.ssrc, payload, marker))
        self._sequence = sequence_add(self._sequence, 1)
        self._stats.packets_sent += 1
        self._stats.bytes_sent += len(data)
        return data

    # -- receiving --------------------------------------------------------------------------------------------
    def receive(self, data: bytes) -> list[Event]:
        """What a datagram from the other side says; RTCP and anything malformed say nothing."""
        if is_rtcp(data):
            return []
        try:
            packet = RtpPacket.parse(data)
        except RtpError:
            return []
        self._count(packet, len(data))
        if packet.payload_type in (Codec.PCMU, Codec.PCMA):
            return [AudioReceived(g711.decode(Codec(packet.payload_type), packet.payload))]
        if packet.payload_type == self.telephone_event:
            return self._telephone_event(packet)
        return []

    def _count(self, packet: RtpPacket, size: int) -> None:
        if packet.ssrc != self._remote_ssrc:
            if self._remote_ssrc is not None:
                self._counter.new_source()
            self._remote_ssrc = packet.ssrc
        self._counter.count(packet.sequence)
        self._stats.packets_received += 1
        self._stats.bytes_received += size

    def _telephone_event(self, packet: RtpPacket) -> list[Event]:
        """A digit once per event: at its first end packet, told apart from others by its RTP timestamp."""
        try:
            event = TelephoneEvent.parse(packet.payload)
        except RtpError:
            return []
        if not event.end or event.digit is None or packet.timestamp in self._events_seen:
            return []
        self._events_seen = [*self._events_seen[-_REMEMBERED_EVENTS + 1:], packet.timestamp]
        return [DigitReceived(event.digit, event.duration * 1000 // SAMPLE_RATE)]
