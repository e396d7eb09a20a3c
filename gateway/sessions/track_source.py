"""A `Source` over WebRTC tracks: the phone's camera and microphone as edge media.

The browser sends Opus audio (48 kHz, often stereo) and VP8/H.264 video; the
edge pipeline wants 16 kHz mono int16 chunks and BGR frames on one timeline.
Tracks come and go (a reconnect brings new ones), so readers push into one
bounded queue that outlives them, and the timeline is the session's clock:
seconds since the session started, never going backwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from edge.sources.media import SAMPLE_RATE, AudioChunk, MediaItem, VideoFrame

log = logging.getLogger(__name__)

# Scoring every 30 fps frame for sharpness costs CPU the models need; a keyframe
# is chosen among the last second or so, so a few frames a second are plenty.
VIDEO_FRAMES_PER_S = 5.0
QUEUE_ITEMS = 512


class TrackSource:
    """Feeds tracks' media into one async iterator of `MediaItem`.

    `accept_audio` / `accept_video` are asked for every item, so pausing capture
    or a privacy mode without camera drops media here, before any model sees it.
    """

    def __init__(
        self,
        *,
        accept_audio: Callable[[], bool] = lambda: True,
        accept_video: Callable[[], bool] = lambda: True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._accept_audio = accept_audio
        self._accept_video = accept_video
        self._clock = clock
        self._started = clock()
        self._queue: asyncio.Queue[MediaItem | None] = asyncio.Queue(maxsize=QUEUE_ITEMS)
        self._readers: set[asyncio.Task[None]] = set()
        self._audio_t = 0.0
        self._last_video = -1.0
        self.audio_seconds = 0.0
        self.frames = 0
        # Every frame the browser sent, taken or not: local-only must keep these still.
        self.received_audio_frames = 0
        self.received_video_frames = 0

    def add_track(self, track: MediaStreamTrack) -> None:
        """Start reading a newly received track until it ends or the source closes."""
        reader = self._read_audio(track) if track.kind == "audio" else self._read_video(track)
        task = asyncio.create_task(reader)
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)

    def _now(self) -> float:
        return self._clock() - self._started

    async def _read_audio(self, track: MediaStreamTrack) -> None:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                assert isinstance(frame, av.AudioFrame)
                self.received_audio_frames += 1
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().reshape(-1).astype(np.int16, copy=False)
                    if not samples.size:
                        continue
                    duration = samples.size / SAMPLE_RATE
                    # After a gap (a reconnect) audio resumes at the session's "now".
                    t = max(self._audio_t, self._now() - duration)
                    self._audio_t = t + duration
                    if self._accept_audio():
                        self.audio_seconds += duration
                        self._put(AudioChunk(t, samples))

    async def _read_video(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                assert isinstance(frame, av.VideoFrame)
                self.received_video_frames += 1
                now = self._now()
                if now - self._last_video < 1.0 / VIDEO_FRAMES_PER_S:
                    continue
                if not self._accept_video():
                    continue
                self._last_video = now
                image = frame.to_ndarray(format="bgr24")
                self.frames += 1
                self._put(VideoFrame(now, np.ascontiguousarray(image, dtype=np.uint8)))

    def _put(self, item: MediaItem) -> None:
        """Drop the oldest item rather than grow when the pipeline falls behind."""
        if self._queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
        self._queue.put_nowait(item)

    async def items(self) -> AsyncIterator[MediaItem]:
        """The media, in arrival order, until `close()`."""
        while (item := await self._queue.get()) is not None:
            yield item

    async def close(self) -> None:
        """Stop the readers and end the iteration."""
        for task in list(self._readers):
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        if self._queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
        self._queue.put_nowait(None)
