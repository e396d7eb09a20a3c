"""Recordings through the real stack: edge models → WebRTC on loopback → gateway → cloud
(Whisper, Qwen) and back. Assertions are on what the wearer would read."""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from cloud.conversation import Models
from deploy.local_stack import Stack, local_stack
from edge.config import EdgeConfig
from edge.models import EdgeModels
from edge.session import SessionSummary
from simulators.stack_replay import run_replay

pytestmark = pytest.mark.models

DEMO = Path(__file__).resolve().parents[1] / "simulators" / "demo"


@pytest.fixture(scope="session")
def edge_models() -> EdgeModels:
    return EdgeModels()


@pytest.fixture(scope="session")
async def stack(whisper, qwen) -> AsyncIterator[Stack]:  # type: ignore[no-untyped-def]
    async with local_stack(Models(transcriber=whisper, reasoner=qwen)) as running:
        yield running


async def _ask(
    stack: Stack, edge_models: EdgeModels, video: Path | None, audio: Path, **config: str
) -> SessionSummary:
    return await run_replay(
        video=video,
        audio=audio,
        gateway_url=stack.gateway_url,
        edge_models=edge_models,
        edge_config=EdgeConfig(device="test", **config),
    )


def _only_answer(summary: SessionSummary) -> str:
    assert not summary.errors, summary.errors
    answered = [t for t in summary.turns if t.done is not None]
    assert len(answered) == 1, [(t.transcript, t.answer, t.errors) for t in summary.turns]
    return answered[0].answer.lower()


def make_sign_photo(path: Path, background: Path) -> None:
    """A station sign never seen by the code: text on a board, in perspective, on a real
    photo, slightly blurred and noisy, as a camera would catch it."""
    scene = cv2.resize(cv2.imread(str(background)), (640, 480))
    board = np.full((220, 520, 3), (120, 60, 20), np.uint8)
    cv2.putText(board, "PLATFORM 9", (30, 95), cv2.FONT_HERSHEY_DUPLEX, 2.2, (255, 255, 255), 4)
    cv2.putText(
        board, "Trains to Brighton", (30, 170), cv2.FONT_HERSHEY_DUPLEX, 1.3, (255, 255, 255), 2
    )
    src = np.float32([[0, 0], [520, 0], [520, 220], [0, 220]])
    dst = np.float32([[70, 110], [560, 140], [555, 330], [80, 350]])
    warp = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(board, warp, (640, 480))
    mask = cv2.warpPerspective(np.full((220, 520), 255, np.uint8), warp, (640, 480)) > 0
    scene[mask] = warped[mask]
    scene = cv2.GaussianBlur(scene, (3, 3), 0.8)
    noise = np.random.default_rng(7).normal(0, 4, scene.shape)
    cv2.imwrite(str(path), np.clip(scene + noise, 0, 255).astype(np.uint8))


async def test_demo_recording_answer_uses_words_on_the_page(stack, edge_models) -> None:  # type: ignore[no-untyped-def]
    summary = await _ask(stack, edge_models, DEMO / "page.png", DEMO / "question-page.wav")
    answer = _only_answer(summary)
    assert "page" in (summary.turns[0].transcript or "").lower()
    page_words = {"region", "segmentation", "markers", "coins", "background", "pixels", "histogram"}
    assert any(word in answer for word in page_words), answer
    stages = {s.name for s in summary.turns[0].stages()}
    assert {
        "end_of_speech",
        "segment_received",
        "transcript",
        "first_token",
        "last_token",
    } <= stages


async def test_unseen_photo_of_a_sign_is_read_back(
    stack, edge_models, recordings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    sign = tmp_path / "sign.jpg"
    make_sign_photo(sign, recordings / "images" / "astronaut.png")
    summary = await _ask(stack, edge_models, sign, DEMO / "question-sign.wav")
    answer = _only_answer(summary)
    assert "9" in answer or "nine" in answer or "brighton" in answer, answer


async def test_looking_at_a_cat_names_it(stack, edge_models, recordings) -> None:  # type: ignore[no-untyped-def]
    summary = await _ask(
        stack, edge_models, recordings / "images" / "chelsea.png", DEMO / "question-look.wav"
    )
    assert "cat" in _only_answer(summary)


async def test_looking_at_a_video_of_bottles_names_them(stack, edge_models, recordings) -> None:  # type: ignore[no-untyped-def]
    summary = await _ask(
        stack,
        edge_models,
        recordings / "video" / "bottle-detection.mp4",
        DEMO / "question-look.wav",
    )
    assert "bottle" in _only_answer(summary)


async def test_audio_at_another_rate_and_in_stereo_is_resampled(
    stack, edge_models, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    with wave.open(str(DEMO / "question-page.wav")) as source:
        mono = np.frombuffer(source.readframes(source.getnframes()), np.int16)
    at_44k = np.interp(np.arange(0, len(mono), 16_000 / 44_100), np.arange(len(mono)), mono)
    stereo = np.repeat(at_44k.astype(np.int16)[:, None], 2, axis=1)
    path = tmp_path / "question-44k-stereo.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44_100)
        out.writeframes(stereo.tobytes())
    summary = await _ask(stack, edge_models, DEMO / "page.png", path)
    assert "page" in (summary.turns[0].transcript or "").lower()
    _only_answer(summary)


async def test_silence_only_gets_no_answer(stack, edge_models, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "silence.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(bytes(16_000 * 2 * 3))
    summary = await _ask(stack, edge_models, DEMO / "page.png", path)
    assert summary.turns == []
    assert summary.stats.segments == 0


async def test_camera_off_sends_no_frame_and_still_answers(stack, edge_models) -> None:  # type: ignore[no-untyped-def]
    summary = await _ask(
        stack, edge_models, DEMO / "page.png", DEMO / "question-page.wav", privacy="no-camera"
    )
    assert summary.stats.keyframes_sent == 0
    assert summary.turns[0].observation is None
    _only_answer(summary)
