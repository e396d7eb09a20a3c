"""Opus, the one codec every link compresses speech and spoken answers with.

The edge sends the wearer's speech as Opus, the cloud speaks answers to BLE
glasses as Opus and the firmware bridge encodes what it must itself: one
encoder, so each link's packets are the same 20 ms mono frames from the same
libopus (through PyAV, which aiortc already brings in). PyAV is imported on
first use: the messages themselves never need it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import numpy as np
import numpy.typing as npt

from protocol.errors import ProtocolError

if TYPE_CHECKING:
    import av

OPUS_RATES = (8_000, 12_000, 16_000, 24_000, 48_000)
"""The rates libopus runs at."""
FRAME_MS = 20
"""libopus takes 2.5-60 ms frames; 20 ms is the usual voice frame."""


class OpusError(ProtocolError):
    """The Opus encoder could not be opened or refused the audio."""


def encode_opus_packets(
    samples: npt.NDArray[np.int16], sample_rate: int, *, opus_rate: int, bitrate: int
) -> list[bytes]:
    """Mono s16 `samples` at `sample_rate`, resampled to `opus_rate` where it differs, as
    20 ms Opus packets; the last frame is padded with silence."""
    import av

    if opus_rate not in OPUS_RATES:
        raise OpusError(f"Opus does not run at {opus_rate} Hz")
    try:
        encoder = av.CodecContext.create("libopus", "w")
        assert isinstance(encoder, av.AudioCodecContext)
        encoder.sample_rate = opus_rate
        encoder.layout = "mono"
        encoder.format = "s16"
        encoder.bit_rate = bitrate
        encoder.open()
        pcm = np.ascontiguousarray(samples, dtype=np.int16).reshape(-1)
        if sample_rate != opus_rate and len(pcm):
            resampler = av.AudioResampler(format="s16", layout="mono", rate=opus_rate)
            frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = sample_rate
            parts = [mono_s16(f) for f in [*resampler.resample(frame), *resampler.resample(None)]]
            pcm = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
        step = opus_rate * FRAME_MS // 1000
        pcm = np.concatenate([pcm, np.zeros((-pcm.size) % step, dtype=np.int16)])
        packets: list[bytes] = []
        for start in range(0, pcm.size, step):
            frame = av.AudioFrame.from_ndarray(
                pcm[None, start : start + step], format="s16", layout="mono"
            )
            frame.sample_rate = opus_rate
            frame.pts = start
            packets += [bytes(p) for p in encoder.encode(frame)]
        packets += [bytes(p) for p in encoder.encode(None)]
    except (av.FFmpegError, ValueError) as exc:
        raise OpusError(f"could not encode Opus: {exc}") from exc
    return packets


class OpusTooLong(OpusError):
    """A run of packets decodes to more audio than its caller takes (a few bytes a packet
    can each claim 120 ms: the packet count is no bound)."""


def decode_opus_packets(
    packets: list[bytes], sample_rate: int, *, max_samples: int
) -> npt.NDArray[np.int16]:
    """Mono s16 samples of a run of Opus packets at `sample_rate` (libopus decodes at
    48 kHz whatever it is told; the result is resampled). OpusTooLong past `max_samples`,
    OpusError for packets that do not decode."""
    import av

    try:
        decoder = av.CodecContext.create("libopus", "r")
        assert isinstance(decoder, av.AudioCodecContext)
        decoder.layout = "mono"
        resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
        pieces: list[npt.NDArray[np.int16]] = []
        decoded = 0
        for packet in [*packets, None]:
            for frame in decoder.decode(None if packet is None else av.Packet(packet)):
                for out in resampler.resample(frame):
                    pieces.append(mono_s16(out))
                    decoded += len(pieces[-1])
                if decoded > max_samples:
                    raise OpusTooLong(f"Opus audio runs past {max_samples} samples")
        pieces += [mono_s16(out) for out in resampler.resample(None)]
    except OpusTooLong:
        raise  # a ProtocolError is a ValueError too: not a packet that failed to decode
    except (av.FFmpegError, ValueError) as exc:
        raise OpusError(f"{type(exc).__name__}: {exc}") from exc
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)


def mono_s16(frame: av.AudioFrame) -> npt.NDArray[np.int16]:
    """A decoded or resampled PyAV frame as mono int16, whatever sample format it has."""
    data = frame.to_ndarray()
    if data.dtype.kind == "f":
        return cast(
            "npt.NDArray[np.int16]",
            np.clip(np.round(data.reshape(-1) * 32767.0), -32768, 32767).astype(np.int16),
        )
    return data.reshape(-1).astype(np.int16)
