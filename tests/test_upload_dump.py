"""`companion replay --dump-uploads`: every frame that left the device is written as sent,
and on the walking clip no face is detectable in any of them."""

from __future__ import annotations

import wave
from pathlib import Path

import cv2
import numpy as np
import pytest

from cloud.conversation import Models
from edge.config import EdgeConfig
from edge.models import EdgeModels
from simulators.media import read_audio
from simulators.stack_replay import UploadDump, run_replay
from tests.fakes import FakeReasoner, FakeTranscriber
from tests.test_vision_faces import haar_faces, in_head_band

pytestmark = pytest.mark.models


class LookingReasoner(FakeReasoner):
    """A stand-in for a model that looks at images: only then does a keyframe leave."""

    images = True


def three_questions(recordings: Path, path: Path) -> Path:
    """Three real utterances with 1.5 s pauses: three turns, three keyframes."""
    pause = np.zeros(24_000, np.int16)
    parts = []
    for name in ("librivox-0870.wav", "librivox-0880.wav", "librivox-0890.wav"):
        parts += [read_audio(recordings / "speech" / name), pause]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(np.concatenate(parts).astype("<i2").tobytes())
    return path


async def test_every_uploaded_frame_is_dumped_and_shows_no_face(
    recordings: Path, tmp_path: Path
) -> None:
    from edge.vision.faces import MediaPipeFaceDetector

    events: list[str] = []
    dump = UploadDump.into(tmp_path / "uploads", lambda kind, message, turn: events.append(kind))
    edge_models = EdgeModels()

    summary = await run_replay(
        video=recordings / "video" / "face-demographics-walking.gif",
        audio=three_questions(recordings, tmp_path / "questions.wav"),
        edge_config=EdgeConfig(device="test"),
        edge_models=edge_models,
        models=Models(transcriber=FakeTranscriber(), reasoner=LookingReasoner()),
        on_event=dump,
    )

    assert not summary.errors, summary.errors
    assert summary.stats.keyframes_sent == len(dump.written) >= 3
    assert summary.stats.faces_hidden >= 3
    assert events.count("keyframe") == len(dump.written)  # events still reach the printer
    checker = MediaPipeFaceDetector(min_score=0.5)
    try:
        for path in dump.written:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            assert image is not None, f"{path} is not a JPEG"
            assert [b for b in checker.detect(image) if in_head_band(b)] == [], path
            assert [b for b in haar_faces(image) if in_head_band(b)] == [], path
    finally:
        checker.close()


def test_dump_folder_that_cannot_be_made_is_a_usage_error(tmp_path: Path) -> None:
    from simulators.errors import SimulatorError

    blocker = tmp_path / "file"
    blocker.write_text("x")

    with pytest.raises(SimulatorError, match="--dump-uploads"):
        UploadDump.into(blocker / "sub", lambda kind, message, turn: None)
