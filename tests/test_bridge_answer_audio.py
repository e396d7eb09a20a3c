"""Spoken answers to BLE glasses as Opus: the cloud encodes each sentence when the glasses' Hello
asks for it (or the bridge encodes PCM parts itself), the bridge cuts the packets into writes
the way the microphone's audio is cut, and what the glasses reassemble and decode is the
answer: Whisper reads it back, at a small fraction of the PCM's bytes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from cloud.speech.asr import WhisperTranscriber
from cloud.speech.speaker import PiperSpeaker
from cloud.speech.spoken_answer import (
    OPUS_RATE,
    SpokenAnswer,
    Voice,
    answer_codec_after,
    encode_opus,
)
from edge.audio.answer_codec import decode_answer_audio, decode_opus
from firmware_bridge.answer_audio_out import AnswerAudioOut, answer_packets
from firmware_bridge.audio_reassembly import AudioReassembler, CodecPacket
from firmware_bridge.errors import BridgeError
from firmware_bridge.omi_protocol import SPEAKER_DATA_UUID, max_notification_bytes
from protocol import AnswerAudio, Hello, Sequencer, decode, encode
from simulators.wer import word_error_rate

TEXT = "The store opens at nine in the morning and closes at six in the evening."
MTU = 247


class RecordingLink:
    """A glasses link that keeps every write (the speaker's side of the radio)."""

    mtu = MTU

    def __init__(self) -> None:
        self.writes: list[tuple[str, bytes, bool]] = []

    async def write(self, uuid: str, data: bytes, *, with_response: bool = True) -> None:
        self.writes.append((uuid, data, with_response))


def _reassembled(values: Sequence[bytes]) -> list[bytes]:
    reassembler = AudioReassembler(packet_bytes=None, counter_mode="per_notification")
    events = [e for i, v in enumerate(values) for e in reassembler.push(v, i * 0.01)]
    events += reassembler.flush()
    return [e.payload for e in events if isinstance(e, CodecPacket)]


@pytest.fixture(scope="module")
def voice() -> PiperSpeaker:
    return PiperSpeaker()


def test_the_glasses_hello_asks_for_opus_and_the_session_remembers() -> None:
    hello = Sequencer("s").make(Hello, user="u", device="omi", answer_codec="opus")
    assert decode(encode(hello)) == hello
    assert answer_codec_after("pcm", hello) == "opus"
    assert answer_codec_after("opus", Sequencer("s").make(AnswerAudio, turn_id=1, part=0,
                                                          pcm=b"", sample_rate=16_000)) == "opus"  # fmt: skip


async def test_an_opus_answer_reaches_the_glasses_packet_for_packet_and_reads_back(
    voice: PiperSpeaker, whisper: WhisperTranscriber
) -> None:
    cloud = Sequencer("s")
    sent: list[AnswerAudio] = []

    async def emit(part: int, data: bytes, rate: int, last: bool) -> None:
        message = cloud.make(
            AnswerAudio, turn_id=1, part=part, pcm=data, sample_rate=rate, last=last,
            codec=spoken.codec,
        )  # fmt: skip
        back = decode(encode(message))  # over the wire and back
        assert isinstance(back, AnswerAudio)
        sent.append(back)

    spoken = SpokenAnswer(Voice(voice), emit, codec="opus")
    spoken.add(TEXT)
    await asyncio.wait_for(spoken.finish(), 60)
    audio = [m for m in sent if m.pcm]
    assert audio and all(m.codec == "opus" and m.sample_rate == OPUS_RATE for m in audio)
    link = RecordingLink()
    out = AnswerAudioOut(link)  # type: ignore[arg-type]
    for message in sent:
        await out.play(message)
    assert {uuid for uuid, _, _ in link.writes} == {SPEAKER_DATA_UUID}
    assert not any(response for _, _, response in link.writes)  # real time: no round trips
    assert all(len(v) <= max_notification_bytes(MTU) for _, v, _ in link.writes)
    packets = _reassembled([v for _, v, _ in link.writes])
    assert packets == [p for m in audio for p in answer_packets(m)]  # passed through as sent
    heard = decode_opus(packets, 16_000)
    pcm_bytes = spoken.spoken_samples * 2
    assert out.bytes_written * 8 < pcm_bytes  # under an eighth of the PCM on the radio
    said = whisper.transcribe(heard, 16_000)
    errors, words = word_error_rate(TEXT, said)
    assert errors / words <= 0.15, said


def test_a_pcm_part_is_encoded_by_the_bridge_and_sounds_like_the_pcm(voice: PiperSpeaker) -> None:
    samples = voice.synthesize(TEXT)
    message = Sequencer("s").make(
        AnswerAudio, turn_id=2, part=0, pcm=samples.astype("<i2").tobytes(),
        sample_rate=voice.sample_rate,
    )  # fmt: skip
    out = AnswerAudioOut(RecordingLink())  # type: ignore[arg-type]
    values = out.values(message)
    heard = decode_opus(_reassembled(values), 16_000)
    original, rate = decode_answer_audio(message)
    assert rate == voice.sample_rate
    assert _spectral_similarity(heard, 16_000, original, rate) > 0.9
    out.stop(2)
    assert out.values(message) == []  # barge-in: nothing more of the turn


def test_a_broken_part_is_one_bridge_error() -> None:
    bad = Sequencer("s").make(
        AnswerAudio, turn_id=1, part=0, pcm=b"\x00\x09ab", sample_rate=24_000, codec="opus"
    )
    with pytest.raises(BridgeError, match="turn 1 part 0"):
        answer_packets(bad)


def test_the_cloud_encoder_packets_are_20_ms_at_24_khz(voice: PiperSpeaker) -> None:
    samples = voice.synthesize("Hello there.")
    packets = encode_opus(samples, voice.sample_rate)
    decoded = decode_opus(packets, OPUS_RATE)
    expected = len(samples) * OPUS_RATE / voice.sample_rate
    assert abs(len(decoded) - expected) <= 2 * OPUS_RATE // 50
    assert len(packets) == pytest.approx(len(samples) / voice.sample_rate * 50, abs=3)


def _spectral_similarity(
    a: npt.NDArray[np.int16], rate_a: int, b: npt.NDArray[np.int16], rate_b: int
) -> float:
    """Cosine similarity of the long-term magnitude spectra (up to 7 kHz, 50 Hz bins)."""

    def spectrum(x: npt.NDArray[np.int16], rate: int) -> npt.NDArray[np.float64]:
        magnitudes = np.abs(np.fft.rfft(x.astype(np.float64)))
        freqs = np.fft.rfftfreq(len(x), 1 / rate)
        edges = np.arange(0, 7000, 50)
        return np.array([magnitudes[(freqs >= lo) & (freqs < lo + 50)].mean() for lo in edges])

    sa, sb = spectrum(a, rate_a), spectrum(b, rate_b)
    return float(sa @ sb / (np.linalg.norm(sa) * np.linalg.norm(sb)))
