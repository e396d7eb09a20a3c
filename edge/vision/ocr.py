"""Reading printed text in a keyframe.

`RapidOcr` runs PaddleOCR's PP-OCRv4 detector and recogniser (plus the mobile
direction classifier) on onnxruntime. The three ONNX files ship inside the
pinned `rapidocr_onnxruntime` package and are checked against the sha256 below
before the engine is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

import cv2
import numpy as np
import numpy.typing as npt

from edge.errors import ModelError
from edge.vision.scaling import fit_longest_side
from edge.vision.sessions import all_cores, open_session
from modelfiles import ModelFileError, bundled
from protocol.messages import OcrLine

PACKAGE = "rapidocr_onnxruntime"
INSTALL = "rapidocr_onnxruntime==1.4.4"
DETECTOR = (
    "models/ch_PP-OCRv4_det_infer.onnx",
    "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
)
RECOGNISER = (
    "models/ch_PP-OCRv4_rec_infer.onnx",
    "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
)
DIRECTION = (
    "models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
    "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
)

MIN_SCORE = 0.7  # garbage read from handwriting or texture scores 0.1-0.65; print scores 0.9+
MAX_SIDE = 1600  # larger frames are shrunk first: detection cost grows with the pixel count
# The detector upscales frames whose short side is below this. The package's
# 736 makes small crops slow; 480 reads the same lines at a third of the cost.
DETECTOR_MIN_SIDE = 480
DETECTOR_BOX_THRESHOLD = 0.4  # the package's 0.5 drops whole faint lines of print


class Ocr(Protocol):
    """Reads the text lines in an image."""

    def read(self, image: npt.NDArray[np.uint8]) -> list[OcrLine]:
        """Lines of text in the BGR `image`, in reading order."""
        ...


@dataclass(frozen=True, slots=True)
class TextBox:
    """One recognised line and where it sits (pixels, y down)."""

    text: str
    score: float
    left: float
    top: float
    bottom: float
    right: float = 0.0

    @classmethod
    def from_corners(cls, corners: Iterable[Sequence[float]], text: str, score: float) -> TextBox:
        xs, ys = zip(*((float(x), float(y)) for x, y in corners), strict=True)
        return cls(text=text, score=score, left=min(xs), top=min(ys), bottom=max(ys), right=max(xs))

    def scaled(self, factor: float) -> TextBox:
        return TextBox(
            text=self.text,
            score=self.score,
            left=self.left * factor,
            top=self.top * factor,
            bottom=self.bottom * factor,
            right=self.right * factor,
        )


@runtime_checkable
class LocatedOcr(Ocr, Protocol):
    """An `Ocr` that also says where each line is (the product stage splits labels by it)."""

    def read_boxes(self, image: npt.NDArray[np.uint8]) -> list[TextBox]:
        """The lines of `read`, in the same order, with their boxes in `image`'s pixels."""
        ...


def in_reading_order(boxes: Iterable[TextBox]) -> list[TextBox]:
    """Top-to-bottom, and left-to-right among boxes that share a line.

    A box joins the current line when its vertical centre falls inside the
    line's first box, which tolerates the slight tilt of a hand-held page.
    """
    lines: list[list[TextBox]] = []
    for box in sorted(boxes, key=lambda b: (b.top + b.bottom) / 2):
        centre = (box.top + box.bottom) / 2
        if lines and lines[-1][0].top <= centre <= lines[-1][0].bottom:
            lines[-1].append(box)
        else:
            lines.append([box])
    return [box for line in lines for box in sorted(line, key=lambda b: b.left)]


class RapidOcr:
    """PP-OCRv4 on onnxruntime via `rapidocr_onnxruntime`; loaded once, reused per frame."""

    def __init__(
        self, *, min_score: float = MIN_SCORE, max_side: int = MAX_SIDE, threads: int | None = None
    ) -> None:
        try:
            detector, recogniser, direction = (
                bundled(PACKAGE, relative, sha256, INSTALL)
                for relative, sha256 in (DETECTOR, RECOGNISER, DIRECTION)
            )
        except ModelFileError as exc:
            raise ModelError(f"OCR models unusable: {exc}") from exc
        self._min_score = min_score
        self._max_side = max_side
        self._engine = _build_engine(detector, recogniser, direction, threads or all_cores())

    def read(self, image: npt.NDArray[np.uint8]) -> list[OcrLine]:
        return [OcrLine(text=box.text, score=box.score) for box in self.read_boxes(image)]

    def read_boxes(self, image: npt.NDArray[np.uint8]) -> list[TextBox]:
        if image.ndim == 2:
            image = cast("npt.NDArray[np.uint8]", cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
        scaled = fit_longest_side(image, self._max_side)
        found, _timings = self._engine(scaled)
        back = max(image.shape[:2]) / max(scaled.shape[:2])  # boxes in the caller's pixels
        boxes = [
            TextBox.from_corners(corners, str(text), float(score)).scaled(back)
            for corners, text, score in found or ()
            if float(score) >= self._min_score and str(text).strip()
        ]
        return in_reading_order(boxes)


def _build_engine(detector: Path, recogniser: Path, direction: Path, threads: int) -> Any:
    # Imported here so that code needing only the `Ocr` protocol stays light.
    from rapidocr_onnxruntime import RapidOCR

    try:
        engine = RapidOCR(
            det_model_path=str(detector),
            rec_model_path=str(recogniser),
            cls_model_path=str(direction),
            det_limit_side_len=DETECTOR_MIN_SIDE,
            det_box_thresh=DETECTOR_BOX_THRESHOLD,
            text_score=0.0,  # the floor is applied in `read`, where it is visible
            intra_op_num_threads=threads,
            inter_op_num_threads=1,
        )
        # The package turns onnxruntime's memory arena off, which costs the detector a
        # fifth more CPU per frame; and its idle threads spin, stealing the core the face
        # and hand stages run on beside it. Same models, our session options.
        engine.text_det.infer.session = open_session(detector, threads)
        engine.text_cls.infer.session = open_session(direction, threads)
        engine.text_rec.session.session = open_session(recogniser, threads)
        _normalise_in_float32(engine.text_det)
        return engine
    except Exception as exc:  # the package raises its own types and plain ones
        raise ModelError(
            f"could not start the OCR engine: {exc}; run `pip install --force-reinstall {INSTALL}`"
        ) from exc


def _normalise_in_float32(detector: Any) -> None:
    """The detector's input normalisation, in float32 instead of float64.

    The package computes (x * scale - mean) / std with float64 mean and std,
    so a 640x480 frame goes through float64 arithmetic and is cast back: a
    tenth of the whole OCR time. x * (scale / std) - mean / std in float32 is
    the same tensor up to float32 rounding, at a fifth of the cost.
    """
    make_preprocess = detector.get_preprocess

    def get_preprocess(max_wh: int) -> Any:
        op = make_preprocess(max_wh)
        gain = (op.scale / op.std).astype(np.float32)
        offset = (op.mean / op.std).astype(np.float32)

        def normalize(img: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
            out = img.astype(np.float32)
            out *= gain
            out -= offset
            return out

        op.normalize = normalize
        return op

    detector.get_preprocess = get_preprocess
