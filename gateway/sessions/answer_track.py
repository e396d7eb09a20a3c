"""Spoken answers to the phone app as a WebRTC audio track.

The cloud sends each spoken answer as `AnswerAudio` parts (mono s16le at the
voice's own rate, e.g. 22,050 Hz). The app is a browser: it plays media, not
data-channel PCM, so the gateway queues the parts in an `AnswerPlayout`
(resampled to 48 kHz, the rate Opus runs at, so the encoder resamples nothing)
and an `AnswerTrack` on the app's peer connection plays it out in real time,
20 ms at a time, with silence between answers. An Interrupt (barge-in) flushes
what is queued, so the phone stops talking at once.

The playout belongs to the session and outlives connections; each connection
gets its own `AnswerTrack` reading from it (a reconnect resumes mid-answer).
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections import deque
from collections.abc import Callable

import av
import numpy as np
import numpy.typing as npt
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from protocol.limits import MAX_ANSWER_PLAYOUT_S

PLAYOUT_RATE = 48_000
FRAME_S = 0.020
FRAME_SAMPLES = int(PLAYOUT_RATE * FRAME_S)


class AnswerPlayout:
    """Queued answer audio at 48 kHz: parts in, fixed 20 ms frames out.

    No clock and no I/O: `push` resamples and queues, `next_frame` takes the next
    20 ms (silence when nothing is queued), `flush` drops everything queued.
    Holds at most `MAX_ANSWER_PLAYOUT_S` of audio; past that the oldest goes.
    """

    def __init__(self, max_seconds: float = MAX_ANSWER_PLAYOUT_S) -> None:
        self._chunks: deque[npt.NDArray[np.int16]] = deque()
        self._queued = 0
        self._max_samples = int(max_seconds * PLAYOUT_RATE)
        self._resampler: av.AudioResampler | None = None
        self._rate = 0
        self.played_samples = 0
        self.flushed = 0

    @property
    def queued_s(self) -> float:
        return self._queued / PLAYOUT_RATE

    def push(self, pcm: bytes, sample_rate: int, *, last: bool = False) -> None:
        """One part of a spoken answer; `last` ends it (the resampler's tail is let out)."""
        if sample_rate != self._rate or self._resampler is None:
            self._end_answer()
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=PLAYOUT_RATE)
            self._rate = sample_rate
        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.int16)
        if samples.size:
            frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = sample_rate
            self._queue_frames(self._resampler.resample(frame))
        if last:
            self._end_answer()

    def _end_answer(self) -> None:
        if self._resampler is not None:
            self._queue_frames(self._resampler.resample(None))
        self._resampler = None
        self._rate = 0

    def _queue_frames(self, frames: list[av.AudioFrame]) -> None:
        for out in frames:
            samples = out.to_ndarray().reshape(-1).astype(np.int16, copy=False)
            if samples.size:
                self._chunks.append(samples)
                self._queued += samples.size
        while self._queued > self._max_samples and self._chunks:
            self._queued -= self._chunks.popleft().size

    def next_frame(self) -> npt.NDArray[np.int16]:
        """The next 20 ms to play: queued speech, padded with silence when it runs out."""
        out = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        filled = 0
        while filled < FRAME_SAMPLES and self._chunks:
            chunk = self._chunks[0]
            take = min(FRAME_SAMPLES - filled, chunk.size)
            out[filled : filled + take] = chunk[:take]
            filled += take
            if take == chunk.size:
                self._chunks.popleft()
            else:
                self._chunks[0] = chunk[take:]
        self._queued -= filled
        self.played_samples += filled
        return out

    def flush(self) -> None:
        """Barge-in: nothing queued is played, and a half-resampled answer is dropped."""
        if self._queued:
            self.flushed += 1
        self._chunks.clear()
        self._queued = 0
        self._resampler = None
        self._rate = 0


class AnswerTrack(MediaStreamTrack):
    """An audio track that plays an `AnswerPlayout` in real time, 20 ms per frame."""

    kind = "audio"

    def __init__(
        self, playout: AnswerPlayout, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self._playout = playout
        self._clock = clock
        self._start = 0.0
        self._pts = -1

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._pts < 0:
            self._start = self._clock()
            self._pts = 0
        else:
            self._pts += FRAME_SAMPLES
            wait = self._start + self._pts / PLAYOUT_RATE - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
        samples = self._playout.next_frame()
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = PLAYOUT_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, PLAYOUT_RATE)
        return frame
