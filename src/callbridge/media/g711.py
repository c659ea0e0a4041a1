"""G.711 (ITU-T G.711): PCMU (mu-law) and PCMA (A-law) at 8 kHz, 16-bit signed mono samples.

Every 16-bit sample value is encoded once, at import, into a 65,536-entry table, and every code byte decoded into a
256-entry table; encoding and decoding are then one numpy lookup per frame. (audioop, the standard library's codec,
is deprecated and gone in Python 3.13.)
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.int16]

SAMPLE_RATE = 8_000
FRAME_SAMPLES = 160  # 20 ms

_MU_BIAS = 0x84
_MU_CLIP = 32_635


class Codec(IntEnum):
    """The static RTP payload types of G.711 (RFC 3551, table 4)."""

    PCMU = 0
    PCMA = 8

    @property
    def encoding_name(self) -> str:
        return self.name


def _segment(magnitude: npt.NDArray[np.int64], shift: int) -> npt.NDArray[np.int64]:
    """The G.711 segment (0..7) of a magnitude: position of its highest bit above ``shift``."""
    segment = np.zeros_like(magnitude)
    for bit in range(1, 8):
        segment[(magnitude >> (shift + bit)) > 0] = bit
    return segment


def _mu_law_encode_all() -> npt.NDArray[np.uint8]:
    value = np.arange(-32768, 32768, dtype=np.int64)
    sign = np.where(value < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(value), _MU_CLIP) + _MU_BIAS
    segment = _segment(magnitude, 7)
    mantissa = (magnitude >> (segment + 3)) & 0x0F
    code = ~(sign | (segment << 4) | mantissa) & 0xFF
    return _by_unsigned_index(code)


def _a_law_encode_all() -> npt.NDArray[np.uint8]:
    value = np.arange(-32768, 32768, dtype=np.int64)
    mask = np.where(value >= 0, 0xD5, 0x55)
    magnitude = np.where(value >= 0, value, -value - 1) >> 3  # 13-bit magnitude
    segment = _segment(magnitude, 4)
    mantissa = np.where(segment < 2, magnitude >> 1, magnitude >> segment) & 0x0F
    code = ((segment << 4) | mantissa) ^ mask
    return _by_unsigned_index(code)


def _by_unsigned_index(code_by_value: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
    """Reorder a table indexed by value + 32768 so a sample's uint16 bit pattern indexes it."""
    return np.roll(code_by_value.astype(np.uint8), -32768)


def _mu_law_decode_all() -> Samples:
    code = ~np.arange(256, dtype=np.int64) & 0xFF
    segment = (code >> 4) & 0x07
    magnitude = ((((code & 0x0F) << 3) + _MU_BIAS) << segment) - _MU_BIAS
    return np.where(code & 0x80, -magnitude, magnitude).astype(np.int16)


def _a_law_decode_all() -> Samples:
    code = np.arange(256, dtype=np.int64) ^ 0x55
    segment = (code >> 4) & 0x07
    magnitude = ((code & 0x0F) << 4) + np.where(segment == 0, 8, 0x108)
    magnitude = np.where(segment > 1, magnitude << np.maximum(segment - 1, 0), magnitude)
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


_ENCODE = {Codec.PCMU: _mu_law_encode_all(), Codec.PCMA: _a_law_encode_all()}
_DECODE = {Codec.PCMU: _mu_law_decode_all(), Codec.PCMA: _a_law_decode_all()}


def encode(codec: Codec, samples: npt.ArrayLike) -> bytes:
    """16-bit samples (any integer or float array, clipped to int16) to one G.711 byte per sample."""
    pcm = np.clip(np.asarray(samples), -32768, 32767).astype(np.int16)
    return bytes(_ENCODE[codec][pcm.view(np.uint16)].tobytes())


def decode(codec: Codec, payload: bytes) -> Samples:
    """G.711 bytes to 16-bit samples."""
    return _DECODE[codec][np.frombuffer(payload, dtype=np.uint8)]


def silence(codec: Codec, count: int = FRAME_SAMPLES) -> bytes:
    return encode(codec, np.zeros(count, dtype=np.int16))
