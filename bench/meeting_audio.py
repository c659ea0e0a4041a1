"""Light plain-RTP G.711 participants for the conference engine's capacity: many senders, a few listeners.

Each participant is one UDP socket of this process on 127.0.0.1, joined to a Janus AudioBridge room with
``JanusConference.join_rtp`` (PCMU), sending its own tone at 50 packets/s. One task paces every sender (a
``sendto`` per participant every 20 ms, from precomputed frames: an integer-Hz tone repeats exactly every second,
so 50 frames loop without a seam). Only the sampled *listeners* are read (``add_reader`` on their sockets); the
others' sockets are left unread and the kernel drops what Janus sends them once their buffer is full, which costs
Janus nothing more (loopback UDP does not push back). So the generator's CPU grows with packets sent, not with
the mixes Janus sends out.

A listener records, over the measuring window, every packet's arrival time, sequence number, timestamp and
payload; ``judge`` then gives its loss (sequence gaps), its late packets (arrival later than its RTP timestamp
says by more than ``LATE_MS`` over the earliest), and the level of every tone of the room in what it heard
(Hann-windowed FFT, the tests' ``tone_db``): it must hear every other participant and not itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import socket
import struct
import time
from dataclasses import dataclass, field

import numpy as np

from callbridge.media import g711
from callbridge.media.conference import ConferenceEngine, RtpAddress, RtpCodec
from callbridge.media.g711 import FRAME_SAMPLES, SAMPLE_RATE, Codec

FIRST_HZ, TOP_HZ, MAX_SPACING_HZ = 300, 3300, 60  # a room's tones: FIRST_HZ up, evenly spaced below TOP_HZ
LATE_MS = 60.0  # later than this over the stream's earliest transit: past a small jitter buffer
HEARD_BELOW_SENT_DB = 10.0  # another's tone is heard when within this of the level it was sent at
ABSENT_BELOW_SENT_DB = 20.0  # one's own tone is absent this far below it (heard, it would be at that level; the
#   floor under a tone of a 100-tone mix is 30-40 dB down: G.711 noise, and gaps when a sender runs late)
MAX_LOSS = MAX_LATE = 0.01  # a clean listener: at most 1% of packets lost, and 1% late
_HEADER = struct.Struct("!BBHII")
SO_TIMESTAMPNS = 35  # Linux (asm-generic/socket.h), not in Python's socket module: the kernel's arrival time
_TIMESPEC = struct.Struct("@qq")


def tone_db(samples: np.ndarray, rate: int, hz: float) -> float:
    """The ``hz`` tone's amplitude in dB of full scale (Hann-windowed FFT, peak within 2 bins): the tests'
    measure (tests/support/tones.py), so a bench figure and a test assertion mean the same."""
    if len(samples) < rate // 10:
        return -200.0
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    centre = round(hz * len(samples) / rate)
    amplitude = 4 * spectrum[max(centre - 2, 0):centre + 3].max() / len(samples)
    return float(20 * np.log10(max(amplitude, 1e-10) / 32768))


def tone_hz(index: int, room_size: int) -> int:
    """Participant ``index``'s tone: integer Hz (a second of it loops without a seam), all of a room's within the
    telephone band, at least 10 Hz apart (50 bins of a 5 s window)."""
    spacing = max(10, min(MAX_SPACING_HZ, (TOP_HZ - FIRST_HZ) // max(1, room_size)))
    return FIRST_HZ + index * spacing


def amplitude_for(room_size: int) -> float:
    """Each tone's amplitude (of full scale): the mix of a room's tones (unrelated frequencies: their powers add)
    near -20 dBFS RMS, so its peaks stay clear of clipping and its quietest tone well above G.711's noise."""
    return min(0.1, 0.14 / math.sqrt(room_size))


def schroeder_phase(index: int, room_size: int) -> float:
    """Participant ``index``'s starting phase. A room's tones lie on one grid and every sender starts its frames
    on the same tick: in phase, their sum would be a pulse train peaking at N times one tone and clip in the mix.
    Schroeder's phases (pi k^2 / N) keep the sum's peaks near those of noise of the same power."""
    return math.pi * index * index / max(1, room_size)


def tone_frames(hz: int, amplitude: float, phase: float = 0.0) -> list[bytes]:
    """One second of the tone as 50 PCMU frames (integer Hz: the second loops without a seam)."""
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    pcm = np.round(amplitude * 32767 * np.sin(2 * np.pi * hz * t + phase))
    payload = g711.encode(Codec.PCMU, pcm)
    return [payload[i:i + FRAME_SAMPLES] for i in range(0, SAMPLE_RATE, FRAME_SAMPLES)]


def sent_db(amplitude: float, hz: int = 1000) -> float:
    """The level a tone is sent at, measured as a listener measures (after G.711)."""
    audio = g711.decode(Codec.PCMU, b"".join(tone_frames(hz, amplitude))).astype(np.float64)
    return float(tone_db(audio, SAMPLE_RATE, hz))


@dataclass(frozen=True)
class Heard:
    """What one listener heard over the window."""

    room: str
    participant: str
    packets: int
    lost: int
    late: int
    jitter_ms: float  # the spread of transit times (max - min)
    own_db: float  # its own tone in what it heard
    weakest_db: float  # the quietest of the others' tones
    others: int
    reference_db: float  # the level each tone was sent at

    @property
    def loss(self) -> float:
        return self.lost / max(1, self.packets + self.lost)

    @property
    def late_share(self) -> float:
        return self.late / max(1, self.packets)

    @property
    def hears_others(self) -> bool:
        return self.weakest_db > self.reference_db - HEARD_BELOW_SENT_DB

    @property
    def not_itself(self) -> bool:
        return self.own_db < self.reference_db - ABSENT_BELOW_SENT_DB

    def faults(self) -> list[str]:
        """Why the listener's audio is not clean (none: it is)."""
        checks = ((not self.packets, "heard nothing"),
                  (self.loss > MAX_LOSS, f"lost {self.loss:.1%} of packets"),
                  (self.late_share > MAX_LATE,
                   f"{self.late_share:.1%} of packets late (jitter {self.jitter_ms:.0f} ms)"),
                  (not self.hears_others, f"the quietest other tone at {self.weakest_db:.1f} dB (sent at "
                                          f"{self.reference_db:.1f})"),
                  (not self.not_itself, f"its own tone at {self.own_db:.1f} dB (sent at {self.reference_db:.1f})"))
        return [why for bad, why in checks if bad]

    @property
    def clean(self) -> bool:
        return not self.faults()


@dataclass(eq=False)
class Participant:
    room: str
    id: str
    hz: int
    sock: socket.socket
    frames: list[bytes]
    ssrc: int = field(default_factory=lambda: random.getrandbits(32))
    sequence: int = field(default_factory=lambda: random.getrandbits(16))
    timestamp: int = field(default_factory=lambda: random.getrandbits(32))
    target: tuple[str, int] | None = None  # the mixer's RTP address for it
    listening: bool = False
    recording: bool = False
    received: list[tuple[float, int, int, bytes]] = field(default_factory=list)  # arrival, seq, ts, payload
    send_errors: int = 0

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def send(self, frame_index: int) -> None:
        assert self.target is not None
        packet = _HEADER.pack(0x80, 0, self.sequence, self.timestamp, self.ssrc) + self.frames[frame_index % 50]
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + FRAME_SAMPLES) & 0xFFFFFFFF
        try:
            self.sock.sendto(packet, self.target)
        except (BlockingIOError, OSError):
            self.send_errors += 1

    def readable(self) -> None:
        """Everything waiting on the socket; kept only while recording. The arrival time is the kernel's
        (SO_TIMESTAMPNS), so a late read by this busy process does not count as a late packet."""
        while True:
            try:
                data, ancillary, _, _ = self.sock.recvmsg(2048, socket.CMSG_SPACE(_TIMESPEC.size))
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            now = next((seconds + nanoseconds / 1e9 for level, kind, value in ancillary
                        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS
                        for seconds, nanoseconds in [_TIMESPEC.unpack(value[:_TIMESPEC.size])]), time.time())
            if self.recording and len(data) >= 12 and data[0] >> 6 == 2:
                _, _, seq, ts, _ = _HEADER.unpack_from(data)
                offset = 12 + 4 * (data[0] & 0x0F)
                self.received.append((now, seq, ts, data[offset:]))

    def judge(self, tones: dict[str, int], reference_db: float) -> Heard:
        """Loss, late packets and the tones heard over what was recorded."""
        packets = sorted(self.received, key=lambda p: _unwrap(p[1], self.received[0][1]) if self.received else 0)
        if not packets:
            return Heard(self.room, self.id, 0, 0, 0, 0.0, -200.0, -200.0, len(tones) - 1, reference_db)
        first_seq, first_ts = packets[0][1], packets[0][2]
        seqs = [_unwrap(p[1], first_seq) for p in packets]
        unique = len(set(seqs))
        lost = max(0, seqs[-1] - seqs[0] + 1 - unique)
        transit = np.array([p[0] - ((p[2] - first_ts) & 0xFFFFFFFF) / SAMPLE_RATE for p in packets])
        spread = transit - transit.min()
        late = int((spread > LATE_MS / 1000).sum())
        audio = np.zeros((seqs[-1] - seqs[0] + 1) * FRAME_SAMPLES)
        for seq, (_, _, _, payload) in zip(seqs, packets, strict=True):
            start = (seq - seqs[0]) * FRAME_SAMPLES
            decoded = g711.decode(Codec.PCMU, payload[:FRAME_SAMPLES]).astype(np.float64)
            audio[start:start + len(decoded)] = decoded
        own = tone_db(audio, SAMPLE_RATE, self.hz)
        others = [tone_db(audio, SAMPLE_RATE, hz) for who, hz in tones.items() if who != self.id]
        return Heard(self.room, self.id, unique, lost, late, float(spread.max() * 1000), own,
                     min(others, default=-200.0), len(others), reference_db)


def _unwrap(seq: int, first: int) -> int:
    """A sequence number as a distance from the first (16-bit wrap; the window is far shorter than 65,536)."""
    return (seq - first) & 0xFFFF


class Crowd:
    """Rooms of plain-RTP participants on one conference engine, and the pacer that makes them talk."""

    def __init__(self, engine: ConferenceEngine, rooms: list[str], per_room: int, listeners_per_room: int) -> None:
        self.engine, self.rooms, self.per_room = engine, rooms, per_room
        self.amplitude = amplitude_for(per_room)
        self.reference_db = sent_db(self.amplitude)
        self.participants: list[Participant] = []
        self.listeners: list[Participant] = []
        self.listeners_per_room = listeners_per_room
        self.sender_lag_ms = 0.0  # the latest a tick of the pacer ran after it was due
        self._pacer: asyncio.Task[None] | None = None
        self._tones: dict[str, dict[str, int]] = {}

    async def open(self, concurrency: int = 8) -> None:
        loop = asyncio.get_running_loop()
        for room in self.rooms:
            await self.engine.open_room(room)
            self._tones[room] = {}
            for i in range(self.per_room):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.bind(("127.0.0.1", 0))
                sock.setblocking(False)
                hz = tone_hz(i, self.per_room)
                frames = tone_frames(hz, self.amplitude, schroeder_phase(i, self.per_room))
                p = Participant(room, f"{room}-p{i}", hz, sock, frames)
                p.listening = i < self.listeners_per_room
                self.participants.append(p)
                self._tones[room][p.id] = hz
                if p.listening:
                    self.listeners.append(p)
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
                    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                    loop.add_reader(sock.fileno(), p.readable)
                else:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # unread: drop early
        gate = asyncio.Semaphore(concurrency)

        async def join(p: Participant) -> None:
            async with gate:
                leg = await self.engine.join_rtp(p.room, p.id, p.id, RtpCodec.PCMU, RtpAddress("127.0.0.1", p.port))
                p.target = (leg.local.ip, leg.local.port)

        await asyncio.gather(*(join(p) for p in self.participants))
        self._pacer = asyncio.create_task(self._pace())

    async def _pace(self) -> None:
        """Every participant sends a frame every 20 ms, on the loop's clock; a stall of over 5 frames restarts
        the clock rather than sending a burst."""
        loop = asyncio.get_running_loop()
        due, tick = loop.time(), 0
        while True:
            for p in self.participants:
                p.send(tick)
            tick += 1
            due += FRAME_SAMPLES / SAMPLE_RATE
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                self.sender_lag_ms = max(self.sender_lag_ms, -delay * 1000)
                if delay < -0.1:
                    due = loop.time()
                await asyncio.sleep(0)

    def record(self, on: bool) -> None:
        for p in self.listeners:
            p.recording = on
            if on:
                p.received.clear()

    def judge(self) -> list[Heard]:
        return [p.judge(self._tones[p.room], self.reference_db) for p in self.listeners]

    @property
    def send_errors(self) -> int:
        return sum(p.send_errors for p in self.participants)

    async def close(self) -> None:
        if self._pacer is not None:
            self._pacer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pacer
        loop = asyncio.get_running_loop()
        for p in self.participants:
            with contextlib.suppress(Exception):
                await self.engine.leave(p.room, p.id)
        for room in self.rooms:
            with contextlib.suppress(Exception):
                await self.engine.close_room(room)
        for p in self.participants:
            if p.listening:
                loop.remove_reader(p.sock.fileno())
            p.sock.close()
