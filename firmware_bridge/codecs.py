"""The audio codecs the Omi firmware can send, decoded to Companion's 16 kHz int16 mono.

Decoders work one codec packet at a time, because that is how packets come
off the radio, and always hand back 16 kHz samples: 8 kHz codecs are
upsampled here so nothing downstream needs to care. Encoders exist for the
virtual glasses and the tests; they do what the firmware does
(`codec.c`: 160-sample packets; Opus at 32 kbit/s, VBR, restricted low delay,
complexity 3).

- PCM16: little-endian signed 16-bit.
- µ-law: ITU-T G.711, table-driven in numpy (the classic Sun / CCITT
  `linear2ulaw` with bias 0x84 and clip 32635).
- Opus: libopus through PyAV. FFmpeg's libopus decoder always produces
  48 kHz; an Opus stream encoded from 16 kHz input carries nothing above
  8 kHz, so keeping every third sample is an exact 16 kHz signal.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import av
import av.error
import numpy as np
import numpy.typing as npt

from firmware_bridge.errors import CodecError, UnknownCodecError
from firmware_bridge.omi_protocol import PACKET_SAMPLES, CodecId
from firmware_bridge.resampling import Downsampler2x, Upsampler2x

OUTPUT_RATE = 16_000
OPUS_BITRATE = 32_000

Samples = npt.NDArray[np.int16]


@dataclass(frozen=True, slots=True)
class CodecSpec:
    """What the receiver must know about one codec id."""

    codec_id: CodecId
    name: str
    sample_rate: int
    packet_samples: int
    """Samples per codec packet at the codec's own rate."""
    packet_bytes: int | None
    """Every packet has exactly this size; None for variable-size codecs (Opus)."""

    @property
    def output_samples_per_packet(self) -> int:
        """Samples one packet becomes at 16 kHz: the length of the silence for a lost one."""
        return self.packet_samples * OUTPUT_RATE // self.sample_rate

    @property
    def packet_duration_s(self) -> float:
        return self.packet_samples / self.sample_rate


CODECS: Mapping[CodecId, CodecSpec] = {
    spec.codec_id: spec
    for spec in (
        CodecSpec(CodecId.PCM16_16K, "pcm16-16k", 16_000, PACKET_SAMPLES, 2 * PACKET_SAMPLES),
        CodecSpec(CodecId.PCM16_8K, "pcm16-8k", 8_000, PACKET_SAMPLES, 2 * PACKET_SAMPLES),
        CodecSpec(CodecId.MULAW_16K, "mulaw-16k", 16_000, PACKET_SAMPLES, PACKET_SAMPLES),
        CodecSpec(CodecId.MULAW_8K, "mulaw-8k", 8_000, PACKET_SAMPLES, PACKET_SAMPLES),
        CodecSpec(CodecId.OPUS_16K, "opus-16k", 16_000, PACKET_SAMPLES, None),
        CodecSpec(CodecId.OPUS_16K_20MS, "opus-16k-20ms", 16_000, 2 * PACKET_SAMPLES, None),
    )
}


def codec_spec(codec_id: int) -> CodecSpec:
    """The spec for a codec id read from the glasses."""
    try:
        return CODECS[CodecId(codec_id)]
    except ValueError:
        known = ", ".join(f"{spec.codec_id.value} ({spec.name})" for spec in CODECS.values())
        raise UnknownCodecError(
            f"the glasses use codec id {codec_id}, which Companion cannot decode (known: {known});"
            " switch the firmware to one of those codecs"
        ) from None


def parse_codec_value(value: bytes) -> CodecSpec:
    """The codec characteristic's value (one byte; some firmware pads it to four)."""
    if not value:
        raise UnknownCodecError("the codec characteristic is empty; is this Omi firmware?")
    return codec_spec(value[0])


# --- G.711 µ-law ------------------------------------------------------------------------------

_MULAW_BIAS = 0x84
_MULAW_CLIP = 32635


def _mulaw_decode_table() -> Samples:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = (((mantissa << 3) + _MULAW_BIAS) << exponent) - _MULAW_BIAS
    return np.where(code & 0x80, -magnitude, magnitude).astype(np.int16)


def _mulaw_encode_table() -> npt.NDArray[np.uint8]:
    """One µ-law byte for every int16 value, indexed by `sample + 32768`."""
    pcm = np.arange(-32768, 32768, dtype=np.int32)
    sign = np.where(pcm < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(pcm), _MULAW_CLIP) + _MULAW_BIAS
    exponent = np.zeros_like(magnitude)
    for bit in range(1, 8):
        exponent[(magnitude >> 7) >= (1 << bit)] = bit
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    table: npt.NDArray[np.uint8] = (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)
    return table


_MULAW_DECODE = _mulaw_decode_table()
_MULAW_ENCODE = _mulaw_encode_table()


def mulaw_encode(samples: Samples) -> npt.NDArray[np.uint8]:
    """G.711 µ-law bytes for int16 samples."""
    return _MULAW_ENCODE[samples.astype(np.int32) + 32768]


def mulaw_decode(codes: npt.NDArray[np.uint8]) -> Samples:
    """int16 samples for G.711 µ-law bytes."""
    return _MULAW_DECODE[codes]


# --- decoders ---------------------------------------------------------------------------------


class PacketDecoder(Protocol):
    """Turns one codec packet into 16 kHz samples; keeps whatever state the codec needs."""

    spec: CodecSpec

    def decode(self, payload: bytes) -> Samples:
        """16 kHz samples for one packet; raises CodecError if it cannot be decoded."""
        ...

    def conceal(self, packets: int) -> Samples:
        """Silence standing in for `packets` lost packets, keeping filters aligned."""
        ...


class _LinearDecoder:
    """PCM16 and µ-law: fixed-size packets, sample-aligned, upsampled when 8 kHz."""

    def __init__(self, spec: CodecSpec) -> None:
        self.spec = spec
        self._upsampler = Upsampler2x() if spec.sample_rate == 8_000 else None

    def decode(self, payload: bytes) -> Samples:
        if self.spec.packet_bytes is not None and len(payload) != self.spec.packet_bytes:
            expected = self.spec.packet_bytes
            raise CodecError(f"{self.spec.name} packet of {len(payload)} bytes, not {expected}")
        if self.spec.codec_id in (CodecId.MULAW_16K, CodecId.MULAW_8K):
            samples = mulaw_decode(np.frombuffer(payload, dtype=np.uint8))
        else:
            samples = np.frombuffer(payload, dtype="<i2").astype(np.int16)
        return self._to_output_rate(samples)

    def conceal(self, packets: int) -> Samples:
        return self._to_output_rate(np.zeros(packets * self.spec.packet_samples, dtype=np.int16))

    def _to_output_rate(self, samples: Samples) -> Samples:
        return samples if self._upsampler is None else self._upsampler.process(samples)


class _OpusDecoder:
    def __init__(self, spec: CodecSpec) -> None:
        self.spec = spec
        self._context = av.CodecContext.create("libopus", "r")
        self._context.sample_rate = OUTPUT_RATE
        self._context.layout = "mono"
        self._context.format = "s16"
        self._last_samples = spec.output_samples_per_packet

    def decode(self, payload: bytes) -> Samples:
        if not payload:
            raise CodecError("empty Opus packet")  # an empty packet would flush the decoder
        try:
            frames = self._context.decode(av.Packet(payload))
        except (av.error.FFmpegError, ValueError) as error:
            raise CodecError(f"Opus packet of {len(payload)} bytes rejected: {error}") from error
        if not frames:
            raise CodecError(f"Opus packet of {len(payload)} bytes decoded to nothing")
        parts = []
        for frame in frames:
            pcm = frame.to_ndarray().reshape(-1).astype(np.int16)
            rate = frame.sample_rate
            if rate % OUTPUT_RATE:
                raise CodecError(f"Opus decoder produced {rate} Hz, not a multiple of 16 kHz")
            parts.append(pcm[:: rate // OUTPUT_RATE])
        samples = np.concatenate(parts)
        self._last_samples = samples.size
        return samples

    def conceal(self, packets: int) -> Samples:
        return np.zeros(packets * self._last_samples, dtype=np.int16)


def create_decoder(spec: CodecSpec) -> PacketDecoder:
    """A fresh decoder for one stream of `spec` packets."""
    if spec.packet_bytes is None:
        return _OpusDecoder(spec)
    return _LinearDecoder(spec)


# --- encoders ---------------------------------------------------------------------------------


class PacketEncoder(Protocol):
    """Cuts 16 kHz audio into codec packets the way the firmware does."""

    spec: CodecSpec

    def encode(self, samples: Samples) -> list[bytes]:
        """Packets completed by these 16 kHz samples; a partial packet waits for more."""
        ...

    def flush(self) -> list[bytes]:
        """The last partial packet, padded with silence, and anything the codec still holds."""
        ...


class _FramingEncoder(ABC):
    """Collects 16 kHz input into whole packets' worth before handing it to the codec."""

    def __init__(self, spec: CodecSpec) -> None:
        self.spec = spec
        self._pending = np.zeros(0, dtype=np.int16)

    def encode(self, samples: Samples) -> list[bytes]:
        self._pending = np.concatenate([self._pending, samples.astype(np.int16)])
        step = self.spec.output_samples_per_packet
        whole = self._pending.size // step * step
        packets = [self._encode_packet(self._pending[i : i + step]) for i in range(0, whole, step)]
        self._pending = self._pending[whole:]
        return [p for packet in packets for p in packet]

    def flush(self) -> list[bytes]:
        packets: list[bytes] = []
        if self._pending.size:
            step = self.spec.output_samples_per_packet
            padded = np.zeros(step, dtype=np.int16)
            padded[: self._pending.size] = self._pending
            self._pending = np.zeros(0, dtype=np.int16)
            packets.extend(self._encode_packet(padded))
        packets.extend(self._drain())
        return packets

    @abstractmethod
    def _encode_packet(self, samples: Samples) -> list[bytes]: ...

    def _drain(self) -> list[bytes]:
        return []


class _LinearEncoder(_FramingEncoder):
    def __init__(self, spec: CodecSpec) -> None:
        super().__init__(spec)
        self._downsampler = Downsampler2x() if spec.sample_rate == 8_000 else None

    def _encode_packet(self, samples: Samples) -> list[bytes]:
        if self._downsampler is not None:
            samples = self._downsampler.process(samples)
        if self.spec.codec_id in (CodecId.MULAW_16K, CodecId.MULAW_8K):
            return [mulaw_encode(samples).tobytes()]
        return [samples.astype("<i2").tobytes()]


class _OpusEncoder(_FramingEncoder):
    def __init__(self, spec: CodecSpec, bitrate: int) -> None:
        super().__init__(spec)
        self._context = av.CodecContext.create("libopus", "w")
        self._context.sample_rate = OUTPUT_RATE
        self._context.layout = "mono"
        self._context.format = "s16"
        self._context.bit_rate = bitrate
        self._context.options = {
            "frame_duration": str(1000 * spec.packet_samples // spec.sample_rate),
            "application": "lowdelay",
            "vbr": "on",
            "compression_level": "3",
        }
        self._pts = 0

    def _encode_packet(self, samples: Samples) -> list[bytes]:
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = OUTPUT_RATE
        frame.pts = self._pts
        self._pts += samples.size
        return [bytes(packet) for packet in self._context.encode(frame)]

    def _drain(self) -> list[bytes]:
        return [bytes(packet) for packet in self._context.encode(None)]


def create_encoder(spec: CodecSpec, *, opus_bitrate: int = OPUS_BITRATE) -> PacketEncoder:
    """A fresh encoder producing what the firmware would send for `spec`."""
    if spec.packet_bytes is None:
        return _OpusEncoder(spec, opus_bitrate)
    return _LinearEncoder(spec)
