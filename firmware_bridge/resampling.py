"""Streaming 2x rate change between 8 kHz codecs and Companion's 16 kHz audio.

The 8 kHz codecs arrive one 160-sample packet at a time, so the filters keep
their history between calls: converting packet by packet gives the same
samples as converting the whole stream at once, with no clicks at packet
edges, and every packet of N samples becomes exactly 2N (or N/2) samples.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_UP_HALF_TAPS = 8
_DOWN_HALF_TAPS = 15


def _upsampling_taps() -> npt.NDArray[np.float64]:
    """Windowed-sinc interpolator for the sample halfway between two inputs."""
    k = np.arange(2 * _UP_HALF_TAPS, dtype=np.float64)
    offsets = (_UP_HALF_TAPS - 0.5) - k
    window = np.cos(np.pi * offsets / (2 * _UP_HALF_TAPS)) ** 2
    taps: npt.NDArray[np.float64] = np.sinc(offsets) * window
    normalized: npt.NDArray[np.float64] = taps / taps.sum()
    return normalized


def _downsampling_taps() -> npt.NDArray[np.float64]:
    """Low-pass at 3.6 kHz for 16 kHz input: keeps speech, removes what would alias at 8 kHz."""
    n = np.arange(2 * _DOWN_HALF_TAPS + 1, dtype=np.float64) - _DOWN_HALF_TAPS
    cutoff = 3600.0 / 16000.0
    window = np.hanning(2 * _DOWN_HALF_TAPS + 3)[1:-1]
    taps: npt.NDArray[np.float64] = 2 * cutoff * np.sinc(2 * cutoff * n) * window
    normalized: npt.NDArray[np.float64] = taps / taps.sum()
    return normalized


_UP_TAPS = _upsampling_taps()
_DOWN_TAPS = _downsampling_taps()


def _to_int16(values: npt.NDArray[np.float64]) -> npt.NDArray[np.int16]:
    return np.clip(np.rint(values), -32768, 32767).astype(np.int16)


class Upsampler2x:
    """8 kHz to 16 kHz, one packet at a time; delays the signal by 16 output samples (1 ms)."""

    def __init__(self) -> None:
        self._history = np.zeros(2 * _UP_HALF_TAPS - 1, dtype=np.float64)

    def process(self, samples: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        """Exactly 2 * len(samples) samples at twice the rate."""
        if samples.size == 0:
            return np.zeros(0, dtype=np.int16)
        buffer = np.concatenate([self._history, samples.astype(np.float64)])
        halfway = np.convolve(buffer, _UP_TAPS, mode="valid")
        originals = buffer[_UP_HALF_TAPS - 1 : _UP_HALF_TAPS - 1 + samples.size]
        self._history = buffer[-(2 * _UP_HALF_TAPS - 1) :]
        out = np.empty(2 * samples.size, dtype=np.float64)
        out[0::2] = originals
        out[1::2] = halfway
        return _to_int16(out)


class Downsampler2x:
    """16 kHz to 8 kHz, chunk by chunk; an odd sample left over waits for the next call."""

    def __init__(self) -> None:
        self._history = np.zeros(2 * _DOWN_HALF_TAPS, dtype=np.float64)
        self._keep_next = 0  # 0: the next input sample is kept, 1: it is skipped

    def process(self, samples: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        if samples.size == 0:
            return np.zeros(0, dtype=np.int16)
        buffer = np.concatenate([self._history, samples.astype(np.float64)])
        filtered = np.convolve(buffer, _DOWN_TAPS, mode="valid")
        kept = filtered[self._keep_next :: 2]
        self._keep_next = (self._keep_next + samples.size) % 2
        self._history = buffer[-2 * _DOWN_HALF_TAPS :]
        return _to_int16(kept)
