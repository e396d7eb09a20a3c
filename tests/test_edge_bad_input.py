"""Bad input from a source costs that item only: corrupt frames and odd audio layouts,
and a camera that disappears mid-session. The session goes on and the privacy stage
still fails closed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import numpy as np
import numpy.typing as npt
import pytest

from edge.errors import MediaError
from edge.sources import camera
from edge.sources.camera import CameraSource
from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk, MediaItem, VideoFrame
from edge.sources.media_checks import checked_audio, checked_frame
from edge.sources.merging import merge_sources
from edge.vision.faces import FaceStageError, MediaPipeFaceDetector, redact_faces
from protocol import Keyframe, SpeechSegment
from tests.test_edge_privacy import BoxDetector, noisy_frame, runtime_with

CORRUPT_FRAMES = {
    "empty": np.zeros((0, 0, 3), np.uint8),
    "flat buffer": np.zeros(640 * 3, np.uint8),
    "float pixels": np.zeros((240, 320, 3), np.float64),
    "truncated decode": np.zeros((2, 320, 3), np.uint8),
    "five channels": np.zeros((240, 320, 5), np.uint8),
    "not an array": b"\xff\xd8\xff\xe0 truncated jpeg",
}


def speech(t0: float = 0.1) -> list[AudioChunk]:
    """1 s loud, 1 s quiet: one utterance for the loudness VAD."""
    samples = np.zeros(2 * SAMPLE_RATE, dtype=np.int16)
    samples[:SAMPLE_RATE] = 8000
    return [
        AudioChunk(t0 + offset / SAMPLE_RATE, samples[offset : offset + CHUNK_SAMPLES])
        for offset in range(0, len(samples), CHUNK_SAMPLES)
    ]


async def items(*these: MediaItem) -> AsyncIterator[MediaItem]:
    for item in these:
        yield item


@pytest.mark.parametrize("name", list(CORRUPT_FRAMES))
def test_a_corrupt_frame_is_refused_with_what_is_wrong(name: str) -> None:
    with pytest.raises(MediaError, match=r"frame|picture"):
        checked_frame(CORRUPT_FRAMES[name])


@pytest.mark.parametrize("name", list(CORRUPT_FRAMES))
async def test_a_corrupt_frame_is_dropped_and_the_turn_still_gets_the_good_one(name: str) -> None:
    runtime, sent, _ = runtime_with(BoxDetector([]), live_notes=True)
    bad = VideoFrame(0.05, CORRUPT_FRAMES[name])  # type: ignore[arg-type]

    await runtime.run(items(VideoFrame(0.0, noisy_frame()), bad, *speech()))

    assert runtime.stats.frames_rejected == 1
    assert runtime.stats.frames_seen == 1
    assert runtime.stats.last_rejection
    assert [type(m) for m in sent].count(SpeechSegment) == 1
    [keyframe] = [m for m in sent if isinstance(m, Keyframe)]
    assert (keyframe.width, keyframe.height) == (320, 240)


@pytest.mark.parametrize(
    ("layout", "image"),
    [
        ("grey", np.full((240, 320), 90, np.uint8)),
        ("BGRA", np.full((240, 320, 4), 90, np.uint8)),
    ],
)
def test_grey_and_bgra_frames_become_bgr(layout: str, image: npt.NDArray[np.uint8]) -> None:
    frame = checked_frame(image)
    assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
    assert int(frame[0, 0, 0]) == 90


@pytest.mark.models
def test_the_real_face_stage_fails_closed_on_a_frame_it_cannot_read() -> None:
    detector = MediaPipeFaceDetector()
    try:
        for image in (np.zeros((0, 0, 3), np.uint8), np.zeros((240, 320, 4), np.uint8)):
            with pytest.raises(FaceStageError):
                redact_faces(image, detector)
        blank = np.full((240, 320, 3), 128, np.uint8)
        redacted, hidden = redact_faces(blank, detector)  # and it still works after
        assert np.array_equal(redacted, blank) and hidden == 0
    finally:
        detector.close()


def test_stereo_and_float_audio_become_mono_int16() -> None:
    stereo = np.stack([np.full(512, 1000, np.int16), np.full(512, 3000, np.int16)], axis=1)
    assert np.array_equal(checked_audio(stereo), np.full(512, 2000, np.int16))
    floats = np.full(512, 0.5, np.float32)
    assert np.array_equal(checked_audio(floats), np.full(512, 16384, np.int16))
    mono = np.arange(512, dtype=np.int16)
    assert checked_audio(mono) is mono  # the usual case costs nothing


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros(512, np.int32),
        np.zeros((512, 2, 2), np.int16),
        np.zeros((2, 512), np.int16),
        np.array([np.nan] * 512, np.float32),
    ],
    ids=["int32", "3-d", "channels-first", "nan"],
)
async def test_unusable_audio_is_dropped_and_the_utterance_is_still_heard(
    bad: np.ndarray,
) -> None:
    with pytest.raises(MediaError, match="audio"):
        checked_audio(bad)
    runtime, sent, _ = runtime_with(BoxDetector([]))

    await runtime.run(items(AudioChunk(0.0, bad), *speech()))

    assert runtime.stats.audio_rejected == 1
    assert [type(m) for m in sent].count(SpeechSegment) == 1


async def test_stereo_audio_in_the_session_is_heard_as_mono() -> None:
    runtime, sent, _ = runtime_with(BoxDetector([]), speech_codec="pcm")
    stereo = [
        AudioChunk(c.t, np.stack([c.samples, c.samples], axis=1))  # type: ignore[arg-type]
        for c in speech()
    ]

    await runtime.run(items(*stereo))

    [segment] = [m for m in sent if isinstance(m, SpeechSegment)]
    heard = np.frombuffer(segment.pcm, np.int16)
    assert int((heard == 8000).sum()) == SAMPLE_RATE


class VanishingCapture:
    """A live camera that delivers `frames` frames and then nothing, ever again."""

    def __init__(self, frames: int) -> None:
        self.left = frames
        self.released = False
        self.gone = threading.Event()

    def isOpened(self) -> bool:
        return True

    def read(self) -> tuple[bool, npt.NDArray[np.uint8] | None]:
        if self.left > 0:
            self.left -= 1
            return True, noisy_frame()
        self.gone.set()
        return False, None

    def release(self) -> None:
        self.released = True


async def test_a_camera_that_disappears_ends_its_stream_with_a_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    capture = VanishingCapture(frames=5)
    monkeypatch.setattr(camera, "_quietly_open", lambda device: capture)
    source = CameraSource(0)

    frames = [frame async for frame in source]

    assert len(frames) == 5 and source.frames_read == 5
    assert source.error == "camera 0 stopped delivering frames"
    assert capture.released


async def test_the_wearer_is_still_heard_after_the_camera_disappears(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    capture = VanishingCapture(frames=3)
    monkeypatch.setattr(camera, "_quietly_open", lambda device: capture)
    source = CameraSource(0, start=0.0, clock=lambda: 0.0)
    runtime, sent, _ = runtime_with(BoxDetector([]))

    async def microphone() -> AsyncIterator[MediaItem]:
        await asyncio.to_thread(capture.gone.wait, 10)  # the wearer speaks once it has gone
        for chunk in speech():
            yield chunk

    await runtime.run(merge_sources(source, microphone()))

    assert source.error is not None
    assert runtime.stats.frames_seen == 3
    assert [type(m) for m in sent].count(SpeechSegment) == 1
    assert [type(m) for m in sent].count(Keyframe) == 1  # a frame from before it went
