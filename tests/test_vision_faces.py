"""Bystander privacy: faces are found, hidden before a frame leaves, and the stage fails closed."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from edge.vision.boxes import Box
from edge.vision.faces import (
    FaceStageError,
    MediaPipeFaceDetector,
    UnavailableFaceDetector,
    blur_faces,
    redact_faces,
    tile_grid,
)
from edge.vision.jpeg import encode_jpeg

HAAR = Path("/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml")


class RaisingDetector:
    def detect(self, image: npt.NDArray[np.uint8]) -> list[Box]:
        raise RuntimeError("detector crashed")


def as_uploaded(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """What the cloud decodes: the frame through the same JPEG encoder the edge uses."""
    jpeg = encode_jpeg(image, max_bytes=150_000)
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    return decoded.astype(np.uint8)


def haar_faces(image: npt.NDArray[np.uint8]) -> list[Box]:
    """OpenCV's bundled frontal-face Haar cascade (Debian's opencv-data): an independent detector."""
    cascade = cv2.CascadeClassifier(str(HAAR))
    assert not cascade.empty(), f"{HAAR} missing: apt-get install opencv-data"
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    found = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5)
    return [Box(float(x), float(y), float(x + w), float(y + h)) for x, y, w, h in found]


def gif_frames(recordings: Path) -> list[npt.NDArray[np.uint8]]:
    capture = cv2.VideoCapture(str(recordings / "video" / "face-demographics-walking.gif"))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame.astype(np.uint8))
    capture.release()
    assert len(frames) == 35
    return frames


@pytest.fixture(scope="module")
def face_detector() -> MediaPipeFaceDetector:
    return MediaPipeFaceDetector()


@pytest.fixture(scope="module")
def face_checker() -> MediaPipeFaceDetector:
    """The project's detector at its usual 0.5 operating point, to check uploads."""
    return MediaPipeFaceDetector(min_score=0.5)


def test_blur_fills_each_face_box_and_its_margin_and_leaves_the_rest() -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (100, 200, 3), dtype=np.uint8)

    out = blur_faces(image, [Box(50, 40, 70, 60)], margin=0.5)

    hidden = out[30:70, 40:80]
    assert (hidden == hidden[0, 0]).all()  # one colour: nothing of the face survives
    assert np.array_equal(out[:, :40], image[:, :40])
    assert np.array_equal(out[:, 80:], image[:, 80:])
    assert not np.array_equal(image[30:70, 40:80], hidden)


def test_blur_clips_boxes_that_run_off_the_frame() -> None:
    image = np.full((50, 50, 3), 200, dtype=np.uint8)
    image[0:10, 0:10] = 0

    out = blur_faces(image, [Box(-20, -20, 10, 10), Box(60, 60, 80, 80)], margin=0.0)

    assert out.shape == image.shape
    assert (out[0:10, 0:10] == 0).all()


def test_face_never_leaves_device_when_detector_fails() -> None:
    image = np.zeros((64, 64, 3), dtype=np.uint8)

    with pytest.raises(FaceStageError, match="detector crashed"):
        redact_faces(image, RaisingDetector())
    with pytest.raises(FaceStageError, match="no face detector"):
        redact_faces(image, None)
    with pytest.raises(FaceStageError, match="unavailable: missing file"):
        redact_faces(image, UnavailableFaceDetector("missing file"))


def test_tiles_cover_the_whole_frame_with_overlap() -> None:
    tiles = tile_grid(480, 270)

    covered = np.zeros((270, 480), dtype=bool)
    for x, y, side in tiles:
        assert x + side <= 480 and y + side <= 270
        covered[y : y + side, x : x + side] = True
    assert covered.all()
    assert tile_grid(200, 200) == []  # small frames: one look is enough


@pytest.mark.models
def test_astronaut_face_is_found_and_not_found_after_blurring(
    recordings: Path, face_detector: MediaPipeFaceDetector, face_checker: MediaPipeFaceDetector
) -> None:
    image = cv2.imread(str(recordings / "images" / "astronaut.png"), cv2.IMREAD_COLOR)
    assert image is not None

    [face] = face_checker.detect(image)
    assert 150 < (face.x0 + face.x1) / 2 < 300 and 60 < (face.y0 + face.y1) / 2 < 200
    assert haar_faces(image), "the independent detector sees the face before blurring"

    redacted, hidden = redact_faces(image, face_detector)
    uploaded = as_uploaded(redacted)

    assert hidden >= 1
    assert face_checker.detect(uploaded) == []
    assert haar_faces(uploaded) == []


# Hand annotation of the walking clip: both people's head boxes are centred above
# this row in every frame (centres at y = 100-140; recordings/faces/README.md).
# Below it are torsos: the print on one dress reads as a face to the Haar cascade
# in frames 27-32, and the pattern on one shirt (box centres y = 150-158) to
# BlazeFace at 0.5, raw or redacted alike, now that the face stage's second look
# no longer blurs it; neither is a bystander's face, so neither counts as a leak.
HEAD_BAND_BOTTOM = 145


def in_head_band(box: Box) -> bool:
    return (box.y0 + box.y1) / 2 < HEAD_BAND_BOTTOM


@pytest.mark.models
def test_no_face_is_detectable_in_any_uploaded_frame_of_the_walking_clip(
    recordings: Path, face_detector: MediaPipeFaceDetector, face_checker: MediaPipeFaceDetector
) -> None:
    frames = gif_frames(recordings)
    raw_project = raw_haar = 0
    after_project = after_haar = 0
    for index, frame in enumerate(frames):
        raw_project += len([b for b in face_checker.detect(frame) if in_head_band(b)])
        raw_haar += len([b for b in haar_faces(frame) if in_head_band(b)])

        redacted, _ = redact_faces(frame, face_detector)
        uploaded = as_uploaded(redacted)

        project_leaks = [b for b in face_checker.detect(uploaded) if in_head_band(b)]
        haar_leaks = [b for b in haar_faces(uploaded) if in_head_band(b)]
        after_project += len(project_leaks)
        after_haar += len(haar_leaks)
        assert project_leaks == [], f"frame {index}: the project's detector still finds a face"
        assert haar_leaks == [], f"frame {index}: the Haar cascade still finds a face"
    # Both detectors really see faces in this footage, so the checks above have teeth.
    print(f"faces in raw frames: project {raw_project}, haar {raw_haar}; after: 0, 0")
    assert raw_project >= 50
    assert raw_haar >= 20
