"""What a source delivered, made fit for the pipeline or refused with a clear reason.

Sources should deliver 16 kHz mono int16 audio and BGR uint8 frames, but a
glitching driver, a truncated photo from the glasses or a new source with a
bug can hand over anything. One bad item must cost that item only: the
runtime drops what these checks refuse (counting and logging it) and goes on.
Layouts that are merely different (grey or BGRA frames, stereo or float audio)
are converted rather than refused.
"""

from __future__ import annotations

from typing import cast

import cv2
import numpy as np
import numpy.typing as npt

from edge.errors import MediaError
from protocol.limits import MAX_FRAME_PIXELS, MAX_FRAME_SIDE

# Smaller than this is no picture (a truncated decode); the gates and models need a few pixels.
MIN_FRAME_SIDE = 16


def checked_frame(image: object) -> npt.NDArray[np.uint8]:
    """The frame as contiguous 3-channel BGR uint8; MediaError if it is no usable picture."""
    if not isinstance(image, np.ndarray):
        raise MediaError(f"a video frame must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise MediaError(f"a video frame must be uint8 pixels, got {image.dtype} {image.shape}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise MediaError(f"a video frame must be H×W grey, BGR or BGRA, got shape {image.shape}")
    if min(image.shape[:2]) < MIN_FRAME_SIDE:
        raise MediaError(
            f"a {image.shape[1]}×{image.shape[0]} frame is too small to be a picture "
            "(a truncated or failed decode?)"
        )
    height, width = image.shape[:2]
    if max(height, width) > MAX_FRAME_SIDE or height * width > MAX_FRAME_PIXELS:
        raise MediaError(
            f"a {width}×{height} frame is over the {MAX_FRAME_SIDE}-pixel side or "
            f"{MAX_FRAME_PIXELS}-pixel area ceiling; scale the source down"
        )
    if image.ndim == 2 or image.shape[2] == 1:
        return cast("npt.NDArray[np.uint8]", cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
    if image.shape[2] == 4:
        return cast("npt.NDArray[np.uint8]", cv2.cvtColor(image, cv2.COLOR_BGRA2BGR))
    return np.ascontiguousarray(image)


def checked_audio(samples: object) -> npt.NDArray[np.int16]:
    """The chunk as mono int16: channels (samples × channels) are averaged, float audio in
    -1..1 is scaled; MediaError for anything else."""
    if not isinstance(samples, np.ndarray):
        raise MediaError(f"audio must be a numpy array, got {type(samples).__name__}")
    if samples.dtype != np.int16 and samples.dtype.kind != "f":
        raise MediaError(f"audio must be int16 or float samples, got {samples.dtype}")
    if samples.ndim == 2 and samples.shape[1] > 8:
        raise MediaError(
            f"audio of shape {samples.shape} is not samples × channels; "
            "sources must deliver mono 16 kHz"
        )
    if samples.ndim not in (1, 2):
        raise MediaError(f"audio must be one or two dimensional, got shape {samples.shape}")
    if samples.dtype == np.int16 and samples.ndim == 1:
        return samples
    mono = samples.astype(np.float64)
    if mono.ndim == 2:
        mono = mono.mean(axis=1)
    if samples.dtype.kind == "f":
        if not np.all(np.isfinite(mono)):
            raise MediaError("audio holds NaN or infinite samples")
        mono = mono * 32767.0
    return cast("npt.NDArray[np.int16]", np.clip(np.round(mono), -32768, 32767).astype(np.int16))
