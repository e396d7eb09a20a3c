"""Compressed speech as a run of codec packets inside one `SpeechSegment.pcm` field.

Opus packets vary in size and carry no length of their own, so each one is
preceded by its length (2 bytes, big-endian). Parts of a long utterance are cut
between packets, which keeps the concatenation of all parts a valid run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from protocol.errors import ProtocolError

SPEECH_CODECS = ("pcm", "opus")
_LENGTH_BYTES = 2
MAX_PACKET_BYTES = 2**16 - 1


def pack_packets(packets: Iterable[bytes]) -> bytes:
    """Length-prefix each packet and join them."""
    out = bytearray()
    for packet in packets:
        if not 0 < len(packet) <= MAX_PACKET_BYTES:
            raise ProtocolError(f"a codec packet of {len(packet)} bytes cannot be framed")
        out += len(packet).to_bytes(_LENGTH_BYTES, "big") + packet
    return bytes(out)


def unpack_packets(data: bytes) -> list[bytes]:
    """The packets of a framed run; ProtocolError if the run is cut short or malformed."""
    packets: list[bytes] = []
    at = 0
    while at < len(data):
        if at + _LENGTH_BYTES > len(data):
            raise ProtocolError(f"speech packet header truncated at byte {at} of {len(data)}")
        size = int.from_bytes(data[at : at + _LENGTH_BYTES], "big")
        at += _LENGTH_BYTES
        if size == 0 or at + size > len(data):
            raise ProtocolError(
                f"speech packet at byte {at} claims {size} bytes; {len(data) - at} remain"
            )
        packets.append(data[at : at + size])
        at += size
    return packets


def split_packets(packets: Sequence[bytes], max_bytes: int) -> list[bytes]:
    """Framed runs of at most `max_bytes` each, cut only between packets (at least one run)."""
    runs: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for packet in packets:
        framed = _LENGTH_BYTES + len(packet)
        if current and size + framed > max_bytes:
            runs.append(pack_packets(current))
            current, size = [], 0
        current.append(packet)
        size += framed
    runs.append(pack_packets(current))
    return runs
