"""Spoken answers to glasses that play audio: AnswerAudio as Opus packets over BLE.

A BLE link carries a few hundred kbit/s at best, shared with the microphone and
photos; 22 kHz PCM (353 kbit/s) does not fit, 20 ms Opus packets at 24 kbit/s
do. A part the cloud already sent as Opus (the glasses' Hello asked for
`answer_codec="opus"`) passes through packet for packet; a PCM part is
encoded here. Each packet is cut into writes the way the microphone's audio is
cut into notifications (`framing.AudioFramer`: counter, index, codec bytes),
so the glasses reassemble both directions with one piece of code.

`answer_values` is pure; `AnswerAudioOut` writes them to the speaker
characteristic without waiting for a response (the audio is real-time, a
lost write is a 20 ms gap, not a reason to stall).
"""

from __future__ import annotations

from edge.audio.answer_codec import AnswerAudioError, decode_answer_audio, encode_opus_packets
from firmware_bridge.errors import BridgeError
from firmware_bridge.framing import AudioFramer
from firmware_bridge.omi_protocol import SPEAKER_DATA_UUID
from firmware_bridge.transport import GlassesLink
from protocol import AnswerAudio, ProtocolError
from protocol.audio_packets import unpack_packets

# Glasses decode at their own rate; Opus packets play at any, so 16 kHz (the
# microphone's codec rate) is used for parts encoded here.
GLASSES_OPUS_RATE = 16_000


def answer_packets(audio: AnswerAudio) -> list[bytes]:
    """The part's 20 ms Opus packets: its own if it came as Opus, else encoded here."""
    try:
        if audio.codec == "opus":
            return unpack_packets(audio.pcm)
        samples, rate = decode_answer_audio(audio)
        if len(samples) == 0:
            return []
        return encode_opus_packets(samples, rate, opus_rate=GLASSES_OPUS_RATE)
    except (AnswerAudioError, ProtocolError) as exc:
        raise BridgeError(f"turn {audio.turn_id} part {audio.part}: {exc}") from exc


class AnswerAudioOut:
    """One glasses' speaker: every part of every answer, framed on one running counter."""

    def __init__(self, link: GlassesLink, *, mtu: int | None = None) -> None:
        self._link = link
        self._framer = AudioFramer(mtu=mtu or link.mtu or 23)
        self.packets = 0
        self.bytes_written = 0
        self._stopped: set[int] = set()

    def values(self, audio: AnswerAudio) -> list[bytes]:
        """The writes that carry `audio` (none for a stopped turn)."""
        if audio.turn_id in self._stopped:
            return []
        values: list[bytes] = []
        for packet in answer_packets(audio):
            values += self._framer.frame(packet)
            self.packets += 1
        return values

    def stop(self, turn_id: int) -> None:
        """Barge-in: nothing more of this turn goes to the glasses."""
        self._stopped.add(turn_id)

    async def play(self, audio: AnswerAudio) -> None:
        for value in self.values(audio):
            await self._link.write(SPEAKER_DATA_UUID, value, with_response=False)
            self.bytes_written += len(value)
