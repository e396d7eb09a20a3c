"""Everything the edge learns from one keyframe before the question goes to the cloud."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from edge.vision.boxes import Box
from edge.vision.classifier import ImageClassifier
from edge.vision.faces import FaceDetector
from edge.vision.hands import HandTracker, crop, pointed_region, pointing_ray
from edge.vision.ocr import Ocr
from protocol.messages import Label, OcrLine

LABELS_KEPT = 5

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VisualContext:
    """Text and labels found in a keyframe, how long it took, and which stages failed.

    `errors` holds one "stage: what went wrong" string per stage that raised;
    that stage's field is then empty while the others are still filled.
    """

    ocr: tuple[OcrLine, ...] = ()
    labels: tuple[Label, ...] = ()
    analysed_ms: float = 0.0
    errors: tuple[str, ...] = ()
    # Where the wearer's index finger pointed; `labels` then name what is there first.
    pointed: Box | None = None


class ObjectDetector(Protocol):
    """Finds and names objects (e.g. edge.vision.detector.OnnxObjectDetector)."""

    def detect(self, image: npt.NDArray[np.uint8]) -> list[Box]: ...


class KeyframeAnalyser:
    """Runs OCR and the classifier on a keyframe; a failing stage never sinks the other.

    `analyse` is blocking (a few hundred ms of onnxruntime on text-heavy
    frames); call it from a worker thread, e.g. `await asyncio.to_thread(...)`.
    """

    def __init__(
        self,
        ocr: Ocr,
        classifier: ImageClassifier,
        *,
        labels: int = LABELS_KEPT,
        clock: Callable[[], float] = time.perf_counter,
        faces: FaceDetector | None = None,
        hands: HandTracker | None = None,
        objects: ObjectDetector | None = None,
    ) -> None:
        # The privacy stage: without it no frame may leave the device (see edge.vision.faces).
        self.faces = faces
        self.hands = hands
        self.objects = objects
        self._ocr = ocr
        self._classifier = classifier
        self._labels = labels
        self._clock = clock

    @property
    def ocr(self) -> Ocr:
        return self._ocr

    @property
    def classifier(self) -> ImageClassifier:
        return self._classifier

    def analyse(self, image: npt.NDArray[np.uint8]) -> VisualContext:
        started = self._clock()
        errors: list[str] = []
        lines: tuple[OcrLine, ...] = ()
        labels: tuple[Label, ...] = ()
        try:
            lines = tuple(self._ocr.read(image))
        except Exception as exc:
            log.warning("OCR failed on a keyframe; continuing without text", exc_info=True)
            errors.append(f"ocr: {type(exc).__name__}: {exc}")
        pointed = self._pointed_region(image, errors)
        try:
            labels = tuple(self._classifier.classify(image, k=self._labels))
            if pointed is not None:
                # "What is this?": what the finger points at comes first.
                near = self._classifier.classify(crop(image, pointed), k=self._labels)
                labels = (*near, *labels)[: self._labels]
        except Exception as exc:
            log.warning("classifier failed on a keyframe; continuing without labels", exc_info=True)
            errors.append(f"classifier: {type(exc).__name__}: {exc}")
        if self.objects is not None:
            try:
                found = self.objects.detect(image)
                labels = (*labels, *(Label(name=b.label, score=b.score) for b in found))
            except Exception as exc:
                log.warning("object detector failed on a keyframe", exc_info=True)
                errors.append(f"objects: {type(exc).__name__}: {exc}")
        return VisualContext(
            ocr=lines,
            labels=labels,
            analysed_ms=(self._clock() - started) * 1000.0,
            errors=tuple(errors),
            pointed=pointed,
        )

    def _pointed_region(self, image: npt.NDArray[np.uint8], errors: list[str]) -> Box | None:
        if self.hands is None:
            return None
        try:
            hands = self.hands.hands(image)
        except Exception as exc:
            log.warning("hand tracking failed on a keyframe", exc_info=True)
            errors.append(f"hands: {type(exc).__name__}: {exc}")
            return None
        height, width = image.shape[:2]
        for hand in hands:
            pointing = pointing_ray(hand)
            if pointing is not None:
                return pointed_region(pointing, width, height)
        return None
