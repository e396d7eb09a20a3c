"""Has the view changed? Compared on tiny grayscale thumbnails, so it costs well under 1 ms.

A frame's signature is a 32x24 grayscale thumbnail normalised to zero mean
and unit variance: the camera's auto-exposure brightening or darkening the
whole view is not a change, a different layout of light and dark is. Each
frame is compared with the last frame that counted as a change (not with the
previous frame), so a slow pan adds up to a change while sensor noise never
does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt

SIGNATURE_SIZE = (32, 24)  # width, height
# Mean absolute difference of normalised thumbnails. Bottles moving along a
# line stay below 0.5 (bottle-detection.mp4), a hand-held pan across a room
# drifts to 0.76 over 1.2 s (realshort.mp4); cuts between the shared clips are
# 0.9 to 1.3.
CHANGE_THRESHOLD = 0.8

Signature = npt.NDArray[np.float32]


def scene_signature(image: npt.NDArray[np.uint8]) -> Signature:
    """The frame reduced to what `scene_distance` compares."""
    if image.ndim not in (2, 3) or image.size == 0:
        raise ValueError(f"expected a non-empty BGR or grayscale image, got shape {image.shape}")
    small = cv2.resize(image, SIGNATURE_SIZE, interpolation=cv2.INTER_AREA)
    if small.ndim == 3:
        small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    values = small.astype(np.float32)
    values -= values.mean()
    spread = float(values.std())
    # A flat frame (lens cap, dark room) keeps its zeros instead of amplifying noise.
    return cast(Signature, values / spread if spread > 2.0 else values * 0.0)


def scene_distance(a: Signature, b: Signature) -> float:
    """0 for the same view; about 1.1 for two unrelated views."""
    return float(np.abs(a - b).mean())


@dataclass
class SceneChangeDetector:
    """Says which frames show a new scene; the first frame always does."""

    threshold: float = CHANGE_THRESHOLD
    reference: Signature | None = None

    def changed(self, signature: Signature) -> bool:
        if (
            self.reference is not None
            and scene_distance(signature, self.reference) <= self.threshold
        ):
            return False
        self.reference = signature
        return True
