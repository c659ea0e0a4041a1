"""Audio for calls from Python, through aiortc: sources (a tone, a WAV file, silence) and sinks (a recorder that
keeps what it heard, a level meter), and the FFT that tells which tone was heard."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import time
import wave
from pathlib import Path

import numpy as np
from aiortc import MediaStreamTrack
from av import AudioFrame

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms


class AudioSource(MediaStreamTrack):
    """Paced 20 ms frames of mono s16 audio; subclasses say what the samples are."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._pts = 0
        self._start: float | None = None

    def samples(self, first: int, count: int) -> np.ndarray:
        raise NotImplementedError

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self._pts / SAMPLE_RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        pcm = self.samples(self._pts, FRAME_SAMPLES).astype(np.int16)
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._pts += FRAME_SAMPLES
        return frame


class ToneSource(AudioSource):
    def __init__(self, frequency: float, amplitude: float = 0.3) -> None:
        super().__init__()
        self.frequency = frequency
        self.amplitude = amplitude

    def samples(self, first: int, count: int) -> np.ndarray:
        t = (np.arange(count) + first) / SAMPLE_RATE
        return np.sin(2 * np.pi * self.frequency * t) * self.amplitude * 32767


class SilenceSource(AudioSource):
    def samples(self, first: int, count: int) -> np.ndarray:
        return np.zeros(count)


class WavSource(AudioSource):
    """A 16-bit mono WAV file at 48 kHz, looped."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        with wave.open(str(path), "rb") as wav:
            if wav.getsampwidth() != 2 or wav.getnchannels() != 1 or wav.getframerate() != SAMPLE_RATE:
                raise ValueError("WavSource plays 16-bit mono 48 kHz files")
            self._pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        if not len(self._pcm):
            raise ValueError("the WAV file is empty")

    def samples(self, first: int, count: int) -> np.ndarray:
        index = (np.arange(count) + first) % len(self._pcm)
        return self._pcm[index]


class Recorder:
    """Keeps the mono samples of a received track (with their rate) until stopped."""

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.sample_rate = SAMPLE_RATE
        self.frames = 0
        self._task: asyncio.Task[None] | None = None

    def attach(self, track: MediaStreamTrack) -> None:
        self._task = asyncio.ensure_future(self._run(track))

    async def _run(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(Exception):  # the track ends when the call does
            while True:
                frame = await track.recv()
                assert isinstance(frame, AudioFrame)
                pcm = frame.to_ndarray()
                channels = len(frame.layout.channels)
                mono = pcm.reshape(-1, channels).mean(axis=1) if channels > 1 else pcm.reshape(-1)
                self.sample_rate = frame.sample_rate
                self.chunks.append(mono.astype(np.float64))
                self.frames += 1

    def samples(self, last_seconds: float | None = None) -> np.ndarray:
        if not self.chunks:
            return np.zeros(0)
        data = np.concatenate(self.chunks)
        if last_seconds is not None:
            data = data[-int(last_seconds * self.sample_rate):]
        return data

    def mark(self) -> int:
        """A position in what was heard, for ``since``."""
        return len(self.chunks)

    def since(self, mark: int) -> np.ndarray:
        return np.concatenate(self.chunks[mark:]) if len(self.chunks) > mark else np.zeros(0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def dominant_frequency(samples: np.ndarray, sample_rate: int) -> float:
    """The strongest frequency (Hz) in the samples, by FFT with a Hann window."""
    if len(samples) < sample_rate // 10:
        return 0.0
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    spectrum[0] = 0
    return float(np.fft.rfftfreq(len(samples), 1 / sample_rate)[int(np.argmax(spectrum))])


def level(samples: np.ndarray) -> float:
    """RMS level, 0..1 of full scale."""
    return float(np.sqrt(np.mean(np.square(samples / 32768.0)))) if len(samples) else 0.0
