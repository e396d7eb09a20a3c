"""A capture of notifications decodes to a valid WAV and JPEGs, with honest counts."""

from __future__ import annotations

import json
import random
import wave
from pathlib import Path

import cv2
import numpy as np
import pytest

from firmware_bridge.capture import decode_capture
from firmware_bridge.codecs import CODECS, create_encoder
from firmware_bridge.framing import AudioFramer, frame_photo
from firmware_bridge.omi_protocol import (
    AUDIO_CODEC_UUID,
    AUDIO_DATA_UUID,
    PHOTO_DATA_UUID,
    CodecId,
)


@pytest.fixture(scope="module")
def speech(speech_0880: np.ndarray) -> np.ndarray:
    return speech_0880


@pytest.fixture(scope="module")
def photo(astronaut_jpeg: bytes) -> bytes:
    return astronaut_jpeg


def line(t: float, uuid: str, value: bytes) -> str:
    return json.dumps({"t": t, "uuid": uuid, "hex": value.hex()})


def capture_lines(
    speech: np.ndarray, photo: bytes, codec: CodecId, *, lose_every: int = 0, codec_line: bool
) -> tuple[list[str], int]:
    """What a sniffer would export from a session; returns the lines and packets sent."""
    packets = create_encoder(CODECS[codec]).encode(speech)
    framer = AudioFramer(mtu=64, start_counter=65000)
    audio = [n for p in packets for n in framer.frame(p)]
    lines = [line(0.0, AUDIO_CODEC_UUID.upper(), bytes([codec]))] if codec_line else []
    lines.append(line(0.01, "2A19", b"\x57"))
    for i, value in enumerate(audio):
        if lose_every and i % lose_every == lose_every - 1:
            continue
        lines.append(line(0.02 + i * 0.002, AUDIO_DATA_UUID, value))
        if i == 40:
            lines += [
                line(0.1 + k * 0.001, PHOTO_DATA_UUID, v) for k, v in enumerate(frame_photo(photo))
            ]
    return lines, len(packets)


def test_a_capture_becomes_a_16khz_wav_and_a_jpeg_that_decode(
    speech: np.ndarray, photo: bytes, tmp_path: Path
) -> None:
    lines, packets = capture_lines(speech, photo, CodecId.MULAW_16K, codec_line=True)
    report = decode_capture(lines, tmp_path)
    assert report.codec == "mulaw-16k" and report.codec_source == "capture"
    assert report.audio_path == tmp_path / "audio.wav"
    with wave.open(str(report.audio_path), "rb") as f:
        assert (f.getframerate(), f.getnchannels(), f.getsampwidth()) == (16_000, 1, 2)
        assert f.getnframes() == packets * 160
    assert report.photo_paths == [tmp_path / "photo-000.jpg"]
    image = cv2.imread(str(report.photo_paths[0]))
    assert image is not None and image.shape == (320, 320, 3)
    assert report.battery_percent == 0x57
    assert report.malformed_lines == 0 and report.audio.lost_packets == 0


def test_lost_packets_become_counted_silence_and_keep_the_wav_length(
    speech: np.ndarray, photo: bytes, tmp_path: Path
) -> None:
    lines, packets = capture_lines(speech, photo, CodecId.OPUS_16K, lose_every=37, codec_line=False)
    report = decode_capture(lines, tmp_path, codec=CodecId.OPUS_16K)
    assert report.codec_source == "argument"
    assert report.audio.lost_packets + report.audio.incomplete_packets > 0
    assert abs(report.audio_seconds * 100 - packets) <= 2


def test_malformed_lines_are_counted_and_skipped(
    speech: np.ndarray, photo: bytes, tmp_path: Path
) -> None:
    lines, _ = capture_lines(speech[:16000], photo, CodecId.PCM16_16K, codec_line=True)
    junk = [
        "not json",
        "[1, 2]",
        json.dumps({"t": 1.0, "uuid": AUDIO_DATA_UUID}),
        json.dumps({"t": "soon", "uuid": AUDIO_DATA_UUID, "hex": "00"}),
        json.dumps({"t": 1.0, "uuid": AUDIO_DATA_UUID, "hex": "zz"}),
        json.dumps({"t": True, "uuid": AUDIO_DATA_UUID, "hex": "00"}),
    ]
    mixed = list(lines)
    rng = random.Random(0)
    for bad in junk:
        mixed.insert(rng.randrange(len(mixed)), bad)
    mixed.insert(5, "")
    mixed.append(line(9.0, "0000feed-0000-1000-8000-00805f9b34fb", b"\x01"))
    report = decode_capture(mixed, tmp_path)
    assert report.malformed_lines == len(junk)
    assert report.unknown_notifications == 1
    assert report.lines == len(lines) + len(junk) + 1
    assert report.audio_seconds == pytest.approx(1.0)
    assert len(report.photo_paths) == 1


def test_without_a_codec_line_the_firmware_default_opus_is_assumed_and_said(
    speech: np.ndarray, photo: bytes, tmp_path: Path
) -> None:
    lines, _ = capture_lines(speech[:8000], photo, CodecId.OPUS_16K, codec_line=False)
    report = decode_capture(lines, tmp_path)
    assert (report.codec, report.codec_source) == ("opus-16k", "default")
    assert report.audio_undecodable == 0


def test_an_unknown_codec_in_the_capture_still_writes_the_photos(
    photo: bytes, tmp_path: Path
) -> None:
    lines = [line(0.0, AUDIO_CODEC_UUID, b"\x63"), line(0.1, AUDIO_DATA_UUID, b"\x00\x00\x00\x01")]
    lines += [line(0.2 + i * 0.001, PHOTO_DATA_UUID, v) for i, v in enumerate(frame_photo(photo))]
    report = decode_capture(lines, tmp_path / "out")
    assert report.audio_path is None
    assert report.problems and "99" in report.problems[0]
    assert len(report.photo_paths) == 1
    assert json.loads(json.dumps(report.as_dict()))["photo_paths"] == [
        str(tmp_path / "out" / "photo-000.jpg")
    ]


def test_a_cut_off_photo_in_a_capture_is_counted_and_the_next_is_written(
    photo: bytes, tmp_path: Path
) -> None:
    first = frame_photo(photo)[:5]
    second = frame_photo(photo[:-2] + b"\x00\xff\xd9")
    lines = [line(0.0 + i * 0.001, PHOTO_DATA_UUID, v) for i, v in enumerate(first)]
    lines += [line(10.0 + i * 0.001, PHOTO_DATA_UUID, v) for i, v in enumerate(second)]
    report = decode_capture(lines, tmp_path, codec=CodecId.PCM16_16K)
    assert report.photos.dropped == {"cut_off": 1}
    assert [p.name for p in report.photo_paths] == ["photo-000.jpg"]
    assert report.audio_path is None
