"""The `companion` command as a user runs it: real processes, one-line errors, exit codes.

The stack the commands talk to runs in this test's event loop with stand-in
models, so these tests are about the command, not the models (tests/
test_end_to_end.py covers those, and `companion demo` is run for real below).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cloud.conversation import Models
from deploy.local_stack import Stack, local_stack
from tests.fakes import FakeReasoner, FakeTranscriber

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "simulators" / "demo"


async def _companion(*args: str, limit_s: float = 240.0) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "companion",
        *args,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), limit_s)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _assert_one_clean_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("companion: ")
    return lines[0]


@pytest.fixture(scope="module")
async def fake_stack() -> AsyncIterator[Stack]:
    models = Models(transcriber=FakeTranscriber("what does this page say"), reasoner=FakeReasoner())
    async with local_stack(models) as stack:
        yield stack


async def test_missing_media_is_one_line_and_exit_2(tmp_path: Path) -> None:
    code, _, err = await _companion(
        "replay", "--video", str(tmp_path / "nope.png"), "--audio", str(DEMO / "question-page.wav")
    )
    assert code == 2
    assert "nope.png" in _assert_one_clean_line(err)


async def test_corrupt_audio_fails_before_any_model_loads(tmp_path: Path) -> None:
    corrupt = tmp_path / "question.wav"
    corrupt.write_bytes(b"RIFF\x00\x00garbage that is not a wave file")
    code, _, err = await _companion(
        "replay", "--video", str(DEMO / "page.png"), "--audio", str(corrupt)
    )
    assert code == 2
    line = _assert_one_clean_line(err)
    assert "question.wav" in line and "cannot read audio" in line


async def test_unreachable_gateway_is_one_line_and_exit_1() -> None:
    code, _, err = await _companion(
        "replay",
        "--video",
        str(DEMO / "page.png"),
        "--audio",
        str(DEMO / "question-page.wav"),
        "--gateway",
        "http://127.0.0.1:9",
    )
    assert code == 1
    assert "unreachable" in _assert_one_clean_line(err)


async def test_replay_json_prints_transcript_observation_answer_and_summary(
    fake_stack: Stack,
) -> None:
    code, out, err = await _companion(
        "replay",
        "--video",
        str(DEMO / "page.png"),
        "--audio",
        str(DEMO / "question-page.wav"),
        "--gateway",
        fake_stack.gateway_url,
        "--json",
    )
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    kinds = [record["type"] for record in records]
    assert kinds[-1] == "summary"
    assert {"transcript", "observation", "answer"} <= set(kinds)
    transcript = next(r for r in records if r["type"] == "transcript")
    assert "page" in transcript["text"]
    answer = next(r for r in records if r["type"] == "answer")
    assert answer["text"].startswith("You asked:")  # the stand-in reasoner's echo
    assert answer["total_ms"] > 0 and "latency_ms" in answer
    observation = next(r for r in records if r["type"] == "observation")
    assert any("segmentation" in line.lower() for line in observation["ocr"])
    # The stand-in reasoner looks at no images, so the keyframe stays on the device;
    # what the camera read still went up in the observation.
    assert records[-1]["bytes_upstream"] > 0
    assert records[-1]["keyframe_bytes"] == 0


async def test_silence_only_says_no_speech_heard_and_exits_3(
    fake_stack: Stack, tmp_path: Path
) -> None:
    silence = tmp_path / "silence.wav"
    with wave.open(str(silence), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(bytes(16_000 * 2 * 2))
    code, out_text, err = await _companion(
        "replay",
        "--video",
        str(DEMO / "page.png"),
        "--audio",
        str(silence),
        "--gateway",
        fake_stack.gateway_url,
    )
    assert code == 3, err
    assert "No speech heard" in out_text
    assert "Traceback" not in err


@pytest.mark.models
async def test_demo_answers_with_words_from_the_page() -> None:
    code, out, err = await _companion("demo", limit_s=600.0)
    assert code == 0, err
    assert "Heard:" in out and "page" in out.lower()
    answer = next(line for line in out.splitlines() if line.startswith("Answer:"))
    page_words = ("region", "segmentation", "markers", "coins", "background", "pixels")
    assert any(word in answer.lower() for word in page_words), out
    assert "Latency:" in out


async def test_edge_with_virtual_glasses_answers_through_a_running_gateway(
    fake_stack: Stack,
) -> None:
    device = f"virtual:{DEMO / 'page.png'},{DEMO / 'question-page.wav'}"
    code, out, err = await _companion(
        "edge", "--device", device, "--gateway", fake_stack.gateway_url, "--json"
    )
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    kinds = {record["type"] for record in records}
    assert {"transcript", "answer", "summary"} <= kinds, kinds
    assert "Traceback" not in err


async def test_edge_without_gateway_or_glasses_is_a_usage_error() -> None:
    code, _, err = await _companion("edge", "--camera", "none", "--mic", "default")
    assert code == 2
    assert "--gateway" in _assert_one_clean_line(err)
