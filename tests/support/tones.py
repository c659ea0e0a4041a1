"""Tone levels in received audio, for tests that check who hears whom (FFT)."""

from __future__ import annotations

import numpy as np

HEARD_DB, ABSENT_DB = -30.0, -45.0  # a tone sent at amplitude 0.3 (-10.5 dB) is heard at about -10 to -20 dB


def tone_db(samples: np.ndarray, rate: int, hz: float) -> float:
    """The amplitude of the ``hz`` tone in the samples (16-bit scale), in dB of full scale (Hann-windowed FFT, peak
    within 2 bins)."""
    if len(samples) < rate // 10:
        return -200.0
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    centre = round(hz * len(samples) / rate)
    amplitude = 4 * spectrum[max(centre - 2, 0):centre + 3].max() / len(samples)
    return float(20 * np.log10(max(amplitude, 1e-10) / 32768))
