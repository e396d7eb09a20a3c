"""A keyframe's stages run side by side (OCR, faces, hands and classifier), and the
privacy stage still fails closed when it runs beside the others."""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt

from edge.vision.analysis import KeyframeAnalyser
from edge.vision.boxes import Box
from protocol.messages import Label, OcrLine

FRAME = np.full((240, 320, 3), 200, np.uint8)


class WaitingOcr:
    """Reads only once the face stage has started: deadlocks if the stages run in turn."""

    def __init__(self, faces_started: threading.Event) -> None:
        self.faces_started = faces_started

    def read(self, image: npt.NDArray[np.uint8]) -> list[OcrLine]:
        if not self.faces_started.wait(timeout=10):
            raise TimeoutError("the face stage never started beside OCR")
        return [OcrLine(text="EXIT", score=0.99)]


class SignallingFaces:
    def __init__(self, *, fail: bool = False) -> None:
        self.started = threading.Event()
        self.fail = fail

    def detect(self, image: npt.NDArray[np.uint8]) -> list[Box]:
        self.started.set()
        if self.fail:
            raise RuntimeError("face model crashed")
        return [Box(10, 10, 60, 60, 0.9, "face")]


class OneLabel:
    def classify(self, image: npt.NDArray[np.uint8], k: int = 5) -> list[Label]:
        return [Label(name="door", score=0.7)]


def test_ocr_and_the_face_stage_run_at_the_same_time() -> None:
    faces = SignallingFaces()
    analyser = KeyframeAnalyser(WaitingOcr(faces.started), OneLabel(), faces=faces)
    try:
        prepared = analyser.prepare(FRAME)
    finally:
        analyser.close()

    assert prepared.context.errors == ()
    assert [line.text for line in prepared.context.ocr] == ["EXIT"]
    assert [label.name for label in prepared.context.labels] == ["door"]
    assert prepared.faces_hidden == 1 and prepared.redacted is not None


def test_a_failing_face_stage_beside_the_others_keeps_the_frame_on_the_device() -> None:
    faces = SignallingFaces(fail=True)
    analyser = KeyframeAnalyser(WaitingOcr(faces.started), OneLabel(), faces=faces)
    try:
        prepared = analyser.prepare(FRAME)
    finally:
        analyser.close()

    assert prepared.redacted is None
    assert "face model crashed" in prepared.face_error
    assert prepared.context.errors[-1].endswith("the frame was not sent")
    assert [line.text for line in prepared.context.ocr] == ["EXIT"]  # the other stages ran


def test_an_ocr_failure_beside_the_others_is_reported_first_and_labels_still_come() -> None:
    class BrokenOcr:
        def read(self, image: npt.NDArray[np.uint8]) -> list[OcrLine]:
            raise RuntimeError("onnxruntime fell over")

    analyser = KeyframeAnalyser(BrokenOcr(), OneLabel(), faces=SignallingFaces())
    try:
        context = analyser.analyse(FRAME)
        again = analyser.analyse(FRAME)  # the workers survive a failed stage
    finally:
        analyser.close()

    assert context.errors == ("ocr: RuntimeError: onnxruntime fell over",)
    assert [label.name for label in context.labels] == ["door"]
    assert again.errors == context.errors
