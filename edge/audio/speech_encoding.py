"""Speech compressed on the edge before it leaves: Opus at a voice bitrate.

16 kHz s16le PCM costs 256 kbit/s, more than the whole visual context of a
live session; Opus at 32 kbit/s carries the same words (Whisper's transcript
does not change on the shared recordings) at an eighth of the bytes. The encoder
is libopus through PyAV, which aiortc already brings in.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edge.errors import MediaError
from protocol.opus import FRAME_MS, OpusError, encode_opus_packets

OPUS_RATE = 16_000
# 24 kbit/s already keeps every shared LibriVox recording at WER 0, but turns the espeak
# demo question "what does this page say" into "... age say"; 32 kbit/s does not.
DEFAULT_BITRATE = 32_000
FRAME_SAMPLES = OPUS_RATE * FRAME_MS // 1000


class SpeechEncodingError(MediaError):
    """The Opus encoder could not be opened or refused the audio."""


def encode_opus(
    samples: npt.NDArray[np.int16], *, sample_rate: int = OPUS_RATE, bitrate: int = DEFAULT_BITRATE
) -> list[bytes]:
    """The Opus packets (20 ms each) for mono s16 `samples`; the last frame is padded
    with silence."""
    if sample_rate != OPUS_RATE:
        raise SpeechEncodingError(f"speech must be {OPUS_RATE} Hz for Opus, got {sample_rate} Hz")
    try:
        return encode_opus_packets(samples, OPUS_RATE, opus_rate=OPUS_RATE, bitrate=bitrate)
    except OpusError as exc:
        raise SpeechEncodingError(str(exc)) from exc
