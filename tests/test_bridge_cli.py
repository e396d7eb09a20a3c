"""`companion bridge decode`, `companion glasses` and `companion bench bridge` as a user runs them."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import cv2
import numpy as np
import pytest

from companion.cli import main
from companion.glasses import DeviceSpec, parse_device
from firmware_bridge.omi_protocol import CodecId
from tests.test_bridge_capture import capture_lines


@pytest.fixture(scope="module")
def speech(speech_0880: np.ndarray) -> np.ndarray:
    return speech_0880


@pytest.fixture(scope="module")
def photo(astronaut_jpeg: bytes) -> bytes:
    return astronaut_jpeg


def test_decode_writes_the_wav_and_jpeg_and_names_each_bad_line(
    speech: np.ndarray, photo: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines, _ = capture_lines(speech[:16000], photo, CodecId.MULAW_16K, codec_line=True)
    lines.insert(3, "this is not json")
    lines.insert(10, json.dumps({"t": 1.0, "uuid": "19b10001", "hex": "xyz"}))
    capture = tmp_path / "capture.jsonl"
    capture.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert main(["bridge", "decode", "--capture", str(capture), "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    assert "line 4: not JSON; skipped" in captured.err
    assert "line 11: " in captured.err and "not hexadecimal" in captured.err
    report = json.loads(captured.out)
    assert report["malformed_lines"] == 2 and report["codec"] == "mulaw-16k"
    with wave.open(str(out / "audio.wav")) as wav:
        assert (wav.getframerate(), wav.getnframes()) == (16_000, 16_000)
    decoded = cv2.imdecode(np.frombuffer((out / "photo-000.jpg").read_bytes(), np.uint8), 1)
    assert decoded is not None and decoded.shape == (320, 320, 3)


def test_decode_with_the_codec_named_overrides_the_default(
    speech: np.ndarray, photo: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines, _ = capture_lines(speech[:8000], photo, CodecId.PCM16_16K, codec_line=False)
    capture = tmp_path / "capture.jsonl"
    capture.write_text("\n".join(lines))
    argv = ["bridge", "decode", "--capture", str(capture), "--out", str(tmp_path / "o")]
    assert main([*argv, "--codec", "pcm16-16k"]) == 0
    assert "pcm16-16k" in capsys.readouterr().out
    assert main([*argv, "--codec", "speex"]) == 2
    assert "not a codec id or name" in capsys.readouterr().err


def test_decode_of_a_capture_with_nothing_in_it_fails_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "capture.jsonl"
    capture.write_text("garbage\n{}\n")
    assert main(["bridge", "decode", "--capture", str(capture), "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "line 1: not JSON" in err and "no audio or photo could be decoded" in err
    assert main(["bridge", "decode", "--capture", str(tmp_path / "nope"), "--out", "x"]) == 2


def test_device_names_are_parsed_and_bad_ones_explained(tmp_path: Path) -> None:
    audio = tmp_path / "q.wav"
    audio.write_bytes(b"")
    assert parse_device("omi:AA:BB:CC:DD:EE:FF") == DeviceSpec("omi", address="AA:BB:CC:DD:EE:FF")
    spec = parse_device(f"virtual:,{audio}")
    assert spec.kind == "virtual" and spec.video is None and spec.audio == audio
    assert spec.name == "virtual:q.wav"
    for bad, why in [
        ("omi:", "address"),
        ("virtual:a.png", "<video>,<audio>"),
        ("virtual:,", "a video, an audio file or both"),
        (f"virtual:{tmp_path / 'none.png'},{audio}", "no such file"),
        ("webcam:0", "expected omi:"),
    ]:
        with pytest.raises(ValueError, match=why):
            parse_device(bad)


def test_glasses_with_a_bad_device_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["glasses", "--device", "pendant:1"]) == 2
    assert "expected omi:<address>" in capsys.readouterr().err
    assert main(["glasses", "--device", "omi:AA", "--photo-interval", "3"]) == 2


def test_bench_bridge_prints_decode_speed_and_single_shot_latency(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "bridge", "--json", "--audio-seconds", "2", "--photo-runs", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["audio_decode"]) == {"pcm16-16k", "mulaw-8k", "opus-16k"}
    assert result["photo_decode"]["photos_per_s_with_jpeg_decode"] > 0
    shot = result["single_shot"]
    assert shot["link_bytes_per_s"] == 24_000 and shot["runs"] == 1
    assert shot["seconds_p50"] > 0 and shot["ideal_seconds"] > 0
