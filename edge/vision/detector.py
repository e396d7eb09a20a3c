"""An optional object-detector slot: any YOLO-style ONNX model, loaded from a path.

Nothing is bundled for it (no small detector ships on PyPI with its
weights); a user points `EdgeConfig.object_detector` at an exported model,
e.g. `yolo export format=onnx`. Two output layouts are understood:

- YOLOv8/v11: one output (1, 4 + classes, boxes) of cx, cy, w, h and class scores;
- YOLOv5/v7: one output (1, boxes, 5 + classes) of cx, cy, w, h, objectness, class scores.

Coordinates are in the model's input pixels; the frame is letterboxed into
that square and boxes are mapped back to the frame. Class names come from a
text file beside the model (same name, `.names` or `.txt`, one per line).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt

from edge.errors import ModelError
from edge.vision.boxes import Box, non_max_suppression

MIN_SCORE = 0.25
NMS_IOU = 0.45
PAD_VALUE = 114  # the grey YOLO letterboxes with


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How a frame was fitted into the model's square input."""

    scale: float
    pad_x: float
    pad_y: float

    def to_frame(self, box: Box, width: int, height: int) -> Box:
        x0 = (box.x0 - self.pad_x) / self.scale
        y0 = (box.y0 - self.pad_y) / self.scale
        x1 = (box.x1 - self.pad_x) / self.scale
        y1 = (box.y1 - self.pad_y) / self.scale
        return Box(
            min(max(x0, 0.0), width),
            min(max(y0, 0.0), height),
            min(max(x1, 0.0), width),
            min(max(y1, 0.0), height),
            box.score,
            box.label,
        )


def letterbox(image: npt.NDArray[np.uint8], side: int) -> tuple[npt.NDArray[np.uint8], Letterbox]:
    """`image` scaled to fit a side x side square, centred on grey padding."""
    height, width = image.shape[:2]
    scale = min(side / width, side / height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((side, side, 3), PAD_VALUE, dtype=np.uint8)
    pad_x, pad_y = (side - new_w) // 2, (side - new_h) // 2
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    return canvas, Letterbox(scale, float(pad_x), float(pad_y))


def decode_yolo(
    output: npt.NDArray[np.float32],
    names: tuple[str, ...] = (),
    *,
    min_score: float = MIN_SCORE,
    iou_threshold: float = NMS_IOU,
) -> list[Box]:
    """Boxes (in model input pixels) from one YOLO output tensor, after NMS per class."""
    rows = np.asarray(output, dtype=np.float32)
    if rows.ndim == 3:
        if rows.shape[0] != 1:
            raise ValueError(f"expected a batch of one, got output shape {rows.shape}")
        rows = rows[0]
    if rows.ndim != 2:
        raise ValueError(f"expected a (1, C, N) or (1, N, C) output, got shape {output.shape}")
    rows = _boxes_by_rows(rows, len(names))
    channels = rows.shape[1]
    if channels < 5:
        raise ValueError(f"a YOLO row needs at least 5 values, got {channels}")
    if names and channels == 5 + len(names):
        scores = rows[:, 5:] * rows[:, 4:5]  # v5: class scores times objectness
    else:
        scores = rows[:, 4:]
    classes = scores.argmax(axis=1)
    best = scores[np.arange(len(rows)), classes]
    keep = best >= min_score
    boxes = []
    for (cx, cy, w, h), score, cls in zip(rows[keep, :4], best[keep], classes[keep], strict=True):
        label = names[cls] if cls < len(names) else f"class {cls}"
        boxes.append(
            Box(
                float(cx - w / 2),
                float(cy - h / 2),
                float(cx + w / 2),
                float(cy + h / 2),
                float(score),
                label,
            )
        )
    return non_max_suppression(boxes, iou_threshold)


def _boxes_by_rows(rows: npt.NDArray[np.float32], classes: int) -> npt.NDArray[np.float32]:
    """One candidate per row, whichever way round the model wrote them.

    With class names the row length is known (4 + classes for v8, 5 + classes
    for v5); without, the shorter axis is taken as the channels, which holds
    for any real model (thousands of candidates, tens of channels).
    """
    if classes:
        row_lengths = (4 + classes, 5 + classes)
        if rows.shape[1] in row_lengths:
            return rows
        if rows.shape[0] in row_lengths:
            return rows.T
        raise ValueError(
            f"output shape {rows.shape} fits neither YOLOv8 (4 + {classes}) "
            f"nor YOLOv5 (5 + {classes}) rows for {classes} class names"
        )
    return rows.T if rows.shape[0] < rows.shape[1] else rows


class OnnxObjectDetector:
    """A YOLO-style detector on onnxruntime; `detect` is blocking (run it in a thread)."""

    def __init__(self, path: Path | str, *, min_score: float = MIN_SCORE) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(
                f"object detector {self.path}: no such file (EdgeConfig.object_detector)"
            )
        try:
            self._session = ort.InferenceSession(str(self.path), providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelError(
                f"object detector {self.path} is not a loadable ONNX model: {exc}"
            ) from exc
        model_input = self._session.get_inputs()[0]
        shape = model_input.shape
        side = shape[2] if len(shape) == 4 and isinstance(shape[2], int) else 640
        self._input = model_input.name
        self.side = int(side)
        self.names = load_names(self.path)
        self._min_score = min_score

    def detect(self, image: npt.NDArray[np.uint8]) -> list[Box]:
        height, width = image.shape[:2]
        square, fit = letterbox(image, self.side)
        rgb = cv2.cvtColor(square, cv2.COLOR_BGR2RGB)
        tensor = (rgb.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
        [output, *_] = self._session.run(None, {self._input: tensor})
        found = decode_yolo(
            cast("npt.NDArray[np.float32]", output), self.names, min_score=self._min_score
        )
        return [fit.to_frame(box, width, height) for box in found]


def load_names(model: Path) -> tuple[str, ...]:
    for suffix in (".names", ".txt"):
        candidate = model.with_suffix(suffix)
        if candidate.is_file():
            lines = candidate.read_text(encoding="utf-8").splitlines()
            return tuple(line.strip() for line in lines if line.strip())
    return ()
