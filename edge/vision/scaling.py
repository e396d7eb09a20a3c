"""Shrinking images to a size budget before encoding or inference."""

from __future__ import annotations

from typing import cast

import cv2
import numpy as np
import numpy.typing as npt


def fit_longest_side(image: npt.NDArray[np.uint8], max_side: int) -> npt.NDArray[np.uint8]:
    """Downscale so neither side exceeds `max_side`, keeping the aspect ratio.

    Never upscales; returns the image itself when it already fits.
    """
    if max_side < 1:
        raise ValueError(f"max_side must be at least 1, got {max_side}")
    height, width = image.shape[:2]
    longest = max(height, width)
    if longest <= max_side:
        return image
    scale = max_side / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # INTER_AREA averages the source pixels, so fine text and edges don't alias.
    return cast("npt.NDArray[np.uint8]", cv2.resize(image, size, interpolation=cv2.INTER_AREA))
