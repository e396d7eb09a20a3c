"""Playing spoken answers on the wearer's speaker, and remembering what was played.

`AnswerPlayer` is the pure core: `AnswerAudio` parts go in (any order, any
rate, PCM or Opus), the output pulls fixed blocks out against a time it passes
in, on the microphone's timeline (source seconds). Everything is resampled to
the microphone's 16 kHz so that what was played, kept for a few seconds, is
the echo reference the canceller (edge/audio/echo.py) holds against the
microphone sample for sample. Barge-in pauses it (silence from the very next
block), resumes it where it paused, or stops the turn for good.

No clocks, threads or devices here: `edge/audio/speaker_output.py` is the thin
sounddevice layer, and tests pull blocks from a list.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Literal, ParamSpec, TypeVar, cast

import av
import numpy as np
import numpy.typing as npt

from edge.audio.answer_codec import AnswerAudioError, decode_answer_audio
from edge.sources.media import SAMPLE_RATE
from protocol import AnswerAudio
from protocol.limits import MAX_ANSWER_PLAYOUT_S, MAX_SEGMENT_PARTS

PlayerState = Literal["idle", "playing", "paused"]

# What was played is kept this long: the echo canceller looks back at most a
# few hundred ms (the speaker-to-microphone path), a reconnecting caller a bit more.
HISTORY_S = 2.0


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _locked(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """The speaker's thread pulls while the event loop adds and pauses: one at a time."""

    @wraps(method)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with cast("AnswerPlayer", args[0])._lock:
            return method(*args, **kwargs)

    return run


@dataclass(slots=True)
class _Turn:
    turn_id: int
    resampler: av.AudioResampler | None
    rate: int = 0
    next_part: int = 0
    last_seen: bool = False
    waiting: dict[int, AnswerAudio] | None = None


class AnswerPlayer:
    """One speaker's playout: a queue of turns' audio, paused and resumed by barge-in."""

    def __init__(self, *, history_s: float = HISTORY_S, max_queued_s: float = MAX_ANSWER_PLAYOUT_S):
        self._lock = threading.RLock()
        self._queue: deque[tuple[int, npt.NDArray[np.int16]]] = deque()
        self._queued = 0
        self._max_queued = round(max_queued_s * SAMPLE_RATE)
        self._turns: dict[int, _Turn] = {}
        self._stopped: set[int] = set()
        self._ended: set[int] = set()  # turns whose last part has arrived
        self._paused = False
        self._history = np.zeros(round(history_s * SAMPLE_RATE), dtype=np.int16)
        self._written_until: int | None = None  # absolute sample index on the timeline
        self.now_playing: int | None = None  # the turn whose audio the last block held
        self.silenced_at: float | None = None  # first silent sample after the last pause
        self.dropped_samples = 0
        self.played_samples = 0  # answer audio handed to the speaker so far
        self.errors: list[str] = []

    @property
    def state(self) -> PlayerState:
        if self._paused and (self._queue or self._open_turns()):
            return "paused"
        return "playing" if self._queue else "idle"

    @property
    def speaking(self) -> bool:
        """Whether a spoken answer is under way: playing, paused, or waiting for parts."""
        return bool(self._queue) or bool(self._open_turns())

    @property
    def current_turn(self) -> int | None:
        """The turn that plays (or would play) next."""
        if self._queue:
            return self._queue[0][0]
        open_turns = self._open_turns()
        return min(open_turns) if open_turns else None

    @_locked
    def add(self, audio: AnswerAudio) -> None:
        """A part of a spoken answer; parts are played in order of `part`, waiting for a gap
        to fill. A part for a stopped turn, repeated or beyond the part ceiling is dropped."""
        if audio.turn_id in self._stopped | self._ended or not 0 <= audio.part < MAX_SEGMENT_PARTS:
            return
        turn = self._turns.get(audio.turn_id)
        if turn is None:
            turn = self._turns[audio.turn_id] = _Turn(audio.turn_id, None, waiting={})
        assert turn.waiting is not None
        if audio.part < turn.next_part or audio.part in turn.waiting:
            return
        turn.waiting[audio.part] = audio
        while turn.next_part in turn.waiting:
            part = turn.waiting.pop(turn.next_part)
            turn.next_part += 1
            self._append(turn, part)
            if part.last:
                turn.last_seen = True
                self._ended.add(turn.turn_id)
                self._flush(turn)
                break

    @_locked
    def pull(self, t: float, frames: int) -> npt.NDArray[np.int16]:
        """The next `frames` samples for the speaker, heard from source time `t` on.

        Silence while paused or when nothing is queued. What is returned is kept
        as the echo reference for [t, t + frames / 16 kHz).
        """
        out = np.zeros(frames, dtype=np.int16)
        playing: int | None = None
        if not self._paused:
            filled = 0
            while filled < frames and self._queue:
                turn_id, samples = self._queue[0]
                take = min(frames - filled, len(samples))
                out[filled : filled + take] = samples[:take]
                filled += take
                self.played_samples += take
                playing = turn_id
                self._queued -= take
                if take == len(samples):
                    self._queue.popleft()
                    self._forget_if_done(turn_id)
                else:
                    self._queue[0] = (turn_id, samples[take:])
        elif self.silenced_at is None:
            self.silenced_at = t
        self.now_playing = playing
        self._remember(round(t * SAMPLE_RATE), out)
        return out

    @_locked
    def reference(self, t: float, frames: int) -> npt.NDArray[np.int16]:
        """What the speaker played over [t, t + frames / 16 kHz): zeros where it played
        nothing, or longer ago than the history keeps."""
        out = np.zeros(frames, dtype=np.int16)
        if self._written_until is None:
            return out
        size = len(self._history)
        start = round(t * SAMPLE_RATE)
        lo = max(start, self._written_until - size)
        hi = min(start + frames, self._written_until)
        if lo < hi:
            index = np.arange(lo, hi) % size
            out[lo - start : hi - start] = self._history[index]
        return out

    @_locked
    def pause(self) -> None:
        """Silence from the next block on; the position is kept."""
        if not self._paused:
            self._paused = True
            self.silenced_at = None

    @_locked
    def resume(self) -> None:
        """Play on from where the pause left off."""
        self._paused = False

    @_locked
    def stop(self, turn_id: int | None = None) -> None:
        """Drop `turn_id`'s audio (default: every turn's), queued and still to come."""
        turns = {turn_id} if turn_id is not None else {t for t, _ in self._queue} | set(self._turns)
        self._stopped |= turns
        kept = deque(item for item in self._queue if item[0] not in turns)
        self._queued = sum(len(s) for _, s in kept)
        self._queue = kept
        for gone in turns:
            self._turns.pop(gone, None)
        self._paused = False

    def _open_turns(self) -> set[int]:
        return {t.turn_id for t in self._turns.values() if not t.last_seen}

    def _forget_if_done(self, turn_id: int) -> None:
        turn = self._turns.get(turn_id)
        if turn is not None and turn.last_seen and all(t != turn_id for t, _ in self._queue):
            del self._turns[turn_id]

    def _append(self, turn: _Turn, part: AnswerAudio) -> None:
        try:
            samples, rate = decode_answer_audio(part)
        except AnswerAudioError as exc:
            self.errors.append(f"turn {part.turn_id} part {part.part}: {exc}")
            return
        if turn.resampler is None or turn.rate != rate:
            self._flush(turn)
            turn.rate = rate
            turn.resampler = (
                None
                if rate == SAMPLE_RATE
                else av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            )
        if turn.resampler is not None and len(samples):
            frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = rate
            samples = _joined(turn.resampler.resample(frame))
        self._enqueue(turn.turn_id, samples)

    def _flush(self, turn: _Turn) -> None:
        """What the resampler still holds (at a turn's end or a change of rate)."""
        if turn.resampler is not None:
            self._enqueue(turn.turn_id, _joined(turn.resampler.resample(None)))
            turn.resampler = None
        if turn.last_seen and all(t != turn.turn_id for t, _ in self._queue):
            self._turns.pop(turn.turn_id, None)

    def _enqueue(self, turn_id: int, samples: npt.NDArray[np.int16]) -> None:
        room = self._max_queued - self._queued
        if len(samples) > room:
            self.dropped_samples += len(samples) - max(room, 0)
            samples = samples[: max(room, 0)]
        if len(samples):
            self._queue.append((turn_id, samples))
            self._queued += len(samples)

    def _remember(self, start: int, block: npt.NDArray[np.int16]) -> None:
        size = len(self._history)
        if self._written_until is not None and start > self._written_until:
            gap = min(start - self._written_until, size)
            self._history[np.arange(start - gap, start) % size] = 0
        tail = block[-size:]
        self._history[np.arange(start + len(block) - len(tail), start + len(block)) % size] = tail
        end = start + len(block)
        self._written_until = end if self._written_until is None else max(self._written_until, end)


def _joined(frames: list[av.AudioFrame]) -> npt.NDArray[np.int16]:
    pieces = [cast("npt.NDArray[np.int16]", f.to_ndarray()).reshape(-1) for f in frames]
    return np.concatenate(pieces).astype(np.int16) if pieces else np.zeros(0, dtype=np.int16)
