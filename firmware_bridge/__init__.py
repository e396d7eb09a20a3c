"""Glasses hardware protocols and transports: Omi / OpenGlass over BLE, real or simulated.

Three lines to hear and see through a pair of glasses::

    async with GlassesSource(BleakLink("AA:BB:CC:DD:EE:FF")) as glasses:
        async for item in glasses:  # AudioChunk / VideoFrame, like any edge source
            ...

Swap `BleakLink` for a `LoopbackLink` served by `simulators.VirtualGlasses`
to do the same without hardware.
"""

from firmware_bridge.audio_decoding import AudioStreamDecoder, DecodedAudio
from firmware_bridge.audio_reassembly import AudioReassembler
from firmware_bridge.bleak_link import BleakLink, find_glasses
from firmware_bridge.capture import CaptureReport, decode_capture
from firmware_bridge.errors import BridgeError, CodecError, LinkError, UnknownCodecError
from firmware_bridge.loopback import LinkConditions, LoopbackLink
from firmware_bridge.omi_protocol import ButtonEvent, CodecId
from firmware_bridge.photo_reassembly import PhotoReassembler
from firmware_bridge.source import GlassesSource, GlassesState
from firmware_bridge.transport import GlassesLink, Notification

__all__ = [
    "AudioReassembler",
    "AudioStreamDecoder",
    "BleakLink",
    "BridgeError",
    "ButtonEvent",
    "CaptureReport",
    "CodecError",
    "CodecId",
    "DecodedAudio",
    "GlassesLink",
    "GlassesSource",
    "GlassesState",
    "LinkConditions",
    "LinkError",
    "LoopbackLink",
    "Notification",
    "PhotoReassembler",
    "UnknownCodecError",
    "decode_capture",
    "find_glasses",
]
