"""The spoken prompts of phone dial-in, synthesised by Debian's espeak-ng into 8 kHz mono 16-bit WAV files.

Why files: a prompt is spoken by the same voice every time, so it is synthesised once and cached under the data
directory as ``prompts/<name>-<hash>.wav``; the hash covers the text, the voice, the speed and this module's
format, so changing any of them makes a new file (and the stale one is removed). Why at start-up and off the event
loop: espeak-ng is a subprocess (about 10 ms a prompt here) that must never stall calls; ``synthesise()`` runs it
in a worker thread with a timeout, and a missing espeak-ng is one clear error naming the Debian package.

espeak-ng writes 22,050 Hz; the phone network carries 8 kHz, so the samples are resampled here with a windowed-sinc
low-pass (numpy only, no sox): plain decimation would fold the 4-11 kHz hiss of fricatives down into the band.
A prompt that comes out silent (a broken voice) is refused: a caller must never hear nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import shutil
import struct
import subprocess
import wave
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Final

import numpy as np

from callbridge.media.g711 import SAMPLE_RATE, Samples

ESPEAK: Final = "espeak-ng"
DEBIAN_PACKAGE: Final = "espeak-ng"
_FORMAT: Final = "pcm16-8k-sinc1"  # part of each file's hash: a change in how files are made remakes them
_VOICED_DBFS: Final = -40.0  # a 20 ms frame louder than this is speech
_MIN_VOICED: Final = 0.3  # a prompt with fewer voiced frames than this fraction is refused as silent


class Prompt(StrEnum):
    WELCOME = "welcome"
    NOT_FOUND_RETRY = "not-found-retry"
    JOINING = "joining"
    LOBBY = "lobby"
    NOT_FOUND_GOODBYE = "not-found-goodbye"
    NO_DIGITS_GOODBYE = "no-digits-goodbye"
    DENIED_GOODBYE = "denied-goodbye"
    UNAVAILABLE_GOODBYE = "unavailable-goodbye"


# "ID" is read as the two letters by espeak-ng's English voices ("aId'i:"); "pound key" is the North American
# name of the # key, which the toll numbers of the demo are.
TEXTS: Final[Mapping[Prompt, str]] = {
    Prompt.WELCOME: "Welcome. Please enter your conference ID, followed by the pound key.",
    Prompt.NOT_FOUND_RETRY: "That conference ID was not found. Please try again, followed by the pound key.",
    Prompt.JOINING: "You are now joining the meeting.",
    Prompt.LOBBY: "Please wait. Someone in the meeting will let you in soon.",
    Prompt.NOT_FOUND_GOODBYE: "Sorry, we could not find that meeting. Goodbye.",
    Prompt.NO_DIGITS_GOODBYE: "We did not receive any digits. Goodbye.",
    Prompt.DENIED_GOODBYE: "Sorry, you were not let into the meeting. Goodbye.",
    Prompt.UNAVAILABLE_GOODBYE: "Sorry, we cannot connect you to the meeting right now. Please call again later. "
                                "Goodbye.",
}


class PromptError(Exception):
    """The prompts could not be made (espeak-ng missing or failing, a silent result)."""


@dataclass(frozen=True)
class Voice:
    name: str = "en-us"  # an espeak-ng voice (`espeak-ng --voices`)
    words_per_minute: int = 150  # espeak-ng -s

    def __post_init__(self) -> None:
        if not 80 <= self.words_per_minute <= 450:
            raise ValueError("espeak-ng speaks 80 to 450 words per minute")
        if not self.name or self.name.startswith("-") or any(c.isspace() for c in self.name):
            raise ValueError(f"not an espeak-ng voice name: {self.name!r}")


@dataclass(frozen=True)
class Prompts:
    """The synthesised prompts: each one's file and its samples (8 kHz, 16-bit mono), read once."""

    files: Mapping[Prompt, Path]
    samples: Mapping[Prompt, Samples] = field(repr=False)

    def seconds(self, prompt: Prompt) -> float:
        return len(self.samples[prompt]) / SAMPLE_RATE


def file_name(prompt: Prompt, text: str, voice: Voice) -> str:
    key = "\n".join([_FORMAT, voice.name, str(voice.words_per_minute), text]).encode()
    return f"{prompt.value}-{hashlib.sha256(key).hexdigest()[:16]}.wav"


async def synthesise(directory: Path, voice: Voice = Voice(), *, timeout_s: float = 20.0,
                     texts: Mapping[Prompt, str] = TEXTS) -> Prompts:
    """Every prompt as a WAV file under ``directory`` (made when missing, reused otherwise); in a worker thread."""
    return await asyncio.to_thread(synthesise_now, directory, voice, timeout_s=timeout_s, texts=texts)


def synthesise_now(directory: Path, voice: Voice = Voice(), *, timeout_s: float = 20.0,
                   texts: Mapping[Prompt, str] = TEXTS) -> Prompts:
    """The blocking form of ``synthesise`` (for start-up code that has no loop yet, and for tests)."""
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[Prompt, Path] = {}
    samples: dict[Prompt, Samples] = {}
    for prompt in Prompt:
        path = directory / file_name(prompt, texts[prompt], voice)
        if not path.is_file():
            pcm = resample(*speak(texts[prompt], voice, timeout_s), SAMPLE_RATE)
            check_voiced(prompt, pcm)
            _write_wav(path, pcm)
            for stale in directory.glob(f"{prompt.value}-*.wav"):
                if stale != path:
                    stale.unlink(missing_ok=True)
        files[prompt], samples[prompt] = path, read_wav(path)
    return Prompts(files, samples)


def speak(text: str, voice: Voice, timeout_s: float) -> tuple[Samples, int]:
    """espeak-ng's samples for ``text`` and their rate."""
    program = shutil.which(ESPEAK)
    if program is None:
        raise PromptError(f"{ESPEAK} is not installed: install the Debian package {DEBIAN_PACKAGE} "
                          "(scripts/system-deps.sh does)")
    try:
        # an argument list, no shell; the voice name is checked by Voice and the text follows "--"
        done = subprocess.run([program, "-v", voice.name, "-s", str(voice.words_per_minute), "--stdout", "--", text],  # noqa: S603
                              capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise PromptError(f"{ESPEAK} did not finish within {timeout_s} s") from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip()[:200]
        raise PromptError(f"{ESPEAK} failed (voice {voice.name!r}): {detail or f'exit status {done.returncode}'}")
    return parse_streamed_wav(done.stdout)


def parse_streamed_wav(data: bytes) -> tuple[Samples, int]:
    """A 16-bit mono PCM WAV written to a pipe: its sizes are placeholders (espeak-ng writes 0x7FFFF000), so the
    samples are everything after the data chunk's header rather than what the header claims."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise PromptError(f"{ESPEAK} wrote no WAV data")
    offset, rate = 12, 0
    while offset + 8 <= len(data):
        chunk, size = data[offset:offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        if chunk == b"fmt ":
            encoding, channels, rate = struct.unpack_from("<HHI", data, offset + 8)
            bits = struct.unpack_from("<H", data, offset + 22)[0]
            if (encoding, channels, bits) != (1, 1, 16):
                raise PromptError(f"{ESPEAK} wrote a WAV other than 16-bit mono PCM")
        elif chunk == b"data":
            if not rate:
                raise PromptError(f"{ESPEAK} wrote WAV data before its format")
            body = data[offset + 8:]
            return np.frombuffer(body[:len(body) - len(body) % 2], dtype="<i2").astype(np.int16), rate
        offset += 8 + size + size % 2
    raise PromptError(f"{ESPEAK} wrote a WAV without data")


def resample(samples: Samples, rate: int, target: int, half_width: int = 16) -> Samples:
    """Band-limited resampling: each output sample is the input weighted by a Hann-windowed sinc whose cut-off is
    just under the lower Nyquist frequency (the standard interpolation filter, evaluated directly: 33 taps of
    22,050 Hz input per 8 kHz output sample, a few ms for a prompt)."""
    if rate == target or not len(samples):
        return samples.astype(np.int16)
    ratio = min(1.0, target / rate) * 0.92  # cut-off as a fraction of the input's Nyquist, leaving a transition band
    taps = half_width * max(1, int(np.ceil(rate / target)))
    x = samples.astype(np.float64)
    positions = np.arange(int(len(x) * target / rate)) * (rate / target)
    base = np.floor(positions).astype(np.int64)
    out = np.zeros(len(positions))
    for k in range(-taps + 1, taps + 1):
        index = base + k
        distance = positions - index
        weight = ratio * np.sinc(ratio * distance) * (0.5 + 0.5 * np.cos(np.pi * distance / taps))
        inside = (index >= 0) & (index < len(x))
        out[inside] += x[index[inside]] * weight[inside]
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def voiced_fraction(samples: Samples, rate: int = SAMPLE_RATE, threshold_dbfs: float = _VOICED_DBFS) -> float:
    """The fraction of 20 ms frames louder than ``threshold_dbfs``."""
    frame = rate // 50
    count = len(samples) // frame
    if not count:
        return 0.0
    frames = samples[:count * frame].astype(np.float64).reshape(count, frame) / 32768.0
    level = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)
    return float(np.mean(level > threshold_dbfs))


def check_voiced(prompt: Prompt, samples: Samples) -> None:
    fraction = voiced_fraction(samples)
    if fraction < _MIN_VOICED:
        raise PromptError(f"the {prompt.value} prompt came out silent ({fraction:.0%} voiced frames)")


def read_wav(path: Path) -> Samples:
    with wave.open(str(path), "rb") as wav:
        if (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) != (1, 2, SAMPLE_RATE):
            raise PromptError(f"{path} is not an 8 kHz 16-bit mono WAV")
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16)


def _write_wav(path: Path, samples: Samples) -> None:
    """Written to a temporary name of its own and renamed: a crash never leaves a half file under the final name,
    and two processes starting at once (HTTP workers) never write into each other's file."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.partial")
    with wave.open(str(partial), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(samples.astype("<i2").tobytes())
    partial.replace(path)
