"""The scenario check grades the face stage with a detector of its own, and redaction keeps signs.

`companion eval`'s max_uploaded_faces check decodes what left the device and
looks for faces with OpenCV's Haar cascade (Debian's opencv-data), not with
the edge's MediaPipe model: a stage graded by itself passes its blind spots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from edge.errors import ModelError
from edge.vision.faces import HaarFaceDetector, MediaPipeFaceDetector, redact_faces
from edge.vision.jpeg import encode_jpeg
from simulators.bench_faces import FACE_SET
from simulators.evaluation import Evaluator


def jpeg_of(image: npt.NDArray[np.uint8]) -> bytes:
    return encode_jpeg(image, max_bytes=150_000)


def test_a_missing_cascade_is_a_clear_error_naming_the_package(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="apt-get install opencv-data"):
        HaarFaceDetector(tmp_path / "no-such-cascade.xml")


def test_haar_finds_the_portrait_face_and_nothing_once_it_is_blurred(recordings: Path) -> None:
    image = cv2.imread(str(recordings / "images" / "astronaut.png"), cv2.IMREAD_COLOR)
    assert image is not None
    haar = HaarFaceDetector()

    [face] = haar.detect(image.astype(np.uint8))
    assert 150 < (face.x0 + face.x1) / 2 < 300

    hidden = image.copy()
    hidden[40:240, 130:320] = hidden[40:240, 130:320].mean(axis=(0, 1)).astype(np.uint8)
    assert haar.detect(hidden.astype(np.uint8)) == []


def test_the_eval_face_count_never_asks_the_edges_own_detector(recordings: Path) -> None:
    image = cv2.imread(str(recordings / "images" / "astronaut.png"), cv2.IMREAD_COLOR)
    assert image is not None
    # No edge models at all: any use of the product's detector would raise here.
    evaluator = Evaluator(cast(Any, None), cast(Any, None))

    assert evaluator._count_faces([jpeg_of(image.astype(np.uint8))]) == 1
    assert evaluator._count_faces([b"not a jpeg"]) == 0


SIGN_WORDS = ("GATE", "LONDON", "BRIDGE")


def sign_over_fur() -> npt.NDArray[np.uint8]:
    """A sign not in the face set (new words, new place) held in front of its fur texture."""
    fur = cv2.imread(str(FACE_SET / "none-fur-3.jpg"), cv2.IMREAD_COLOR)
    assert fur is not None
    image = fur.astype(np.uint8)
    cv2.rectangle(image, (140, 120), (520, 270), (40, 40, 40), -1)
    cv2.putText(image, "GATE 7", (250, 180), cv2.FONT_HERSHEY_DUPLEX, 1.4, (255, 255, 255), 2)
    cv2.putText(
        image, "LONDON BRIDGE", (190, 240), cv2.FONT_HERSHEY_DUPLEX, 1.1, (255, 255, 255), 2
    )
    return image


@pytest.mark.models
def test_a_sign_in_front_of_fur_keeps_its_words_through_the_face_stage(rapid_ocr: Any) -> None:
    image = sign_over_fur()
    detector = MediaPipeFaceDetector()
    try:
        redacted, _ = redact_faces(image, detector)
    finally:
        detector.close()

    text = " ".join(line.text.upper() for line in rapid_ocr.read(redacted))
    for word in SIGN_WORDS:
        assert word in text, f"{word!r} was blurred away: OCR read {text!r}"
