"""Everything the edge learns from one keyframe before the question goes to the cloud."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
import numpy.typing as npt

from edge.vision.barcodes import BarcodeReader, LocatedCode, LocatingBarcodeReader
from edge.vision.boxes import Box
from edge.vision.classifier import ImageClassifier
from edge.vision.faces import FaceDetector, FaceStageError, redact_faces
from edge.vision.hands import HandTracker, crop, pointed_region, pointing_ray
from edge.vision.label_regions import read_products
from edge.vision.ocr import LocatedOcr, Ocr, TextBox
from edge.vision.product_label import parse_label
from protocol.messages import Label, OcrLine, ProductLabel

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
    # Decoded barcodes and QR codes, and the product label read from `ocr`.
    barcodes: tuple[str, ...] = ()
    products: tuple[ProductLabel, ...] = ()


class ObjectDetector(Protocol):
    """Finds and names objects (e.g. edge.vision.detector.OnnxObjectDetector)."""

    def detect(self, image: npt.NDArray[np.uint8]) -> list[Box]: ...


@dataclass(frozen=True, slots=True)
class PreparedKeyframe:
    """A keyframe analysed and passed through the privacy stage.

    `redacted` is the frame with every face hidden, or None when the face
    stage failed (`face_error` says why): then the frame must stay on the device.
    """

    context: VisualContext
    redacted: npt.NDArray[np.uint8] | None
    faces_hidden: int = 0
    face_error: str = ""


class KeyframeAnalyser:
    """Runs OCR and the classifier on a keyframe; a failing stage never sinks the other.

    `analyse` is blocking (a few hundred ms of onnxruntime on text-heavy
    frames); call it from a worker thread, e.g. `await asyncio.to_thread(...)`.
    The independent stages run side by side: OCR (the slowest) and the face
    stage in the analyser's own two worker threads, hands and the classifier
    in the caller's. onnxruntime and MediaPipe release the GIL while they run,
    so on two cores a keyframe costs well under the sum of its stages (bench edge:
    250 ms one after another, 156 ms side by side, on the bottle clip at 640x480).
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
        barcodes: BarcodeReader | None = None,
    ) -> None:
        # The privacy stage: without it no frame may leave the device (see edge.vision.faces).
        self.faces = faces
        self.hands = hands
        self.objects = objects
        self.barcodes = barcodes
        self._ocr = ocr
        self._classifier = classifier
        self._labels = labels
        self._clock = clock
        # One worker for OCR, one for faces; started on first use, ended by close().
        self._workers: ThreadPoolExecutor | None = None
        self._workers_lock = threading.Lock()

    @property
    def ocr(self) -> Ocr:
        return self._ocr

    @property
    def classifier(self) -> ImageClassifier:
        return self._classifier

    def prepare(self, image: npt.NDArray[np.uint8]) -> PreparedKeyframe:
        """What a question costs on the edge: every stage, with the face stage alongside.

        Fail closed: if the face stage errs, `redacted` is None and the
        context's errors end with why the frame was not sent.
        """
        redaction = self._worker().submit(redact_faces, image, self.faces)
        context = self.analyse(image)
        try:
            redacted, hidden = redaction.result()
        except FaceStageError as exc:
            errors = (*context.errors, f"faces: {exc}; the frame was not sent")
            return PreparedKeyframe(replace(context, errors=errors), None, face_error=str(exc))
        return PreparedKeyframe(context, redacted, hidden)

    def analyse(self, image: npt.NDArray[np.uint8]) -> VisualContext:
        started = self._clock()
        errors: list[str] = []
        labels: tuple[Label, ...] = ()
        reading = self._worker().submit(self._read_text, image)
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
        codes = self._barcodes(image, errors)
        lines: tuple[OcrLine, ...] = ()
        boxes: list[TextBox] | None = None
        try:
            read, boxes = reading.result()
            lines = tuple(read)
        except Exception as exc:
            log.warning("OCR failed on a keyframe; continuing without text", exc_info=True)
            # OCR's error goes first, as it did when the stages ran one after another.
            errors.insert(0, f"ocr: {type(exc).__name__}: {exc}")
        return VisualContext(
            ocr=lines,
            labels=labels,
            analysed_ms=(self._clock() - started) * 1000.0,
            errors=tuple(errors),
            pointed=pointed,
            barcodes=tuple(code.code for code in codes),
            products=_products(lines, boxes, codes, errors),
        )

    def close(self) -> None:
        """Stop the worker threads (a later call starts them again)."""
        with self._workers_lock:
            workers, self._workers = self._workers, None
        if workers is not None:
            workers.shutdown(wait=True)

    def _worker(self) -> ThreadPoolExecutor:
        with self._workers_lock:
            if self._workers is None:
                self._workers = ThreadPoolExecutor(2, thread_name_prefix="keyframe")
            return self._workers

    def _read_text(
        self, image: npt.NDArray[np.uint8]
    ) -> tuple[list[OcrLine], list[TextBox] | None]:
        """OCR's lines, and their boxes where the OCR gives them (to split several labels)."""
        if isinstance(self._ocr, LocatedOcr):
            boxes = self._ocr.read_boxes(image)
            return [OcrLine(text=box.text, score=box.score) for box in boxes], boxes
        return self._ocr.read(image), None

    def _barcodes(self, image: npt.NDArray[np.uint8], errors: list[str]) -> list[LocatedCode]:
        """The product-barcode stage: in the caller's thread, beside OCR (a few ms of OpenCV).

        A reader that cannot say where a code is gives each one the frame's centre."""
        if self.barcodes is None:
            return []
        try:
            if isinstance(self.barcodes, LocatingBarcodeReader):
                return self.barcodes.read_located(image)
            height, width = image.shape[:2]
            return [LocatedCode(c, width / 2, height / 2) for c in self.barcodes.read(image)]
        except Exception as exc:
            log.warning("barcode reader failed on a keyframe", exc_info=True)
            errors.append(f"barcodes: {type(exc).__name__}: {exc}")
            return []

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


def _products(
    lines: tuple[OcrLine, ...],
    boxes: list[TextBox] | None,
    codes: list[LocatedCode],
    errors: list[str],
) -> tuple[ProductLabel, ...]:
    """The label-parsing stage: pure text rules over what OCR read, one label per
    cluster of lines where the OCR says where its lines are (edge/vision/label_regions.py)."""
    try:
        if boxes is not None:
            return read_products(boxes, codes)
        label = parse_label([line.text for line in lines])
    except Exception as exc:
        log.warning("product label parser failed on a keyframe", exc_info=True)
        errors.append(f"product label: {type(exc).__name__}: {exc}")
        return ()
    return (label,) if label is not None else ()
