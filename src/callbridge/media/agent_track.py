"""The aiortc side of the in-process bridge: a track that plays to the agent what the trunk sent (20 ms frames at
8 kHz, paced by the loop's clock, silence when nothing waits), and a reader that turns the agent's track into
8 kHz mono samples."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
from collections import deque
from collections.abc import Callable

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, AudioResampler

from callbridge.media.g711 import FRAME_SAMPLES, SAMPLE_RATE, Samples

MAX_QUEUED_FRAMES = 5  # 100 ms: more than that and the oldest goes (latency over completeness)
_TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)


class AgentTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.sending = True  # False while the SDP towards the agent says the gateway does not send
        self._queue: deque[Samples] = deque(maxlen=MAX_QUEUED_FRAMES)
        self._pending: Samples = np.zeros(0, dtype=np.int16)
        self._pts = 0
        self._start: float | None = None

    def push(self, samples: Samples) -> None:
        self._queue.append(samples)

    def _next_samples(self) -> Samples:
        while len(self._pending) < FRAME_SAMPLES and self._queue:
            self._pending = np.concatenate([self._pending, self._queue.popleft()])
        frame, self._pending = self._pending[:FRAME_SAMPLES], self._pending[FRAME_SAMPLES:]
        if not self.sending:
            return np.zeros(FRAME_SAMPLES, dtype=np.int16)
        return np.pad(frame, (0, FRAME_SAMPLES - len(frame))).astype(np.int16)

    async def recv(self) -> AudioFrame:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        delay = self._start + self._pts / SAMPLE_RATE - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.2:  # stalled: start afresh rather than burst
            self._start = loop.time() - self._pts / SAMPLE_RATE
        frame = AudioFrame.from_ndarray(self._next_samples().reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = SAMPLE_RATE, self._pts, _TIME_BASE
        self._pts += FRAME_SAMPLES
        return frame


async def relay_frames(track: MediaStreamTrack, heard: Callable[[Samples], None]) -> None:
    """Hands every frame of the track, as 8 kHz mono samples, to ``heard`` until the track ends."""
    resampler = AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    with contextlib.suppress(MediaStreamError):
        while True:
            frame = await track.recv()
            assert isinstance(frame, AudioFrame)
            if frame.sample_rate == SAMPLE_RATE and frame.format.name == "s16" and len(frame.layout.channels) == 1:
                heard(frame.to_ndarray().reshape(-1).astype(np.int16))
                continue
            for converted in resampler.resample(frame):
                heard(converted.to_ndarray().reshape(-1).astype(np.int16))
