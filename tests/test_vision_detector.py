"""The optional YOLO-style ONNX detector: decoding, NMS and mapping back to the frame,
checked with a tiny ONNX model built here whose output is known exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge.errors import ModelError
from edge.vision.boxes import Box
from edge.vision.detector import OnnxObjectDetector, decode_yolo, letterbox

# Four candidates in YOLOv8 layout (1, 4 + 2 classes, 4 boxes), in 64x64 input pixels.
#            cx    cy    w     h    cup   cat
CANDIDATES = [
    [32.0, 32.0, 16.0, 8.0, 0.90, 0.05],  # a cup
    [33.0, 32.0, 16.0, 8.0, 0.80, 0.01],  # the same cup again: NMS removes it
    [48.0, 40.0, 8.0, 8.0, 0.02, 0.60],  # a cat
    [10.0, 10.0, 4.0, 4.0, 0.10, 0.05],  # below the score threshold
]


def build_model(path: Path, side: int = 64) -> Path:
    """An ONNX graph that reads the image and always answers CANDIDATES (v8 layout)."""
    table = np.array(CANDIDATES, dtype=np.float32).T[None]  # (1, 6, 4)
    nodes = [
        # output = sum(image * 0) + table: depends on the input, equals the table.
        helper.make_node("Mul", ["images", "zero"], ["zeroed"]),
        helper.make_node("ReduceSum", ["zeroed"], ["nothing"], keepdims=0),
        helper.make_node("Add", ["nothing", "table"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, side, side])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(table.shape))],
        initializer=[
            numpy_helper.from_array(np.zeros((1,), np.float32), "zero"),
            numpy_helper.from_array(table, "table"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    path.with_suffix(".names").write_text("cup\ncat\n")
    return path


def test_detector_decodes_suppresses_and_maps_boxes_back_to_the_frame(tmp_path: Path) -> None:
    detector = OnnxObjectDetector(build_model(tmp_path / "tiny.onnx"))
    frame = np.zeros((64, 128, 3), np.uint8)  # letterboxed at scale 0.5, 16 px pad top

    found = detector.detect(frame)

    assert detector.side == 64 and detector.names == ("cup", "cat")
    assert [(b.label, round(b.score, 2)) for b in found] == [("cup", 0.9), ("cat", 0.6)]
    cup, cat = found
    assert (cup.x0, cup.y0, cup.x1, cup.y1) == pytest.approx((48, 24, 80, 40))
    assert (cat.x0, cat.y0, cat.x1, cat.y1) == pytest.approx((88, 40, 104, 56))


def test_yolov5_layout_multiplies_objectness_into_the_score() -> None:
    rows = np.array(
        [[[10, 10, 4, 4, 0.5, 0.9, 0.1], [30, 30, 4, 4, 0.9, 0.2, 0.3]]], dtype=np.float32
    )  # (1, boxes, 5 + 2)

    found = decode_yolo(rows, ("a", "b"), min_score=0.25)

    assert found == [
        Box(8, 8, 12, 12, pytest.approx(0.45), "a"),
        Box(28, 28, 32, 32, pytest.approx(0.27), "b"),
    ]


def test_nms_keeps_overlapping_boxes_of_different_classes() -> None:
    rows = np.array([[[10, 10, 8, 8, 0.9, 0.0], [10, 10, 8, 8, 0.0, 0.8]]], np.float32)

    assert [b.label for b in decode_yolo(rows, ("x", "y"))] == ["x", "y"]


def test_letterbox_centres_the_frame_on_grey() -> None:
    square, fit = letterbox(np.full((50, 100, 3), 255, np.uint8), 100)

    assert square.shape == (100, 100, 3)
    assert fit.scale == 1.0 and fit.pad_y == 25
    assert (square[:25] == 114).all() and (square[25:75] == 255).all()


def test_missing_or_broken_model_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such file"):
        OnnxObjectDetector(tmp_path / "absent.onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        OnnxObjectDetector(broken)


def test_outputs_of_the_wrong_shape_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 5"):
        decode_yolo(np.zeros((1, 4, 10), np.float32))
