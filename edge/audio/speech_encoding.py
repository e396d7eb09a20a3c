"""Speech compressed on the edge before it leaves: Opus at a voice bitrate.

16 kHz s16le PCM costs 256 kbit/s, more than the whole visual context of a
live session; Opus at 32 kbit/s carries the same words (Whisper's transcript
does not change on the shared recordings) at an eighth of the bytes. The encoder
is libopus through PyAV, which aiortc already brings in.
"""

from __future__ import annotations

import av
import numpy as np
import numpy.typing as npt

from edge.errors import MediaError

OPUS_RATE = 16_000
# 24 kbit/s already keeps every shared LibriVox recording at WER 0, but turns the espeak
# demo question "what does this page say" into "... age say"; 32 kbit/s does not.
DEFAULT_BITRATE = 32_000
# libopus takes 2.5-60 ms frames; 20 ms is the usual voice frame.
FRAME_SAMPLES = 320


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
        encoder = av.CodecContext.create("libopus", "w")
        assert isinstance(encoder, av.AudioCodecContext)
        encoder.sample_rate = OPUS_RATE
        encoder.layout = "mono"
        encoder.format = "s16"
        encoder.bit_rate = bitrate
        encoder.open()
    except (av.FFmpegError, ValueError) as exc:
        raise SpeechEncodingError(f"could not open the Opus encoder: {exc}") from exc
    pcm = np.ascontiguousarray(samples, dtype=np.int16).reshape(-1)
    pcm = np.concatenate([pcm, np.zeros((-pcm.size) % FRAME_SAMPLES, dtype=np.int16)])
    packets: list[bytes] = []
    for start in range(0, pcm.size, FRAME_SAMPLES):
        frame = av.AudioFrame.from_ndarray(
            pcm[None, start : start + FRAME_SAMPLES], format="s16", layout="mono"
        )
        frame.sample_rate = OPUS_RATE
        frame.pts = start
        packets += [bytes(packet) for packet in encoder.encode(frame)]
    packets += [bytes(packet) for packet in encoder.encode(None)]
    return packets
