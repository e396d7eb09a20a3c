"""The Omi / OpenGlass BLE protocol: service and characteristic UUIDs, codec ids, frame layouts.

Sources, as the public BasedHardware/omi repository has them:

- `docs/.../Protocol.mdx` (Omi developer docs, "Protocol"): the audio service
  `19B10000-…`, the audio data characteristic `19B10001-…` with a 3-byte
  header (2-byte little-endian packet number, 1-byte index inside the codec
  packet), the codec characteristic `19B10002-…` and its ids 0/1/10/11/20.
- Omi firmware `transport.c`, `push_to_gatt()`: how a codec packet is split
  into notifications. `packet_next_index` is a `uint16_t` that advances on
  *every* notification (so it wraps after 65535), the index byte restarts at 0
  for each codec packet, and each notification carries at most
  `MTU - 3 (ATT header) - 3 (our header)` bytes of codec data.
  The doc's example reads as one packet number per codec packet; the
  reassembler accepts both (see `audio_reassembly.CounterMode`).
- Omi firmware `config.h` / `codec.c`: `CODEC_PACKAGE_SAMPLES 160` (10 ms at
  16 kHz) and, for Opus, 32 kbit/s, VBR, `OPUS_APPLICATION_RESTRICTED_LOWDELAY`.
- OpenGlass firmware (`firmware/firmware.ino`, now also in Omi's `omiGlass`):
  photo data `19B10005-…` sent as chunks each prefixed with a 2-byte
  little-endian frame index, followed by the end marker `FF FF`; photo control
  `19B10006-…` takes one signed byte: -1 one photo, 0 stop, 5.. an interval in
  seconds. The firmware reads an `int8_t`, so 127 s is the longest interval
  that survives the trip even though the docs mention up to 300.
- Omi DevKit 2 firmware `button.c`: a button service `23BA7924-…` whose
  characteristic `23BA7925-…` notifies tap events (1 single tap, 2 double tap,
  3 long tap, 4 press, 5 release). Written from our reading of that firmware;
  confirm the codes on hardware before relying on anything past 1–3.
- Bluetooth SIG Battery Service 0x180F, Battery Level 0x2A19 (uint8 percent);
  Protocol.mdx: notifications need Omi firmware 1.5 or later (read it too).

Checked again against the public sources (BasedHardware/omi
`docs/doc/developer/Protocol.mdx`, `omiGlass/firmware/src/app.cpp`, the Omi
app's BLE constants, and the OpenGlass firmware README "BLE Protocol" of
orviwan/OpenGlassesFirmware):
- Protocol.mdx: the packet number is "incremented for each value sent and
  looped over to 0 after 65535" while its worked example gives both values of
  one 320-byte PCM packet "packet number n" (index 0 then 1): the ambiguity
  `CounterMode` exists for. 160 samples a packet; values split at MTU - 3.
- Protocol.mdx codec ids: 0 PCM16 16 kHz, 1 PCM16 8 kHz, 10 µ-law 16 kHz,
  11 µ-law 8 kHz, 20 Opus 16 kHz; Opus is the default since firmware 1.0.3.
- The app's button states: 0 default, 1 single, 2 double, 3 long tap,
  4 press, 5 release, on `23ba7925-0000-1000-7450-346eac492e92`.
- OpenGlass README: photo chunks carry a 2-byte little-endian frame number,
  `0xFFFF` ends a photo; control -1 (0xFF) single photo, 0 stop, 5-127 s.
- omiGlass `handlePhotoControl(int8_t)` accepts `>= 5 && <= 300` on an int8
  (so 127 at most), and some versions then pick their own interval (30 s,
  60 s after camera failures, 120 s under 20 % battery) whatever was asked:
  the photo interval is a request, not a promise.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final, Literal

BLUETOOTH_BASE_UUID_SUFFIX: Final = "-0000-1000-8000-00805f9b34fb"

OMI_SERVICE_UUID: Final = "19b10000-e8f2-537e-4f6c-d104768a1214"
AUDIO_DATA_UUID: Final = "19b10001-e8f2-537e-4f6c-d104768a1214"
AUDIO_CODEC_UUID: Final = "19b10002-e8f2-537e-4f6c-d104768a1214"
PHOTO_DATA_UUID: Final = "19b10005-e8f2-537e-4f6c-d104768a1214"
PHOTO_CONTROL_UUID: Final = "19b10006-e8f2-537e-4f6c-d104768a1214"

BUTTON_SERVICE_UUID: Final = "23ba7924-0000-1000-7450-346eac492e92"
BUTTON_UUID: Final = "23ba7925-0000-1000-7450-346eac492e92"

# The speaker service of Omi devices with a speaker, as public Omi clients name it. Spoken
# answers are written to its data characteristic as 20 ms Opus packets (codec id 21),
# framed like the microphone's audio (counter, index, codec bytes); firmware that plays
# them is the glasses' side of the bargain.
SPEAKER_SERVICE_UUID: Final = "cab1ab95-2ea5-4f4d-bb56-874b72cfc984"
SPEAKER_DATA_UUID: Final = "cab1ab96-2ea5-4f4d-bb56-874b72cfc984"

BATTERY_SERVICE_UUID: Final = "0000180f" + BLUETOOTH_BASE_UUID_SUFFIX
BATTERY_LEVEL_UUID: Final = "00002a19" + BLUETOOTH_BASE_UUID_SUFFIX

ATT_HEADER_BYTES: Final = 3
"""A notification carries at most ATT_MTU - 3 bytes (opcode + attribute handle)."""
MIN_MTU: Final = 23
MAX_MTU: Final = 517

AUDIO_HEADER_BYTES: Final = 3
AUDIO_COUNTER_MODULO: Final = 1 << 16
CounterMode = Literal["per_notification", "per_packet"]
"""How the 2-byte audio counter advances: on every notification (`push_to_gatt`,
what shipping firmware does) or once per codec packet (the Protocol.mdx example)."""

PACKET_SAMPLES: Final = 160
"""Samples per codec packet at the codec's own rate (`CODEC_PACKAGE_SAMPLES`)."""

PHOTO_HEADER_BYTES: Final = 2
PHOTO_END_MARKER: Final = 0xFFFF
OPENGLASS_PHOTO_CHUNK_BYTES: Final = 200
"""OpenGlass copies at most 200 JPEG bytes into each photo notification."""

PHOTO_SINGLE_SHOT: Final = -1
PHOTO_STOP: Final = 0
PHOTO_MIN_INTERVAL_S: Final = 5
PHOTO_MAX_INTERVAL_S: Final = 127


class CodecId(IntEnum):
    """Values of the codec characteristic (Protocol.mdx; Omi app `BleAudioCodec`)."""

    PCM16_16K = 0
    PCM16_8K = 1
    MULAW_16K = 10
    MULAW_8K = 11
    OPUS_16K = 20
    OPUS_16K_20MS = 21
    """Newer Omi firmware: Opus with 320-sample (20 ms) frames (`opusFS320` in the app)."""


class ButtonEvent(IntEnum):
    """Tap events notified on `BUTTON_UUID` (Omi DevKit 2 firmware `button.c`)."""

    SINGLE_TAP = 1
    DOUBLE_TAP = 2
    LONG_TAP = 3
    PRESS = 4
    RELEASE = 5


def normalize_uuid(uuid: str) -> str:
    """Lower-case 128-bit form, so '2A19', '0x2a19' and the full UUID compare equal.

    Sniffers, bleak backends and firmware headers spell UUIDs differently.
    """
    text = uuid.strip().lower()
    if text.startswith("0x"):
        text = text[2:]
    if len(text) == 4:
        return f"0000{text}{BLUETOOTH_BASE_UUID_SUFFIX}"
    if len(text) == 8:
        return f"{text}{BLUETOOTH_BASE_UUID_SUFFIX}"
    return text


def max_notification_bytes(mtu: int) -> int:
    """The largest notification value a link with this ATT MTU can carry."""
    if not MIN_MTU <= mtu <= MAX_MTU:
        raise ValueError(f"ATT MTU {mtu} is outside {MIN_MTU}..{MAX_MTU}; BLE allows no other")
    return mtu - ATT_HEADER_BYTES


def photo_control_value(interval_s: int | None) -> bytes:
    """The byte to write to photo control: None = one photo now, 0 = stop, 5..127 = every N s."""
    if interval_s is None:
        value = PHOTO_SINGLE_SHOT
    elif interval_s == PHOTO_STOP or PHOTO_MIN_INTERVAL_S <= interval_s <= PHOTO_MAX_INTERVAL_S:
        value = interval_s
    else:
        raise ValueError(
            f"photo interval {interval_s} s is not 0 (stop) or {PHOTO_MIN_INTERVAL_S}.."
            f"{PHOTO_MAX_INTERVAL_S} s: the firmware reads one signed byte"
        )
    return value.to_bytes(1, "little", signed=True)


def parse_photo_control(value: bytes) -> int | None:
    """What a photo-control write asks for, as the firmware reads it (None when ignored).

    Returns -1 (one photo), 0 (stop) or an interval in seconds.
    """
    if len(value) != 1:
        return None
    command = int.from_bytes(value, "little", signed=True)
    if command in (PHOTO_SINGLE_SHOT, PHOTO_STOP) or command >= PHOTO_MIN_INTERVAL_S:
        return command
    return None
