"""Everything the edge learns from one keyframe before the question goes to the cloud."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.vision.classifier import ImageClassifier
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
    ) -> None:
        self._ocr = ocr
        self._classifier = classifier
        self._labels = labels
        self._clock = clock

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
        try:
            labels = tuple(self._classifier.classify(image, k=self._labels))
        except Exception as exc:
            log.warning("classifier failed on a keyframe; continuing without labels", exc_info=True)
            errors.append(f"classifier: {type(exc).__name__}: {exc}")
        return VisualContext(
            ocr=lines,
            labels=labels,
            analysed_ms=(self._clock() - started) * 1000.0,
            errors=tuple(errors),
        )
