"""From audio notifications to 16 kHz samples: reassembly, then the codec, silence for gaps.

Pure, like the reassembler under it; the glasses source and the capture
decoder both drive it. Every packet slot becomes exactly one packet's worth
of samples, heard or not, so the sample count is a clock: sample N of the
output is N / 16000 s after the first packet heard (until a `resync`).
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_bridge.audio_reassembly import (
    AudioEvent,
    AudioReassembler,
    AudioReassemblyStats,
    CodecPacket,
    LostPackets,
)
from firmware_bridge.codecs import CodecSpec, Samples, create_decoder
from firmware_bridge.errors import CodecError
from firmware_bridge.omi_protocol import CounterMode


@dataclass(frozen=True, slots=True)
class DecodedAudio:
    """16 kHz samples for `packets` consecutive packet slots starting at `seq`."""

    seq: int
    packets: int
    samples: Samples
    t: float | None
    """Arrival of the packet; None for silence standing in for lost packets."""
    resync: bool = False
    """The stream jumped just before these samples: their time is not the previous end."""


class AudioStreamDecoder:
    """Audio notifications in, 16 kHz int16 samples out, with silence where packets were lost."""

    def __init__(
        self,
        spec: CodecSpec,
        *,
        counter_mode: CounterMode | None = None,
        window_packets: int = 8,
        max_hold_s: float = 0.2,
    ) -> None:
        self.spec = spec
        self.reassembler = AudioReassembler(
            packet_bytes=spec.packet_bytes,
            counter_mode=counter_mode,
            window_packets=window_packets,
            max_hold_s=max_hold_s,
        )
        self.undecodable = 0
        """Whole packets the codec rejected (played as silence, counted apart from losses)."""
        self._decoder = create_decoder(spec)
        self._resync_pending = False

    @property
    def stats(self) -> AudioReassemblyStats:
        return self.reassembler.stats

    def push(self, value: bytes, t: float) -> list[DecodedAudio]:
        return self._decode(self.reassembler.push(value, t))

    def expire(self, now: float) -> list[DecodedAudio]:
        return self._decode(self.reassembler.expire(now))

    def flush(self) -> list[DecodedAudio]:
        return self._decode(self.reassembler.flush())

    def _decode(self, events: list[AudioEvent]) -> list[DecodedAudio]:
        out: list[DecodedAudio] = []
        for event in events:
            if isinstance(event, CodecPacket):
                try:
                    samples = self._decoder.decode(event.payload)
                except CodecError:
                    self.undecodable += 1
                    samples = self._decoder.conceal(1)
                out.append(self._decoded(event.seq, 1, samples, event.t))
            elif isinstance(event, LostPackets):
                samples = self._decoder.conceal(event.count)
                out.append(self._decoded(event.seq, event.count, samples, None))
            else:
                self._resync_pending = True
        return out

    def _decoded(self, seq: int, packets: int, samples: Samples, t: float | None) -> DecodedAudio:
        resync, self._resync_pending = self._resync_pending, False
        return DecodedAudio(seq, packets, samples, t, resync)
