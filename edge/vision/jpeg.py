"""Encoding a keyframe as a JPEG that fits the uplink's byte budget."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from edge.errors import MediaError
from edge.vision.scaling import fit_longest_side

JPEG_QUALITIES = (85, 75, 60, 45)  # tried in order; below 45 text becomes unreadable


def encode_jpeg(image: npt.NDArray[np.uint8], *, max_bytes: int, max_side: int = 1280) -> bytes:
    """The BGR `image` as a JPEG of at most `max_bytes`.

    Downscales so the longest side is at most `max_side`, then tries each of
    JPEG_QUALITIES from best to worst and returns the first that fits.
    """
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or image.size == 0:
        raise MediaError(
            f"cannot encode a {image.dtype} image of shape {image.shape} as JPEG: "
            "pass a non-empty uint8 BGR or grayscale image"
        )
    scaled = fit_longest_side(image, max_side)
    smallest = 0
    for quality in JPEG_QUALITIES:
        ok, encoded = cv2.imencode(".jpg", scaled, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise MediaError(f"OpenCV failed to encode a {scaled.shape} image as JPEG")
        if len(encoded) <= max_bytes:
            return encoded.tobytes()
        smallest = len(encoded)
    height, width = scaled.shape[:2]
    raise MediaError(
        f"a {width}x{height} JPEG needs {smallest} bytes even at quality {JPEG_QUALITIES[-1]}, "
        f"over the {max_bytes}-byte limit: lower max_side or raise max_bytes"
    )
