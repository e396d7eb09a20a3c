"""What sources yield: time-stamped audio chunks and video frames.

A source is any async iterator of `MediaItem`; replayed files, a local camera
and the glasses' BLE link all look the same to the edge runtime. Timestamps
are seconds on the source's timeline (0 = start of capture); the runtime maps
them onto its monotonic clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000
CHUNK_SAMPLES = 512  # 32 ms at 16 kHz: the chunk Silero VAD is trained on


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """Mono 16 kHz int16 samples starting at `t` seconds."""

    t: float
    samples: npt.NDArray[np.int16]

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One BGR uint8 frame (OpenCV layout) captured at `t` seconds."""

    t: float
    image: npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class ButtonPress:
    """The wearer pressed the glasses' button (or the app's talk button) at `t` seconds.

    It travels in the source stream beside the audio, so push-to-talk and
    "stop talking" line up with the speech they belong to.
    """

    t: float


MediaItem = AudioChunk | VideoFrame | ButtonPress
Source = AsyncIterator[MediaItem]
