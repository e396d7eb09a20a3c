"""Endpointing: from per-chunk speech probabilities to utterances.

A pure state machine (no clocks, no I/O): each audio chunk comes in with the
VAD's speech probability and the time it carries; out come `SpeechStarted`
once speech is confirmed and `SpeechEnded`, with the utterance's audio, once
the speaker has been quiet for `end_silence_ms`.

Hysteresis as in Silero's own `VADIterator`: speech starts at a chunk at or
above `threshold`; while speech goes on, chunks down to `neg_threshold` still
count as voiced; once a chunk falls below `neg_threshold` the silence clock
runs, and only a chunk back at `threshold` stops it. Durations are counted in
samples, so 10 chunks of 32 ms are exactly 320 ms with no float drift.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from edge.sources.media import SAMPLE_RATE, AudioChunk

if TYPE_CHECKING:
    from edge.audio.smart_turn import TurnEndPolicy

# The defaults, shared with EdgeConfig so the live edge and a bare Endpointer agree.
# End of speech is declared after this much quiet following the last voiced 32 ms
# chunk: nine chunks, the most that stays within 300 ms of the last word.
END_SILENCE_MS = 288
PRE_ROLL_MS = 300
MIN_SPEECH_MS = 250


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    """When speech starts and ends; the defaults suit Silero VAD on 32 ms chunks."""

    threshold: float = 0.5
    neg_threshold: float = 0.35
    pre_roll_ms: int = PRE_ROLL_MS
    min_speech_ms: int = MIN_SPEECH_MS
    end_silence_ms: int = END_SILENCE_MS
    max_segment_s: float = 30.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.neg_threshold <= self.threshold <= 1.0:
            raise ValueError(
                f"need 0 <= neg_threshold ({self.neg_threshold}) <= threshold "
                f"({self.threshold}) <= 1"
            )
        if min(self.pre_roll_ms, self.min_speech_ms, self.end_silence_ms) < 0:
            raise ValueError("pre_roll_ms, min_speech_ms and end_silence_ms must not be negative")
        if self.max_segment_s <= 0:
            raise ValueError(f"max_segment_s must be positive, got {self.max_segment_s}")


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Speech confirmed (it has lasted `min_speech_ms`); it began at source time `t`."""

    t: float


@dataclass(frozen=True, slots=True, eq=False)
class SpeechEnded:
    """One utterance.

    `samples` run from `pre_roll_ms` before `speech_start` (so the first
    syllable's onset is kept) to `detected_at` (so is the last word's decay,
    which the VAD often already calls silence). `speech_end` is the end of the
    last voiced chunk; `detected_at` the end of the chunk at which the silence
    reached `end_silence_ms` (or the segment its maximum length, or the stream
    its end). All times are seconds on the source's timeline.
    """

    samples: npt.NDArray[np.int16] = field(repr=False)
    speech_start: float
    speech_end: float
    detected_at: float

    @property
    def samples_start(self) -> float:
        """Source time of `samples[0]`."""
        return self.detected_at - len(self.samples) / SAMPLE_RATE


EndpointEvent = SpeechStarted | SpeechEnded


def _samples(ms: float) -> int:
    return round(ms * SAMPLE_RATE / 1000)


class Endpointer:
    """Feed it every chunk of one stream, in order, with its speech probability.

    It keeps the chunks' sample arrays (not copies) until their utterance has
    ended: do not write into them after pushing.
    """

    def __init__(
        self, config: EndpointConfig | None = None, turn_end: TurnEndPolicy | None = None
    ) -> None:
        self.config = config or EndpointConfig()
        # Semantic end of turn (edge.audio.smart_turn): asked once per pause that reaches
        # `end_silence_ms`; "incomplete" waits for more speech, up to its cap.
        self.turn_end = turn_end
        self._cap_samples = _samples(turn_end.max_silence_ms) if turn_end else 0
        self._verdict: bool | None = None  # the model's word on the current pause
        self._pre_roll_samples = _samples(self.config.pre_roll_ms)
        self._min_speech_samples = _samples(self.config.min_speech_ms)
        self._end_silence_samples = _samples(self.config.end_silence_ms)
        self._max_segment_samples = _samples(self.config.max_segment_s * 1000)
        self._recent: deque[npt.NDArray[np.int16]] = deque()
        self._recent_samples = 0
        self._segment: list[npt.NDArray[np.int16]] = []
        self._segment_samples = 0
        self._in_speech = False
        self._confirmed = False
        self._speech_start = 0.0
        self._speech_end = 0.0
        self._voiced_samples = 0  # from speech start to the end of the last voiced chunk
        self._silence_samples = 0  # since the end of the last voiced chunk
        self._silent = False  # the silence clock is running
        self._last_end = 0.0

    @property
    def in_speech(self) -> bool:
        """Whether a (possibly unconfirmed) utterance is in progress."""
        return self._in_speech

    def push(self, chunk: AudioChunk, probability: float) -> list[EndpointEvent]:
        """Take the next chunk; return what it started or ended (usually nothing)."""
        n = len(chunk.samples)
        if n == 0:
            return []
        end = chunk.t + n / SAMPLE_RATE
        self._last_end = end
        if not self._in_speech:
            if probability < self.config.threshold:
                self._remember(chunk.samples)
                return []
            self._begin(chunk.t)
        self._segment.append(chunk.samples)
        self._segment_samples += n
        events: list[EndpointEvent] = []
        if self._is_voiced(probability):
            self._silent = False
            self._voiced_samples += self._silence_samples + n
            self._silence_samples = 0
            self._speech_end = end
            self._verdict = None
        else:
            self._silent = True
            self._silence_samples += n
        if not self._confirmed and self._voiced_samples >= self._min_speech_samples:
            self._confirmed = True
            events.append(SpeechStarted(self._speech_start))
        if self._silent and self._turn_is_over():
            events += self._finish(end)
        elif self._segment_samples >= self._max_segment_samples:
            events += self._finish(end, forced=True)
        return events

    def flush(self) -> list[EndpointEvent]:
        """End of stream: end the utterance in progress, if it was long enough to count.

        The endpointer is then as new, ready for another stream.
        """
        events = self._finish(self._last_end) if self._in_speech else []
        self.reset()
        return events

    def reset(self) -> None:
        """Forget everything: the next chunk starts a new stream."""
        self._recent.clear()
        self._recent_samples = 0
        self._clear_segment()

    def _turn_is_over(self) -> bool:
        """Enough silence: `end_silence_ms` after a turn that sounds complete (or with no
        turn-end model, or for a blip not yet confirmed as speech), the cap otherwise."""
        if self._silence_samples < self._end_silence_samples:
            return False
        if self.turn_end is None or not self._confirmed:
            return True
        if self._silence_samples >= self._cap_samples:
            return True
        if self._verdict is None:
            self._verdict = self.turn_end.is_complete(np.concatenate(self._segment))
        return self._verdict

    def _is_voiced(self, probability: float) -> bool:
        if self._silent:
            return probability >= self.config.threshold
        return probability >= self.config.neg_threshold

    def _remember(self, samples: npt.NDArray[np.int16]) -> None:
        """Keep the last `pre_roll_ms` of audio heard outside speech."""
        if self._pre_roll_samples == 0:
            return
        self._recent.append(samples)
        self._recent_samples += len(samples)
        while self._recent_samples - len(self._recent[0]) >= self._pre_roll_samples:
            self._recent_samples -= len(self._recent.popleft())

    def _begin(self, t: float) -> None:
        self._in_speech = True
        self._speech_start = t
        if self._recent:
            pre_roll = np.concatenate(self._recent)[-self._pre_roll_samples :]
            self._segment = [pre_roll]
            self._segment_samples = len(pre_roll)
        self._recent.clear()
        self._recent_samples = 0

    def _finish(self, detected_at: float, *, forced: bool = False) -> list[EndpointEvent]:
        events: list[EndpointEvent] = []
        if self._confirmed:
            events.append(
                SpeechEnded(
                    samples=np.concatenate(self._segment),
                    speech_start=self._speech_start,
                    speech_end=self._speech_end,
                    detected_at=detected_at,
                )
            )
            # Its quiet tail may hold the onset of what comes next; its speech
            # has left in this segment and must not be sent twice.
            tail = self._silence_samples if self._silent and not forced else 0
        else:
            tail = self._segment_samples  # a dropped blip: nothing of it was sent
        for piece in self._last_samples(tail):
            self._remember(piece)
        self._clear_segment()
        return events

    def _last_samples(self, wanted: int) -> list[npt.NDArray[np.int16]]:
        """The segment's last `wanted` samples (at most a pre-roll's worth), in order."""
        wanted = min(wanted, self._pre_roll_samples)
        pieces: list[npt.NDArray[np.int16]] = []
        for piece in reversed(self._segment):
            if wanted <= 0:
                break
            pieces.append(piece[-wanted:])
            wanted -= len(piece)
        return pieces[::-1]

    def _clear_segment(self) -> None:
        self._segment = []
        self._segment_samples = 0
        self._in_speech = False
        self._confirmed = False
        self._voiced_samples = 0
        self._silence_samples = 0
        self._silent = False
        self._verdict = None
