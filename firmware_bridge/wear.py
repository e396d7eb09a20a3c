"""Whether the glasses are being worn, inferred from what their microphone hears.

The Omi / OpenGlass protocol has no wear or proximity characteristic. What a
pair taken off does send is digital silence: firmware that mutes the
microphone when the glasses are off the head (as `simulators.VirtualGlasses`
does, and as a proximity-sensing firmware would) sends packets of zeros,
which a worn microphone never produces, since even a quiet room leaves an
analogue noise floor far above `SILENCE_PEAK`. Packets lost on the radio are
not evidence either way: only heard packets count.

Pure state machine: feed it decoded audio, it says when the verdict changes.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from firmware_bridge.codecs import OUTPUT_RATE, Samples

SILENCE_PEAK: Final = 8
"""Largest sample magnitude still counted as digital silence (about -72 dBFS)."""
OFF_AFTER_S: Final = 3.0
"""Heard silence this long means the glasses were taken off."""


class WearDetector:
    """`worn` is None until the first heard packet, then flips on evidence."""

    def __init__(self, *, off_after_s: float = OFF_AFTER_S, silence_peak: int = SILENCE_PEAK):
        self.off_after_samples = round(off_after_s * OUTPUT_RATE)
        self.silence_peak = silence_peak
        self.worn: bool | None = None
        self._silent_samples = 0

    def hear(self, samples: Samples, *, heard: bool) -> bool | None:
        """Take decoded samples; returns the new verdict when it changed, else None.

        `heard` is False for silence standing in for lost packets.
        """
        if not heard or samples.size == 0:
            return None
        peak = int(np.max(np.abs(samples.astype(np.int32))))
        if peak > self.silence_peak:
            self._silent_samples = 0
            return self._verdict(True)
        self._silent_samples += samples.size
        if self._silent_samples >= self.off_after_samples:
            return self._verdict(False)
        return None

    def _verdict(self, worn: bool) -> bool | None:
        if self.worn == worn:
            return None
        self.worn = worn
        return worn
