"""A plain RTP/AVP G.711 endpoint on asyncio: what a virtual phone, a test peer or the gateway's trunk leg uses.

It binds a UDP port from a range, writes and reads its own SDP, sends audio from a source every 20 ms (or frames
pushed to it), records what it hears, sends and detects RFC 4733 digits, and counts packets. The protocol work is
in ``rtp_stream.RtpStream``; this module owns the socket and the pacing.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import numpy as np

from callbridge.media import audio_sdp
from callbridge.media.audio import Recording, Source
from callbridge.media.errors import BadSdp, MediaError
from callbridge.media.g711 import FRAME_SAMPLES, Codec, Samples
from callbridge.media.rtp_stream import FRAME_SECONDS, AudioReceived, DigitReceived, RtpStats, RtpStream
from callbridge.sip.sdp import Direction


@dataclass(frozen=True)
class PortRange:
    first: int = 40_000
    last: int = 40_999

    def candidates(self) -> list[int]:
        """Even ports (RTP's, RFC 3550 section 11) of the range, from a random one on."""
        ports = list(range(self.first + self.first % 2, self.last + 1, 2))
        start = random.randrange(len(ports)) if ports else 0
        return ports[start:] + ports[:start]


class Pacer:
    """Ticks every 20 ms of the loop's clock, or ``speed`` times faster (tests). Catches up after a stall of up to
    a few frames, and starts afresh after a longer one rather than sending a burst."""

    def __init__(self, interval: float = FRAME_SECONDS, speed: float = 1.0) -> None:
        self.period = interval / speed

    async def ticks(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            due += self.period
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -5 * self.period:
                due = loop.time()
            yield


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, received: Callable[[bytes], None]) -> None:
        self._received = received
        self.closed = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self._received(data)


class RtpEndpoint:
    def __init__(self, *, bind: str = "127.0.0.1", ports: PortRange | None = None, advertised: str | None = None,
                 codecs: tuple[Codec, ...] = (Codec.PCMU, Codec.PCMA), source: Source | None = None,
                 pacer: Pacer | None = None, direction: Direction = Direction.SENDRECV) -> None:
        self.bind, self.ports, self.address = bind, ports or PortRange(), advertised or bind
        self.codecs, self.source, self.pacer = codecs, source, pacer or Pacer()
        self.direction = direction  # as written in this endpoint's own SDP
        self.stream = RtpStream(codecs[0])
        self.recording = Recording()
        self.digits: list[str] = []
        self.on_audio: Callable[[Samples], None] | None = None
        self.on_digit: Callable[[str], None] | None = None
        self.remote: tuple[str, int] | None = None
        self.remote_direction = Direction.SENDRECV
        self.port = 0
        self.last_received = 0.0  # loop time of the last datagram
        self._transport: asyncio.DatagramTransport | None = None
        self._protocol: _Datagrams | None = None
        self._pacing: asyncio.Task[None] | None = None
        self._pending: Samples = np.zeros(0, dtype=np.int16)
        self._dtmf_until = 0.0
        self._session_id, self._version = secrets.randbits(31), 0

    # -- socket -------------------------------------------------------------------------------------------------
    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        for port in self.ports.candidates():
            try:
                transport, protocol = await loop.create_datagram_endpoint(lambda: _Datagrams(self._datagram),
                                                                          local_addr=(self.bind, port))
            except OSError:
                continue
            self._transport, self._protocol, self.port = transport, protocol, port
            self.last_received = loop.time()
            return
        raise MediaError(f"no free RTP port in {self.ports.first}-{self.ports.last} on {self.bind}")

    async def close(self) -> None:
        """Stops sending and frees the port (closed once this returns)."""
        await self.stop()
        if self._transport is not None and self._protocol is not None:
            self._transport.close()
            await self._protocol.closed
            self._transport = None

    @property
    def stats(self) -> RtpStats:
        return self.stream.stats

    # -- session description ------------------------------------------------------------------------------------
    def offer(self, direction: Direction | None = None) -> str:
        self.direction = direction or self.direction
        return self._sdp(list(self.codecs), audio_sdp.DEFAULT_TELEPHONE_EVENT_PT)

    def answer(self, offer: str, direction: Direction | None = None) -> str:
        """Take the other side's offer and answer it: the first G.711 codec it offers that this endpoint has."""
        remote = audio_sdp.read(offer)
        codec = next((c for c in remote.codecs if c in self.codecs), None)
        if codec is None:
            raise BadSdp("the offer has no G.711 codec in common")
        self.direction = remote.direction.answered(direction)
        self._apply(remote, codec)
        return self._sdp([codec], remote.telephone_event)

    def accept(self, answer: str) -> None:
        """Take the other side's answer to this endpoint's offer."""
        remote = audio_sdp.read(answer)
        codec = next((c for c in remote.codecs if c in self.codecs), None)
        if codec is None:
            raise BadSdp("the answer has no G.711 codec of the offer")
        self._apply(remote, codec)

    def _apply(self, remote: audio_sdp.AudioDescription, codec: Codec) -> None:
        self.stream.codec, self.stream.telephone_event = codec, remote.telephone_event
        self.remote, self.remote_direction = (remote.address, remote.port), remote.direction

    def _sdp(self, codecs: list[Codec], telephone_event: int | None) -> str:
        self._version += 1
        return audio_sdp.write(self.address, self.port, codecs, telephone_event=telephone_event,
                               direction=self.direction, session_id=self._session_id, version=self._version)

    # -- sending --------------------------------------------------------------------------------------------------
    @property
    def sending(self) -> bool:
        return self.remote is not None and self.direction.sends and self.remote_direction.receives

    def start(self) -> None:
        """Send the source's audio every 20 ms (nothing is sent while the SDPs say this side does not send)."""
        if self._pacing is None and self.source is not None:
            self._pacing = asyncio.ensure_future(self._pace())

    async def stop(self) -> None:
        if self._pacing is not None:
            self._pacing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pacing
            self._pacing = None

    async def _pace(self) -> None:
        async for _ in self.pacer.ticks():
            if self.source is None:
                continue
            frame = self.source.next_frame(FRAME_SAMPLES)  # read each time: a new source plays from the next frame
            if self.sending and not self._in_dtmf():
                self._send(self.stream.audio_packet(frame))

    def send_audio(self, samples: Samples) -> None:
        """Frames pushed by a relay (any length): sent in 20 ms packets as they fill up."""
        self._pending = np.concatenate([self._pending, samples.astype(np.int16)])
        while len(self._pending) >= FRAME_SAMPLES:
            frame, self._pending = self._pending[:FRAME_SAMPLES], self._pending[FRAME_SAMPLES:]
            if self.sending and not self._in_dtmf():
                self._send(self.stream.audio_packet(frame))

    async def send_dtmf(self, digit: str, duration_ms: int = 100) -> None:
        """One RFC 4733 digit; audio pauses meanwhile. Returns once the last end packet is sent."""
        if self.remote is None:
            raise MediaError("no remote address to send the digit to")
        loop = asyncio.get_running_loop()
        packets, scale = self.stream.dtmf_packets(digit, duration_ms), self.pacer.period / FRAME_SECONDS
        start = loop.time()
        self._dtmf_until = start + (packets[-1][0] + FRAME_SECONDS) * scale
        for at, packet in packets:
            delay = start + at * scale - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._send(packet)

    def _in_dtmf(self) -> bool:
        return asyncio.get_running_loop().time() < self._dtmf_until

    def _send(self, packet: bytes) -> None:
        if self._transport is not None and self.remote is not None:
            self._transport.sendto(packet, self.remote)

    # -- receiving ------------------------------------------------------------------------------------------------
    def _datagram(self, data: bytes) -> None:
        self.last_received = asyncio.get_running_loop().time()
        for event in self.stream.receive(data):
            if isinstance(event, AudioReceived):
                self._heard(event.samples)
            elif isinstance(event, DigitReceived):
                self.digits.append(event.digit)
                if self.on_digit is not None:
                    self.on_digit(event.digit)

    def _heard(self, samples: Samples) -> None:
        """Everything that arrives is recorded (what a meter on the wire would show); only what the SDPs let this
        side receive goes on to the echo and the relay."""
        self.recording.add(samples)
        if not self.direction.receives:
            return
        if self.source is not None:
            self.source.hear(samples)
        if self.on_audio is not None:
            self.on_audio(samples)
