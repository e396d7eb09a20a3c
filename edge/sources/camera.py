"""A local camera as an edge `Source`: OpenCV `VideoCapture` frames, time-stamped.

Anything VideoCapture opens works: a camera index (0 is the default camera), a
device path, a stream URL or a video file. Reading blocks, so every read runs
off the event loop. Frames are stamped with `clock() - start` when they were
read, on the same origin as the microphone's audio, so the runtime can pair a
question with what was in view.

A camera that cannot be opened is an error at once (`MediaError`). One that
disappears mid-session (unplugged, taken by another program) ends this source
with `error` set and a warning logged; the microphone and the session go on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

import cv2
import numpy as np

from edge.errors import MediaError
from edge.sources.media import VideoFrame

log = logging.getLogger(__name__)

# A live camera may drop the odd frame; this many failed reads in a row means it is gone.
_MAX_FAILED_READS = 30


def camera_device(spec: str) -> int | str:
    """`--camera` as VideoCapture wants it: "0" is camera 0, anything else a path or URL."""
    return int(spec) if spec.isdigit() else spec


class CameraSource:
    """`async for frame in CameraSource(0)`; `close()` (or leaving the loop) releases it."""

    def __init__(
        self,
        device: int | str = 0,
        *,
        fps_cap: float | None = None,
        start: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.device = device
        self._clock = clock
        self._start = clock() if start is None else start
        self._min_gap = 1.0 / fps_cap if fps_cap else 0.0
        self.frames_read = 0
        self.error: str | None = None
        self._capture = _quietly_open(device)
        if not self._capture.isOpened():
            self._capture.release()
            raise MediaError(
                f"camera {device!r} could not be opened: is it connected and not in use "
                "by another program? (--camera takes an index like 0, or a path or URL)"
            )
        self._live = isinstance(device, int) or not _is_file_like(device)

    def __aiter__(self) -> AsyncIterator[VideoFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[VideoFrame]:
        failed = 0
        last = float("-inf")
        try:
            while True:
                ok, image = await asyncio.to_thread(self._capture.read)
                if not ok or image is None or image.size == 0:
                    failed += 1
                    if not self._live:
                        return  # a file: its end (or a frame it cannot decode past)
                    if failed >= _MAX_FAILED_READS:
                        self.error = f"camera {self.device!r} stopped delivering frames"
                        log.warning("%s; going on without the camera", self.error)
                        return
                    continue
                failed = 0
                t = self._clock() - self._start
                if t - last < self._min_gap:
                    continue
                last = t
                self.frames_read += 1
                yield VideoFrame(t, _bgr(image))
        finally:
            self.close()

    def close(self) -> None:
        self._capture.release()


def _quietly_open(device: int | str) -> cv2.VideoCapture:
    """Open without OpenCV's backend-by-backend failure log: the MediaError says it all."""
    logging_ = cv2.utils.logging
    level = logging_.getLogLevel()
    logging_.setLogLevel(logging_.LOG_LEVEL_SILENT)
    try:
        return cv2.VideoCapture(device)
    finally:
        logging_.setLogLevel(level)


def _is_file_like(device: str) -> bool:
    return "://" not in device and not device.startswith("/dev/")


def _bgr(image: np.ndarray) -> np.ndarray:
    """Three-channel uint8 BGR, whatever the camera delivered (grey, BGRA)."""
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image if image.dtype == np.uint8 else image.astype(np.uint8)
