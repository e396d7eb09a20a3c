"""Spoken answers' audio on the device side: AnswerAudio to samples, and samples to Opus.

The cloud sends each part as raw s16le (`pcm`, what the phone app plays) or,
for glasses that asked for it, as a run of length-prefixed Opus packets
(protocol.audio_packets) in 20 ms frames at an Opus rate (16 or 24 kHz): a
tenth of the bytes, which matters on a BLE link. Both go through libopus in
PyAV, which the edge already uses for speech upstream.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edge.errors import MediaError
from protocol import AnswerAudio, ProtocolError, opus
from protocol.audio_packets import unpack_packets
from protocol.limits import MAX_ANSWER_PLAYOUT_S

# The rates libopus runs at; Piper's 22,050 Hz is carried at 24 kHz.
ANSWER_OPUS_RATE = 24_000
ANSWER_OPUS_BITRATE = 24_000


class AnswerAudioError(MediaError):
    """A spoken answer's part could not be decoded (bad length, bad packets, no codec)."""


def decode_answer_audio(audio: AnswerAudio) -> tuple[npt.NDArray[np.int16], int]:
    """The part's mono samples and their rate."""
    if audio.codec == "pcm":
        if len(audio.pcm) % 2:
            raise AnswerAudioError(f"s16le audio of odd length {len(audio.pcm)}")
        return np.frombuffer(audio.pcm, dtype="<i2").astype(np.int16), audio.sample_rate
    try:
        packets = unpack_packets(audio.pcm)
    except ProtocolError as exc:
        raise AnswerAudioError(str(exc)) from exc
    return decode_opus(packets, audio.sample_rate), audio.sample_rate


def decode_opus(packets: list[bytes], sample_rate: int) -> npt.NDArray[np.int16]:
    """Mono s16 samples of a run of Opus packets, decoded at `sample_rate`."""
    if sample_rate not in opus.OPUS_RATES:
        raise AnswerAudioError(f"Opus does not run at {sample_rate} Hz")
    # A part is bounded by its message's bytes, not by how long it plays: the whole
    # playout ceiling at most.
    ceiling = int(MAX_ANSWER_PLAYOUT_S * sample_rate)
    try:
        return opus.decode_opus_packets(packets, sample_rate, max_samples=ceiling)
    except opus.OpusError as exc:
        raise AnswerAudioError(f"Opus packets did not decode: {exc}") from exc


def encode_opus_packets(
    samples: npt.NDArray[np.int16],
    sample_rate: int,
    *,
    opus_rate: int = ANSWER_OPUS_RATE,
    bitrate: int = ANSWER_OPUS_BITRATE,
) -> list[bytes]:
    """`samples` (any rate) resampled to `opus_rate` and encoded in 20 ms Opus packets."""
    try:
        return opus.encode_opus_packets(samples, sample_rate, opus_rate=opus_rate, bitrate=bitrate)
    except opus.OpusError as exc:
        raise AnswerAudioError(str(exc)) from exc
