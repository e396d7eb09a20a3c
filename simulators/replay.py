"""Replaying files as a live source: what a camera and a microphone would deliver.

`replay` merges 512-sample audio chunks and video frames into one stream in
timestamp order, like the glasses would send them. The picture lasts as long
as the sound: a shorter video loops, a longer one is cut, a still image is
shown throughout. A second of silence follows the audio so the endpointer can
close the last utterance, as it would when the wearer stops talking.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from contextlib import closing
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk, MediaItem, VideoFrame
from simulators.media import VideoReader, open_video, read_audio

Speed = Literal["realtime", "max"]

# At full speed the event loop still gets a turn this often, so the consumer's
# network I/O and timers keep running during a long replay.
_YIELD_EVERY = 8
_STILL_WITHOUT_AUDIO_S = 1.0


async def replay(
    video: Path | None,
    audio: Path | None,
    *,
    speed: Speed = "max",
    audio_format: str | None = None,
    tail_silence_s: float = 1.0,
    video_fps_cap: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncIterator[MediaItem]:
    """Audio chunks and video frames from files, in timestamp order.

    `speed="realtime"` hands out each item when a live device would have it
    (an audio chunk once its last sample is captured, a frame at its
    timestamp) against `clock`; `"max"` as fast as the consumer takes them.
    Without audio, a video plays once and a still image shows for 1 s.
    Files are read before the first item, so a bad file fails at once with a
    `MediaError`.
    """
    if video is None and audio is None:
        raise ValueError("replay needs a video, an audio file or both")
    if speed not in ("realtime", "max"):
        raise ValueError(f"speed must be 'realtime' or 'max', not {speed!r}")
    samples = None
    if audio is not None:
        samples = with_tail_silence(
            await asyncio.to_thread(read_audio, audio, audio_format), tail_silence_s
        )
    duration = None if samples is None else len(samples) / SAMPLE_RATE
    reader = None
    if video is not None:
        still_s = duration if duration is not None else _STILL_WITHOUT_AUDIO_S
        reader = await asyncio.to_thread(open_video, video, still_s=still_s)

    items = _merged(
        _audio_chunks(samples) if samples is not None else iter(()),
        _video_frames(reader, duration, video_fps_cap) if reader is not None else iter(()),
    )
    with closing(items):
        started = clock()
        for count, item in enumerate(items, start=1):
            if speed == "realtime":
                due = started + item.t + (item.duration if isinstance(item, AudioChunk) else 0.0)
                wait = due - clock()
                if wait > 0:
                    await sleep(wait)
                elif count % _YIELD_EVERY == 0:
                    await sleep(0)
            elif count % _YIELD_EVERY == 0:
                await sleep(0)
            yield item


def with_tail_silence(samples: npt.NDArray[np.int16], tail_s: float) -> npt.NDArray[np.int16]:
    """`samples`, then at least `tail_s` of zeros, padded to a whole number of chunks."""
    total = len(samples) + max(0, round(tail_s * SAMPLE_RATE))
    total = -(-total // CHUNK_SAMPLES) * CHUNK_SAMPLES
    padded = np.zeros(total, dtype=np.int16)
    padded[: len(samples)] = samples
    return padded


def _audio_chunks(samples: npt.NDArray[np.int16]) -> Iterator[AudioChunk]:
    for offset in range(0, len(samples), CHUNK_SAMPLES):
        yield AudioChunk(offset / SAMPLE_RATE, samples[offset : offset + CHUNK_SAMPLES])


def _video_frames(
    reader: VideoReader, until: float | None, fps_cap: float | None
) -> Generator[VideoFrame, None, None]:
    """The reader's frames before `until`, looping the video if it is shorter.

    With `until=None` the video plays once.
    """
    offset = 0.0
    next_allowed = 0.0
    min_gap = 1.0 / fps_cap if fps_cap else 0.0
    while True:
        last_t = None
        interval = 0.0
        with closing(reader.frames()) as frames:
            for frame in frames:
                if last_t is not None:
                    interval = frame.t - last_t
                last_t = frame.t
                t = offset + frame.t
                if until is not None and t >= until:
                    return
                # Half a millisecond of slack: 30 fps capped at 10 keeps every third frame.
                if t + 5e-4 >= next_allowed:
                    next_allowed = t + min_gap
                    yield frame if offset == 0.0 else VideoFrame(t, frame.image)
        if until is None or last_t is None:
            return
        # Loop: the next pass starts one frame interval after this one's last frame.
        offset += last_t + (interval or 1.0 / 25)


def _merged(
    audio: Iterator[AudioChunk], video: Iterator[VideoFrame]
) -> Generator[MediaItem, None, None]:
    """Both streams in timestamp order; audio first on a tie."""
    next_audio = next(audio, None)
    next_video = next(video, None)
    try:
        while next_audio is not None or next_video is not None:
            if next_video is None or (next_audio is not None and next_audio.t <= next_video.t):
                assert next_audio is not None
                yield next_audio
                next_audio = next(audio, None)
            else:
                yield next_video
                next_video = next(video, None)
    finally:
        for stream in (audio, video):
            close = getattr(stream, "close", None)
            if close is not None:
                close()
