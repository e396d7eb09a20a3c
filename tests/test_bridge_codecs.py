"""The Omi codecs decode real speech to 16 kHz with the quality each one promises."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_bridge.codecs import (
    CODECS,
    CodecSpec,
    create_decoder,
    create_encoder,
    mulaw_decode,
    mulaw_encode,
    parse_codec_value,
)
from firmware_bridge.errors import CodecError, UnknownCodecError
from firmware_bridge.omi_protocol import CodecId


@pytest.fixture(scope="module")
def speech(speech_0870: np.ndarray) -> np.ndarray:
    return speech_0870


def round_trip(spec: CodecSpec, samples: np.ndarray) -> tuple[list[bytes], np.ndarray]:
    encoder, decoder = create_encoder(spec), create_decoder(spec)
    packets = encoder.encode(samples) + encoder.flush()
    return packets, np.concatenate([decoder.decode(p) for p in packets])


def snr_db(reference: np.ndarray, decoded: np.ndarray) -> float:
    ref = reference.astype(np.float64)
    noise = ref - decoded.astype(np.float64)
    return float(10 * np.log10(np.sum(ref**2) / np.sum(noise**2)))


def aligned(reference: np.ndarray, decoded: np.ndarray, max_delay: int = 400) -> np.ndarray:
    """`decoded` shifted by the codec delay that best matches `reference`."""
    n = reference.size - max_delay
    probe = reference[16_000:48_000].astype(np.float64)  # two seconds of speech are plenty
    window = decoded.astype(np.float64)
    scores = [np.dot(probe, window[16_000 + d : 48_000 + d]) for d in range(max_delay)]
    delay = int(np.argmax(scores))
    return decoded[delay : delay + n]


def test_pcm16_is_little_endian_and_lossless(speech: np.ndarray) -> None:
    packets, decoded = round_trip(CODECS[CodecId.PCM16_16K], speech)
    assert all(len(p) == 320 for p in packets)
    assert packets[0] == speech[:160].astype("<i2").tobytes()
    assert np.array_equal(decoded, speech)


def test_mulaw_matches_g711_at_its_reference_points() -> None:
    codes = np.array([0xFF, 0x7F, 0x80, 0x00, 0xFE, 0x7E], dtype=np.uint8)
    assert mulaw_decode(codes).tolist() == [0, 0, 32124, -32124, 8, -8]
    assert mulaw_encode(np.array([0, -1, 32767, -32768], dtype=np.int16)).tolist() == [
        0xFF,
        0x7F,
        0x80,
        0x00,
    ]


def test_mulaw_decode_then_encode_returns_every_code_except_negative_zero() -> None:
    codes = np.arange(256, dtype=np.uint8)
    again = mulaw_encode(mulaw_decode(codes))
    assert np.array_equal(again[codes != 0x7F], codes[codes != 0x7F])


def test_mulaw_keeps_real_speech_above_30_db_snr(speech: np.ndarray) -> None:
    packets, decoded = round_trip(CODECS[CodecId.MULAW_16K], speech)
    assert all(len(p) == 160 for p in packets)
    assert snr_db(speech, decoded) > 30


@pytest.mark.parametrize("codec", [CodecId.PCM16_8K, CodecId.MULAW_8K])
def test_8khz_codecs_come_out_at_16khz_with_the_speech_band_intact(
    codec: CodecId, speech: np.ndarray
) -> None:
    spec = CODECS[codec]
    packets, decoded = round_trip(spec, speech)
    assert decoded.size == len(packets) * 320 == speech.size
    telephone_band = np.convolve(speech.astype(np.float64), np.ones(3) / 3, mode="same")
    shifted = aligned(telephone_band.astype(np.int16), decoded)
    assert np.corrcoef(telephone_band[: shifted.size], shifted)[0, 1] > 0.97


@pytest.mark.parametrize("codec", [CodecId.OPUS_16K, CodecId.OPUS_16K_20MS])
def test_opus_round_trip_of_real_speech_correlates_after_the_codec_delay(
    codec: CodecId, speech: np.ndarray
) -> None:
    spec = CODECS[codec]
    packets, decoded = round_trip(spec, speech)
    assert decoded.size == len(packets) * spec.output_samples_per_packet
    assert 20 < np.mean([len(p) for p in packets]) < 60 * spec.packet_samples / 160
    shifted = aligned(speech, decoded)
    assert np.corrcoef(speech[: shifted.size], shifted)[0, 1] > 0.95
    assert snr_db(speech[: shifted.size], shifted) > 10


def test_a_lost_packet_is_one_packet_of_silence_at_16khz_for_every_codec() -> None:
    for spec in CODECS.values():
        silence = create_decoder(spec).conceal(3)
        assert silence.size == 3 * spec.output_samples_per_packet
        assert not silence.any()


def test_a_garbled_opus_packet_raises_codec_error_and_the_decoder_carries_on() -> None:
    spec = CODECS[CodecId.OPUS_16K]
    encoder, decoder = create_encoder(spec), create_decoder(spec)
    packets = encoder.encode(np.zeros(1600, dtype=np.int16))
    with pytest.raises(CodecError):
        decoder.decode(b"")
    with pytest.raises(CodecError):
        decoder.decode(b"\xff\x00\x12")
    assert decoder.decode(packets[0]).size == 160


def test_a_pcm_packet_of_the_wrong_size_raises_codec_error() -> None:
    with pytest.raises(CodecError, match="319 bytes"):
        create_decoder(CODECS[CodecId.PCM16_16K]).decode(bytes(319))


def test_an_unknown_codec_id_says_which_ones_are_known() -> None:
    with pytest.raises(UnknownCodecError, match=r"codec id 7,.*20 \(opus-16k\)"):
        parse_codec_value(b"\x07")
    assert parse_codec_value(b"\x14\x00\x00\x00").codec_id is CodecId.OPUS_16K
