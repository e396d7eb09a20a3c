"""Cheap per-frame quality measures that gate which frame becomes the keyframe.

Every measure runs on a small grayscale copy (QUALITY_WIDTH pixels wide), so
it costs about a millisecond and the numbers are comparable across capture
resolutions: a 1280-wide and a 640-wide frame of the same scene score alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt

QUALITY_WIDTH = 160
DARK_LEVEL = 8  # luminance (0..255) at or below which a pixel counts as crushed to black
BRIGHT_LEVEL = 247  # at or above which it counts as blown out


@dataclass(frozen=True, slots=True)
class FrameQuality:
    """How usable a frame is.

    `sharpness` is the variance of the Laplacian at QUALITY_WIDTH: higher is
    sharper, motion blur and defocus drive it towards 0. `exposure` is the mean
    luminance in 0..1. `dark_clipped` and `bright_clipped` are the fractions of
    pixels crushed to black or blown to white.
    """

    sharpness: float
    exposure: float
    dark_clipped: float
    bright_clipped: float


def sharpness(image: npt.NDArray[np.uint8]) -> float:
    """Variance of the Laplacian of a small grayscale copy; higher is sharper."""
    return _laplacian_variance(_small_gray(image))


def exposure(image: npt.NDArray[np.uint8]) -> float:
    """Mean luminance in 0..1 (0 black, 1 white)."""
    return float(_small_gray(image).mean()) / 255.0


def assess(image: npt.NDArray[np.uint8]) -> FrameQuality:
    """All quality measures from one downscaled grayscale copy."""
    gray = _small_gray(image)
    pixels = gray.size
    return FrameQuality(
        sharpness=_laplacian_variance(gray),
        exposure=float(gray.mean()) / 255.0,
        dark_clipped=float(np.count_nonzero(gray <= DARK_LEVEL)) / pixels,
        bright_clipped=float(np.count_nonzero(gray >= BRIGHT_LEVEL)) / pixels,
    )


def _small_gray(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    if image.ndim not in (2, 3) or image.size == 0:
        raise ValueError(f"expected a non-empty BGR or grayscale image, got shape {image.shape}")
    height, width = image.shape[:2]
    if width > QUALITY_WIDTH:
        size = (QUALITY_WIDTH, max(1, round(height * QUALITY_WIDTH / width)))
        # Shrink before the colour conversion: it is the cheaper order.
        image = cast("npt.NDArray[np.uint8]", cv2.resize(image, size, interpolation=cv2.INTER_AREA))
    if image.ndim == 3:
        return cast("npt.NDArray[np.uint8]", cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    return image


def _laplacian_variance(gray: npt.NDArray[np.uint8]) -> float:
    laplacian = cv2.Laplacian(gray, cv2.CV_32F)
    _, std = cv2.meanStdDev(laplacian)
    return float(std[0, 0]) ** 2
