"""The sending side: how the glasses' firmware cuts codec packets and JPEGs into notifications.

The virtual glasses, the tests and the benchmark use this to produce exactly
the bytes real glasses put on the air, so the receiving side is tested
against the firmware's behaviour, not against our own idea of it.

- Audio follows the Omi firmware's `push_to_gatt()` (`transport.c`): each
  notification is `counter (u16 LE) | index (u8) | up to MTU-6 codec bytes`;
  the counter advances per notification, or per packet in the Protocol.mdx
  reading (`CounterMode`).
- Photos follow the OpenGlass firmware: `frame index (u16 LE) | up to 200
  JPEG bytes`, then a bare `FF FF` end marker.
"""

from __future__ import annotations

from firmware_bridge.omi_protocol import (
    AUDIO_COUNTER_MODULO,
    AUDIO_HEADER_BYTES,
    OPENGLASS_PHOTO_CHUNK_BYTES,
    PHOTO_END_MARKER,
    PHOTO_HEADER_BYTES,
    CounterMode,
    max_notification_bytes,
)


def audio_bytes_per_notification(mtu: int) -> int:
    """Codec bytes one audio notification carries at this ATT MTU."""
    return max_notification_bytes(mtu) - AUDIO_HEADER_BYTES


def photo_chunk_bytes(mtu: int) -> int:
    """JPEG bytes per photo notification: OpenGlass's 200, or less if the MTU is smaller."""
    return min(OPENGLASS_PHOTO_CHUNK_BYTES, max_notification_bytes(mtu) - PHOTO_HEADER_BYTES)


class AudioFramer:
    """Splits codec packets into audio notifications, keeping the firmware's running counter."""

    def __init__(
        self, *, mtu: int, counter_mode: CounterMode = "per_notification", start_counter: int = 0
    ) -> None:
        self.chunk_bytes = audio_bytes_per_notification(mtu)
        self.counter_mode: CounterMode = counter_mode
        self.counter = start_counter % AUDIO_COUNTER_MODULO

    def frame(self, packet: bytes) -> list[bytes]:
        """The notifications for one codec packet, in the order the firmware sends them."""
        pieces = [
            packet[offset : offset + self.chunk_bytes]
            for offset in range(0, len(packet), self.chunk_bytes)
        ]
        if not pieces:
            return []  # push_to_gatt sends nothing for an empty packet
        if len(pieces) > 256:
            raise ValueError(
                f"a {len(packet)}-byte packet needs {len(pieces)} notifications at "
                f"{self.chunk_bytes} bytes each; the index byte allows 256"
            )
        notifications = []
        for index, piece in enumerate(pieces):
            header = self.counter.to_bytes(2, "little") + bytes([index])
            notifications.append(header + piece)
            if self.counter_mode == "per_notification":
                self._advance()
        if self.counter_mode == "per_packet":
            self._advance()
        return notifications

    def _advance(self) -> None:
        self.counter = (self.counter + 1) % AUDIO_COUNTER_MODULO


def frame_photo(jpeg: bytes, *, chunk_bytes: int = OPENGLASS_PHOTO_CHUNK_BYTES) -> list[bytes]:
    """The photo-data notifications for one JPEG, end marker included."""
    if chunk_bytes < 1:
        raise ValueError(f"photo chunks of {chunk_bytes} bytes cannot carry a JPEG")
    chunks = [jpeg[i : i + chunk_bytes] for i in range(0, len(jpeg), chunk_bytes)]
    if len(chunks) >= PHOTO_END_MARKER:
        raise ValueError(f"a {len(jpeg)}-byte JPEG needs more than {PHOTO_END_MARKER} chunks")
    frames = [index.to_bytes(2, "little") + chunk for index, chunk in enumerate(chunks)]
    frames.append(PHOTO_END_MARKER.to_bytes(2, "little"))
    return frames
