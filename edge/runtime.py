"""The edge pipeline for one session: media in, protocol messages out.

Audio goes through the listener (Silero VAD + endpointing); every frame is
scored for sharpness on arrival and kept for a short while. At end of speech
the utterance leaves at once as SpeechSegment parts; the sharpest recent frame
is then analysed (OCR, classifier) off the event loop and sent as a Keyframe
and an Observation, while the cloud is already transcribing.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

from edge.config import EdgeConfig
from edge.endpointing import SpeechEnded
from edge.listener import Listener
from edge.media import AudioChunk, MediaItem, Source, VideoFrame
from edge.vision.analysis import KeyframeAnalyser
from edge.vision.jpeg import encode_jpeg
from edge.vision.quality import sharpness
from edge.vision.scaling import fit_longest_side
from protocol import (
    MAX_SEGMENT_PART_BYTES,
    Keyframe,
    Message,
    Observation,
    Query,
    Sequencer,
    SpeechSegment,
)

log = logging.getLogger(__name__)

Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ScoredFrame:
    t: float
    image: np.ndarray
    sharpness: float


@dataclass
class EdgeStats:
    audio_seconds: float = 0.0
    frames_seen: int = 0
    frames_analysed: int = 0
    segments: int = 0
    keyframes_sent: int = 0
    keyframe_bytes: int = 0


class EdgeRuntime:
    def __init__(
        self,
        listener: Listener,
        analyser: KeyframeAnalyser | None,
        out: Sequencer,
        send: Send,
        *,
        config: EdgeConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._listener = listener
        self._analyser = analyser
        self._out = out
        self._send = send
        self.config = config or EdgeConfig()
        self._clock = clock
        self._frames: deque[ScoredFrame] = deque()
        # (end of chunk in source seconds, monotonic arrival): maps source time onto
        # the clock, so "speech_end" means when the edge heard the last word.
        self._arrivals: deque[tuple[float, float]] = deque(maxlen=2048)
        self._turn_id = 0
        self.stats = EdgeStats()

    async def run(self, source: Source) -> None:
        """Consume the source to its end; turns in flight finish before this returns."""
        async with asyncio.TaskGroup() as turns:
            async for item in source:
                for ended in self._take(item):
                    segment_turn = await self._send_speech(ended)
                    frame = self._keyframe_for(ended.speech_end)
                    if frame is not None and self._camera_allowed():
                        turns.create_task(self._send_visual(segment_turn, frame))
            for event in self._listener.flush():
                if isinstance(event, SpeechEnded):
                    await self._send_speech(event)

    async def ask(self, text: str) -> int:
        """A typed question about what is in view now."""
        self._turn_id += 1
        frame = self._frames[-1] if self._frames else None
        visual = frame is not None and self._camera_allowed()
        await self._send(
            self._out.make(
                Query, turn_id=self._turn_id, text=text, mode=self.config.mode, visual=visual
            )
        )
        if visual and frame is not None:
            await self._send_visual(self._turn_id, frame)
        return self._turn_id

    def _camera_allowed(self) -> bool:
        return self._analyser is not None and self.config.privacy == "standard"

    def _take(self, item: MediaItem) -> list[SpeechEnded]:
        if isinstance(item, VideoFrame):
            self.stats.frames_seen += 1
            self._frames.append(ScoredFrame(item.t, item.image, sharpness(item.image)))
            horizon = item.t - self.config.keyframe_lookback_s - 1.0
            while self._frames and self._frames[0].t < horizon:
                self._frames.popleft()
            return []
        assert isinstance(item, AudioChunk)
        self.stats.audio_seconds += item.duration
        self._arrivals.append((item.t + item.duration, self._clock()))
        return [e for e in self._listener.feed(item) if isinstance(e, SpeechEnded)]

    def _heard_at(self, source_t: float) -> float:
        """Monotonic time at which audio up to `source_t` had arrived."""
        ends = [end for end, _ in self._arrivals]
        i = min(bisect.bisect_left(ends, source_t - 1e-6), len(ends) - 1)
        return self._arrivals[i][1] if self._arrivals else self._clock()

    async def _send_speech(self, ended: SpeechEnded) -> int:
        self._turn_id += 1
        self.stats.segments += 1
        pcm = ended.samples.astype("<i2").tobytes()
        parts = [
            pcm[i : i + MAX_SEGMENT_PART_BYTES] for i in range(0, len(pcm), MAX_SEGMENT_PART_BYTES)
        ] or [b""]
        visual = self._camera_allowed() and bool(self._frames)
        speech_end = self._heard_at(ended.speech_end)
        detected = self._heard_at(ended.detected_at)
        for index, part in enumerate(parts):
            await self._send(
                self._out.make(
                    SpeechSegment,
                    turn_id=self._turn_id,
                    pcm=part,
                    part=index,
                    last=index == len(parts) - 1,
                    speech_start=self._heard_at(ended.speech_start),
                    speech_end=speech_end,
                    detected_at=detected,
                    visual=visual,
                    mode=self.config.mode,
                )
            )
        return self._turn_id

    def _keyframe_for(self, speech_end: float) -> ScoredFrame | None:
        window = [
            f for f in self._frames if f.t >= speech_end - self.config.keyframe_lookback_s
        ] or list(self._frames)[-1:]
        return max(window, key=lambda f: f.sharpness, default=None)

    async def _send_visual(self, turn_id: int, frame: ScoredFrame) -> None:
        assert self._analyser is not None
        analyser = self._analyser
        # Analyse exactly the pixels that leave the device, at the size they leave.
        image = fit_longest_side(frame.image, self.config.max_jpeg_side)
        context, jpeg = await asyncio.to_thread(
            lambda: (
                analyser.analyse(image),
                encode_jpeg(image, max_bytes=self.config.max_jpeg_bytes),
            )
        )
        for error in context.errors:
            log.warning("turn %s: vision stage failed: %s", turn_id, error)
        self.stats.frames_analysed += 1
        height, width = image.shape[:2]
        captured = self._heard_at(frame.t)
        await self._send(
            self._out.make(
                Keyframe,
                turn_id=turn_id,
                jpeg=jpeg,
                width=width,
                height=height,
                captured_at=captured,
                sharpness=frame.sharpness,
            )
        )
        self.stats.keyframes_sent += 1
        self.stats.keyframe_bytes += len(jpeg)
        await self._send(
            self._out.make(
                Observation,
                turn_id=turn_id,
                captured_at=captured,
                ocr=context.ocr,
                labels=context.labels,
                analysed_ms=context.analysed_ms,
                errors=context.errors,
            )
        )
