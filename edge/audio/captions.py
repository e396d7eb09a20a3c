"""Caption planning: when to (re)transcribe what, while someone is speaking.

A pure state machine beside the endpointer (no model, no clock, no I/O): it
takes every audio chunk the listener took, with the events the listener gave
for it, and answers with `CaptionRequest`s — "transcribe this audio now, as a
revision (partial) of line N" or "… as line N's final text".

It lives on the edge because that is where the audio and the VAD's verdicts
are: the edge decides which audio is worth transcribing (and how often), and
whoever owns the transcriber (the cloud's Whisper, or a local one in
local-only mode) only turns requests into text.

- While speech goes on, a request for the whole line so far every
  `partial_every_s` of new audio, so the caption is revised as words come;
  not during a pause, when the final text may be about to be asked for.
- A line ends at a pause (the endpointer's end of speech) or, in long speech,
  once it has `max_line_s` of audio: it is then cut at the quietest moment of
  its last `max_line_s - min_line_s` seconds (a breath between words, not the
  middle of one), and the rest starts the next line.

Times are seconds on the source's timeline, as the listener's events carry
them; chunks must follow each other without gaps, as the listener needs too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edge.audio.endpointing import EndpointEvent, SpeechEnded, SpeechStarted
from edge.sources.media import SAMPLE_RATE, AudioChunk

# A cut is placed at the quietest window of this length (64 ms: two VAD chunks).
_CUT_WINDOW = 1024
# A stretch at under a tenth of the line's mean power (-10 dB) is a pause.
PAUSE_LEVEL = 0.1


@dataclass(frozen=True, slots=True)
class CaptionConfig:
    """How often a line is revised and how long it may grow.

    One second between revisions keeps a caption close to the speech without
    queueing more transcriptions than Whisper base does on two cores; 6–8 s
    lines fit two rows of a glasses display and keep each transcription short.
    """

    partial_every_s: float = 1.0
    min_line_s: float = 6.0
    max_line_s: float = 8.0
    pre_roll_s: float = 0.3

    def __post_init__(self) -> None:
        if self.partial_every_s <= 0:
            raise ValueError(f"partial_every_s must be positive, got {self.partial_every_s}")
        if not 0 < self.min_line_s <= self.max_line_s:
            raise ValueError(
                f"need 0 < min_line_s ({self.min_line_s}) <= max_line_s ({self.max_line_s})"
            )
        if self.pre_roll_s < 0:
            raise ValueError(f"pre_roll_s must not be negative, got {self.pre_roll_s}")


@dataclass(frozen=True, slots=True, eq=False)
class CaptionRequest:
    """Transcribe `samples` now: line `line_id`'s revision, or its final text.

    `speech_start`/`speech_end` bound the line's speech (for a partial, the
    end is the audio heard so far); `at` is when the request was made, the
    source time of the last sample that led to it.
    """

    line_id: int
    samples: npt.NDArray[np.int16] = field(repr=False)
    final: bool
    speech_start: float
    speech_end: float
    at: float


class CaptionPlanner:
    """Feed it every chunk with the listener's events for that chunk, in order."""

    def __init__(self, config: CaptionConfig | None = None) -> None:
        self.config = config or CaptionConfig()
        self._partial_every = round(self.config.partial_every_s * SAMPLE_RATE)
        self._min_line = round(self.config.min_line_s * SAMPLE_RATE)
        self._max_line = round(self.config.max_line_s * SAMPLE_RATE)
        # Recent audio: everything since the current line began (or, outside
        # speech, the last couple of seconds, enough for a late SpeechStarted).
        self._audio = np.zeros(0, dtype=np.int16)
        self._audio_t = 0.0  # source time of self._audio[0]
        self._next_line = 0
        self._line: int | None = None  # the line being spoken, if any
        self._line_start = 0.0  # source time the line's audio starts
        self._line_speech_start = 0.0
        self._revised_at = 0  # line samples at the last request

    @property
    def in_line(self) -> bool:
        return self._line is not None

    def push(self, chunk: AudioChunk, events: Sequence[EndpointEvent]) -> list[CaptionRequest]:
        """Take the next chunk and the events the listener gave for it."""
        if self._audio.size == 0:
            self._audio_t = chunk.t
        self._audio = np.concatenate([self._audio, chunk.samples])
        end = chunk.t + chunk.duration
        requests: list[CaptionRequest] = []
        for event in events:
            if isinstance(event, SpeechStarted):
                self._start_line(event.t - self.config.pre_roll_s, event.t)
            elif isinstance(event, SpeechEnded):
                requests += self._end_line(event)
        if self._line is not None:
            requests += self._grow(end)
        else:
            self._forget_before(end - 2.0 - self.config.pre_roll_s)
        return requests

    def flush(self, events: Sequence[EndpointEvent]) -> list[CaptionRequest]:
        """End of stream: the listener's flush events close the line in progress."""
        requests: list[CaptionRequest] = []
        for event in events:
            if isinstance(event, SpeechEnded):
                requests += self._end_line(event)
        self._line = None
        self._audio = np.zeros(0, dtype=np.int16)
        return requests

    def _start_line(self, audio_start: float, speech_start: float) -> None:
        self._line = self._next_line
        self._next_line += 1
        self._line_start = max(audio_start, self._audio_t)
        self._line_speech_start = speech_start
        self._revised_at = 0

    def _end_line(self, event: SpeechEnded) -> list[CaptionRequest]:
        if self._line is None:  # an utterance that ended as it was confirmed
            self._start_line(event.speech_start - self.config.pre_roll_s, event.speech_start)
        assert self._line is not None
        # The endpointer's own samples are the utterance; a line cut earlier
        # takes only its part after the cut.
        skip = max(0, round((self._line_start - event.samples_start) * SAMPLE_RATE))
        request = CaptionRequest(
            line_id=self._line,
            samples=event.samples[skip:].copy(),
            final=True,
            speech_start=self._line_speech_start,
            speech_end=event.speech_end,
            at=event.detected_at,
        )
        self._line = None
        return [request]

    def _grow(self, now: float) -> list[CaptionRequest]:
        assert self._line is not None
        line = self._line_audio(now)
        if line.size >= self._max_line:
            cut = self._min_line + _quietest(line[self._min_line : self._max_line])
            cut_t = self._line_start + cut / SAMPLE_RATE
            final = CaptionRequest(
                line_id=self._line,
                samples=line[:cut].copy(),
                final=True,
                speech_start=self._line_speech_start,
                speech_end=cut_t,
                at=now,
            )
            self._forget_before(cut_t)
            self._start_line(cut_t, cut_t)
            return [final, *self._grow(now)]
        if line.size - self._revised_at >= self._partial_every and _still_speaking(line):
            self._revised_at = line.size
            return [
                CaptionRequest(
                    line_id=self._line,
                    samples=line.copy(),
                    final=False,
                    speech_start=self._line_speech_start,
                    speech_end=now,
                    at=now,
                )
            ]
        return []

    def _line_audio(self, now: float) -> npt.NDArray[np.int16]:
        first = max(0, round((self._line_start - self._audio_t) * SAMPLE_RATE))
        last = round((now - self._audio_t) * SAMPLE_RATE)
        return self._audio[first:last]

    def _forget_before(self, t: float) -> None:
        drop = round((t - self._audio_t) * SAMPLE_RATE)
        if drop > 0:
            self._audio = self._audio[drop:]
            self._audio_t += drop / SAMPLE_RATE


def _still_speaking(line: npt.NDArray[np.int16]) -> bool:
    """Whether the line's last 128 ms are not a pause: a revision asked for in the pause
    before an end of speech would only hold up the final text behind it."""
    tail = line[-2048:].astype(np.float64)
    whole = line.astype(np.float64)
    return float(np.mean(tail**2)) >= PAUSE_LEVEL * float(np.mean(whole**2))


def _quietest(samples: npt.NDArray[np.int16]) -> int:
    """Offset of the middle of the lowest-energy window in `samples`."""
    if samples.size <= _CUT_WINDOW:
        return samples.size // 2
    energy = np.square(samples.astype(np.float64))
    sums = np.convolve(energy, np.ones(_CUT_WINDOW), mode="valid")
    return int(np.argmin(sums)) + _CUT_WINDOW // 2
