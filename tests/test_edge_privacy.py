"""What leaves the device: blurred keyframes only, nothing when the face stage fails,
and the privacy mode switched at run time by a Control message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from edge.audio.listener import Listener
from edge.config import EdgeConfig
from edge.runtime import EdgeRuntime
from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk, MediaItem, VideoFrame
from edge.vision.analysis import KeyframeAnalyser
from edge.vision.boxes import Box
from protocol import (
    AnswerDone,
    Control,
    Keyframe,
    Message,
    Observation,
    Query,
    Sequencer,
    SpeechSegment,
)
from protocol.messages import Label, OcrLine


class LoudnessVad:
    """Speech is anything loud: lets a test script utterances exactly."""

    def probability(self, chunk: np.ndarray) -> float:
        return 0.9 if np.abs(chunk).max() > 0.1 else 0.0  # chunks arrive scaled to -1..1

    def reset(self) -> None:
        pass


class FakeOcr:
    def read(self, image):
        return [OcrLine(text="PLATFORM 9", score=0.97)]


class FakeClassifier:
    def classify(self, image, k=5):
        return [Label(name="street sign", score=0.6)]


class BoxDetector:
    def __init__(self, boxes: list[Box]) -> None:
        self.boxes = boxes
        self.calls = 0

    def detect(self, image: npt.NDArray[np.uint8]) -> list[Box]:
        self.calls += 1
        return self.boxes


class RaisingDetector:
    def detect(self, image: npt.NDArray[np.uint8]) -> list[Box]:
        raise RuntimeError("face model crashed")


def noisy_frame() -> npt.NDArray[np.uint8]:
    return np.random.default_rng(3).integers(0, 256, (240, 320, 3), dtype=np.uint8)


async def one_utterance(frame: npt.NDArray[np.uint8]) -> AsyncIterator[MediaItem]:
    """A frame, then 1 s of loud audio and 1 s of silence: one utterance."""
    yield VideoFrame(0.0, frame)
    samples = np.zeros(2 * SAMPLE_RATE, dtype=np.int16)
    samples[:SAMPLE_RATE] = 8000
    for offset in range(0, len(samples), CHUNK_SAMPLES):
        yield AudioChunk(offset / SAMPLE_RATE, samples[offset : offset + CHUNK_SAMPLES])


def runtime_with(
    faces, privacy: str = "standard", **config: object
) -> tuple[EdgeRuntime, list[Message], list[Message]]:
    sent: list[Message] = []
    delivered: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def deliver(message: Message) -> None:
        delivered.append(message)

    analyser = KeyframeAnalyser(FakeOcr(), FakeClassifier(), faces=faces)
    runtime = EdgeRuntime(
        Listener(LoudnessVad()),
        analyser,
        Sequencer("s1"),
        send,
        config=EdgeConfig(privacy=privacy, **config),  # type: ignore[arg-type]
        deliver=deliver,
    )
    return runtime, sent, delivered


def kinds(messages: list[Message]) -> list[type]:
    return [type(m) for m in messages]


async def test_keyframe_leaves_with_every_face_box_filled() -> None:
    frame = noisy_frame()
    detector = BoxDetector([Box(100, 80, 140, 120, 0.9, "face")])
    runtime, sent, _ = runtime_with(detector)

    await runtime.run(one_utterance(frame))

    [keyframe] = [m for m in sent if isinstance(m, Keyframe)]
    image = cv2.imdecode(np.frombuffer(keyframe.jpeg, np.uint8), cv2.IMREAD_COLOR)
    face = image[84:116, 104:136].astype(int)
    assert face.std(axis=(0, 1)).max() < 4  # flat colour (JPEG ringing aside)
    assert image[:, :60].astype(int).std() > 40  # the rest is the frame as it was
    assert detector.calls == 1
    assert runtime.stats.faces_hidden == 1


async def test_face_never_leaves_device_when_detector_fails() -> None:
    runtime, sent, _ = runtime_with(RaisingDetector())

    await runtime.run(one_utterance(noisy_frame()))

    assert Keyframe not in kinds(sent)
    [observation] = [m for m in sent if isinstance(m, Observation)]
    assert any(e.startswith("faces:") and "face model crashed" in e for e in observation.errors)
    assert "the frame was not sent" in observation.errors[-1]
    assert observation.ocr[0].text == "PLATFORM 9"  # the other stages still ran
    assert runtime.stats.keyframes_withheld == 1
    assert runtime.stats.keyframes_sent == 0


async def test_no_frame_leaves_without_a_face_detector() -> None:
    runtime, sent, _ = runtime_with(None)

    await runtime.run(one_utterance(noisy_frame()))

    assert Keyframe not in kinds(sent)
    assert SpeechSegment in kinds(sent)


async def test_control_switches_to_no_camera_and_no_frame_or_observation_leaves() -> None:
    runtime, sent, _ = runtime_with(BoxDetector([]))

    runtime.control(Sequencer("gw").make(Control, action="privacy", value="no-camera"))
    await runtime.run(one_utterance(noisy_frame()))

    assert runtime.config.privacy == "no-camera"
    assert kinds(sent) and set(kinds(sent)) == {SpeechSegment}
    assert all(not m.visual for m in sent if isinstance(m, SpeechSegment))


async def test_local_only_sends_nothing_and_answers_from_what_the_edge_sees() -> None:
    runtime, sent, delivered = runtime_with(BoxDetector([]))

    runtime.control(Sequencer("gw").make(Control, action="privacy", value="local-only"))
    await runtime.run(one_utterance(noisy_frame()))
    await runtime.ask("what does the sign say?")

    assert sent == []
    assert [type(m) for m in delivered] == [AnswerDone, AnswerDone]
    assert all(isinstance(m, AnswerDone) for m in delivered)
    answer = delivered[0]
    assert isinstance(answer, AnswerDone)
    assert answer.text.startswith("I can see text: PLATFORM 9.")
    assert "street sign" in answer.text
    assert answer.mode == "local"


async def test_switching_back_to_standard_resumes_uploads() -> None:
    runtime, sent, _ = runtime_with(BoxDetector([]), privacy="local-only")
    out = Sequencer("gw")

    runtime.control(out.make(Control, action="privacy", value="standard"))
    await runtime.ask("what is this?")

    assert kinds(sent) == [Query]  # no frame seen yet: a text-only question
    await runtime.run(one_utterance(noisy_frame()))
    assert Keyframe in kinds(sent)


async def test_unknown_privacy_values_are_ignored() -> None:
    runtime, _, _ = runtime_with(BoxDetector([]))

    runtime.control(Sequencer("gw").make(Control, action="privacy", value="everything"))

    assert runtime.config.privacy == "standard"


@pytest.mark.models
async def test_real_face_stage_hides_the_astronaut_before_upload(recordings: Path) -> None:
    from edge.vision.faces import MediaPipeFaceDetector

    image = cv2.imread(str(recordings / "images" / "astronaut.png"), cv2.IMREAD_COLOR)
    detector = MediaPipeFaceDetector()
    runtime, sent, _ = runtime_with(detector)

    await runtime.run(one_utterance(image.astype(np.uint8)))

    [keyframe] = [m for m in sent if isinstance(m, Keyframe)]
    uploaded = cv2.imdecode(np.frombuffer(keyframe.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert detector.detect(image) != []
    assert detector.detect(uploaded.astype(np.uint8)) == []
    detector.close()


async def frames_of(images: list[npt.NDArray[np.uint8]], fps: float) -> AsyncIterator[MediaItem]:
    for index, image in enumerate(images):
        yield VideoFrame(index / fps, image)


def spliced_clips(recordings: Path) -> list[npt.NDArray[np.uint8]]:
    """realshort (36 frames), then the bottle line, then realshort again: 2 cuts."""
    from tests.test_vision_scene import read_frames

    room = read_frames(recordings / "video" / "realshort.mp4")
    bottles = read_frames(recordings / "video" / "bottle-detection.mp4", step=10)[:60]
    return room + bottles + room


async def test_live_mode_sends_a_scene_note_per_scene_change(recordings: Path) -> None:
    runtime, sent, _ = runtime_with(BoxDetector([]), live_notes=True, live_bytes_per_minute=100_000)

    await runtime.run(frames_of(spliced_clips(recordings), fps=10.0))

    notes = [m for m in sent if isinstance(m, Observation)]
    assert len(notes) == 3  # the first view and the two cuts
    assert all(n.turn_id == 0 and n.ocr[0].text == "PLATFORM 9" for n in notes)
    assert Keyframe not in kinds(sent)  # scene notes never carry a frame
    assert runtime.stats.scene_notes == 3


async def test_live_mode_stays_under_the_byte_budget(recordings: Path) -> None:
    from protocol import encode

    note = Sequencer("x").make(
        Observation,
        turn_id=0,
        captured_at=0.0,
        ocr=tuple(FakeOcr().read(None)),
        labels=tuple(FakeClassifier().classify(None)),
        analysed_ms=0.01,
    )
    budget = 2 * len(encode(note)) + 20
    # Room for two notes a minute: the third scene (at 13 s) must wait.
    runtime, sent, _ = runtime_with(BoxDetector([]), live_notes=True, live_bytes_per_minute=budget)

    await runtime.run(frames_of(spliced_clips(recordings), fps=10.0))

    assert len([m for m in sent if isinstance(m, Observation)]) == 2
    assert sum(len(encode(m)) for m in sent) <= budget


async def test_live_mode_sends_nothing_in_no_camera(recordings: Path) -> None:
    runtime, sent, _ = runtime_with(BoxDetector([]), privacy="no-camera", live_notes=True)

    await runtime.run(frames_of(spliced_clips(recordings), fps=10.0))

    assert sent == []


async def test_a_control_from_the_gateway_reaches_the_runtime() -> None:
    from edge.session import EdgeSession

    runtime, _, _ = runtime_with(BoxDetector([]))
    session = EdgeSession(Listener(LoudnessVad()), None, EdgeConfig())
    session._runtime = runtime
    seen: list[str] = []

    async def downstream():
        yield Sequencer("gateway").make(Control, action="privacy", value="local-only")

    await session._receive(downstream(), lambda kind, message, turn: seen.append(kind))  # type: ignore[arg-type]

    assert runtime.config.privacy == "local-only"
    assert seen == ["control"]


async def cut_off_mid_utterance(frame: npt.NDArray[np.uint8] | None) -> AsyncIterator[MediaItem]:
    """A stream that ends while the wearer is still speaking (the flush path)."""
    if frame is not None:
        yield VideoFrame(0.0, frame)
    samples = np.full(SAMPLE_RATE, 8000, dtype=np.int16)
    for offset in range(0, len(samples), CHUNK_SAMPLES):
        yield AudioChunk(offset / SAMPLE_RATE, samples[offset : offset + CHUNK_SAMPLES])


async def test_speech_cut_off_by_the_end_of_the_stream_still_sends_its_keyframe() -> None:
    runtime, sent, _ = runtime_with(BoxDetector([]))

    await runtime.run(cut_off_mid_utterance(noisy_frame()))

    segments = [m for m in sent if isinstance(m, SpeechSegment)]
    assert segments and all(s.visual for s in segments)
    turn = segments[0].turn_id
    assert [type(m) for m in sent if getattr(m, "turn_id", None) == turn][-2:] == [
        Keyframe,
        Observation,
    ]


async def test_speech_with_no_frame_to_send_does_not_promise_a_visual() -> None:
    for privacy, frame in (("standard", None), ("no-camera", noisy_frame())):
        runtime, sent, _ = runtime_with(BoxDetector([]), privacy)

        await runtime.run(cut_off_mid_utterance(frame))

        segments = [m for m in sent if isinstance(m, SpeechSegment)]
        assert segments and not any(s.visual for s in segments)
        assert not any(isinstance(m, Keyframe | Observation) for m in sent)
