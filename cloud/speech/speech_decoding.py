"""A SpeechSegment's audio back to 16 kHz PCM for the transcriber, whatever codec it came in.

"pcm" is raw s16le (old senders, tests, raw recordings); "opus" is a framed
run of Opus packets (protocol.audio_packets) from the edge. libopus decodes
at 48 kHz; PyAV's resampler brings it back to the rate the segment declares.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cloud.errors import CloudError
from protocol import opus
from protocol.audio_packets import SPEECH_CODECS, unpack_packets
from protocol.errors import ProtocolError
from protocol.limits import MAX_SAMPLE_RATE, MAX_SEGMENT_SECONDS, MIN_SAMPLE_RATE

# libopus's encoder look-ahead (the pre-skip its Ogg header would carry), at 48 kHz.
LIBOPUS_PRE_SKIP_48K = 312


class AudioDecodeError(CloudError):
    """A segment's audio could not be decoded; the turn fails, the session goes on."""


def speech_samples(codec: str, data: bytes, sample_rate: int) -> npt.NDArray[np.int16]:
    """Mono s16 samples at `sample_rate` from the segment's joined audio bytes."""
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioDecodeError(
            f"speech at {sample_rate} Hz; rates from {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} "
            "are accepted"
        )
    if codec == "pcm":
        if len(data) % 2:
            raise AudioDecodeError(
                f"PCM speech has an odd length ({len(data)} bytes); s16le expected"
            )
        return np.frombuffer(data, dtype="<i2").astype(np.int16)
    if codec == "opus":
        return decode_opus(data, sample_rate)
    raise AudioDecodeError(f"unknown speech codec {codec!r}; expected one of {SPEECH_CODECS}")


def decode_opus(data: bytes, sample_rate: int) -> npt.NDArray[np.int16]:
    """Decode a framed run of Opus packets to mono s16 at `sample_rate`."""
    try:
        packets = unpack_packets(data)
    except ProtocolError as exc:
        raise AudioDecodeError(f"Opus speech is malformed: {exc}") from exc
    # Packets are small but each may decode to up to 120 ms: stop at the utterance
    # ceiling rather than trust the packet count.
    ceiling = int(MAX_SEGMENT_SECONDS * sample_rate) + sample_rate
    try:
        samples = opus.decode_opus_packets(packets, sample_rate, max_samples=ceiling)
    except opus.OpusTooLong:
        raise AudioDecodeError(
            f"Opus speech runs past {MAX_SEGMENT_SECONDS:g} seconds; ask in a shorter question"
        ) from None
    except opus.OpusError as exc:
        raise AudioDecodeError(
            f"Opus speech could not be decoded ({exc}); "
            "the sender's encoder or the link corrupted it"
        ) from exc
    if not samples.size:
        return samples
    # The run carries no Opus header, so the decoder cannot drop the encoder's look-ahead
    # itself; without this the words would arrive 6.5 ms late.
    skip = LIBOPUS_PRE_SKIP_48K * sample_rate // 48_000
    return samples[skip:]
