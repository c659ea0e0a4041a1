"""What an RTP endpoint says and hears, as 8 kHz 16-bit mono samples: sources (a tone, a WAV file, silence, an echo
of what it hears) and a recording with a level meter."""

from __future__ import annotations

import wave
from collections import deque
from pathlib import Path

import numpy as np

from callbridge.media.g711 import SAMPLE_RATE, Samples


class Source:
    """Gives the next ``count`` samples each frame; hears what the endpoint receives (only an echo cares)."""

    def next_frame(self, count: int) -> Samples:
        raise NotImplementedError

    def hear(self, samples: Samples) -> None:
        return None


class Tone(Source):
    def __init__(self, frequency: float, amplitude: float = 0.3) -> None:
        self.frequency, self.amplitude = frequency, amplitude
        self._position = 0

    def next_frame(self, count: int) -> Samples:
        t = (np.arange(count) + self._position) / SAMPLE_RATE
        self._position += count
        return (np.sin(2 * np.pi * self.frequency * t) * self.amplitude * 32767).astype(np.int16)


class Silence(Source):
    def next_frame(self, count: int) -> Samples:
        return np.zeros(count, dtype=np.int16)


class WavFile(Source):
    """A 16-bit mono WAV file at any rate (resampled to 8 kHz), looped."""

    def __init__(self, path: str | Path) -> None:
        with wave.open(str(path), "rb") as wav:
            if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
                raise ValueError("WavFile plays 16-bit mono files")
            rate = wav.getframerate()
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        if not len(pcm):
            raise ValueError("the WAV file is empty")
        if rate != SAMPLE_RATE:
            at = np.arange(int(len(pcm) * SAMPLE_RATE / rate)) * rate / SAMPLE_RATE
            pcm = np.interp(at, np.arange(len(pcm)), pcm).astype(np.int16)
        self._pcm: Samples = pcm
        self._position = 0

    def next_frame(self, count: int) -> Samples:
        index = (np.arange(count) + self._position) % len(self._pcm)
        self._position = (self._position + count) % len(self._pcm)
        return self._pcm[index]


class Echo(Source):
    """Says back what it heard, a few frames later; silence while it has heard nothing."""

    def __init__(self, max_frames: int = 10) -> None:
        self._heard: deque[Samples] = deque(maxlen=max_frames)
        self._pending: Samples = np.zeros(0, dtype=np.int16)

    def hear(self, samples: Samples) -> None:
        self._heard.append(samples)

    def next_frame(self, count: int) -> Samples:
        while len(self._pending) < count and self._heard:
            self._pending = np.concatenate([self._pending, self._heard.popleft()])
        frame = self._pending[:count]
        self._pending = self._pending[count:]
        return np.pad(frame, (0, count - len(frame))).astype(np.int16)


class Recording:
    """Every frame heard, in order, with a level meter."""

    def __init__(self) -> None:
        self.chunks: list[Samples] = []
        self.sample_rate = SAMPLE_RATE

    def add(self, samples: Samples) -> None:
        self.chunks.append(samples)

    def mark(self) -> int:
        return len(self.chunks)

    def since(self, mark: int) -> Samples:
        return np.concatenate(self.chunks[mark:]) if len(self.chunks) > mark else np.zeros(0, dtype=np.int16)

    def samples(self, last_seconds: float | None = None) -> Samples:
        data = self.since(0)
        return data[-int(last_seconds * SAMPLE_RATE):] if last_seconds is not None else data

    def level(self, last_seconds: float = 0.2) -> float:
        """RMS of the last ``last_seconds`` heard, 0..1 of full scale."""
        return rms(self.samples(last_seconds))


def rms(samples: Samples) -> float:
    if not len(samples):
        return 0.0
    return float(np.sqrt(np.mean(np.square(samples.astype(np.float64) / 32768.0))))
