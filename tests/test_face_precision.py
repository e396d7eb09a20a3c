"""The face stage finds real faces and leaves face-like texture alone (recordings/faces/)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge.vision.boxes import Box
from edge.vision.faces import MediaPipeFaceDetector, second_look_crop
from simulators.bench_faces import FACE_SET, bench_faces, match_faces


def test_each_label_is_matched_once_and_extra_detections_are_false_positives() -> None:
    truth = [Box(0, 0, 10, 10), Box(50, 50, 60, 60)]
    found = [Box(1, 1, 11, 11), Box(0, 0, 10, 10), Box(100, 100, 110, 110)]

    assert match_faces(truth, found) == (1, 2)
    assert match_faces([], found) == (0, 3)
    assert match_faces(truth, []) == (0, 0)


def test_second_look_centres_the_candidate_with_its_context() -> None:
    rgb = np.zeros((100, 200, 3), np.uint8)

    crop, centre = second_look_crop(rgb, Box(180, 0, 200, 20), context=1.0)

    assert crop.shape == (128, 128, 3)
    assert centre.x1 - centre.x0 == pytest.approx(128 / 3)
    assert (centre.x0 + centre.x1) / 2 == pytest.approx(64)


def test_the_face_set_labels_real_faces_and_face_free_frames() -> None:
    truth = json.loads((FACE_SET / "truth.json").read_text())

    with_faces = [name for name, entry in truth.items() if entry["faces"]]
    without = [name for name, entry in truth.items() if not entry["faces"]]
    assert len(with_faces) >= 40 and len(without) >= 35
    assert all((FACE_SET / name).is_file() for name in truth)


@pytest.mark.models
def test_second_look_keeps_recall_and_halves_false_positives_on_the_face_set() -> None:
    plain = MediaPipeFaceDetector(confirm=False)
    confirmed = MediaPipeFaceDetector()
    try:
        before = bench_faces(plain)
        after = bench_faces(confirmed)
    finally:
        plain.close()
        confirmed.close()
    print("before", before.to_json(), "after", after.to_json())

    assert after.recall >= before.recall
    assert after.found >= 60
    assert after.false_positives * 2 <= before.false_positives
    assert after.false_positives_by_kind["fur"] <= 5
