"""Listening: a VAD and an endpointer over audio chunks of any length.

Sources deliver audio in whatever pieces they have (20 ms Opus frames from the
glasses, 512-sample chunks from a replay, odd sizes from a microphone); the VAD
needs exactly `CHUNK_SAMPLES` at a time. The listener re-chunks, keeping the
remainder until the next piece arrives, and times every 512-sample frame by
its first sample.

While a spoken answer plays, an `EchoCanceller` with the player's reference
takes the assistant's own voice out of each frame before the VAD and the
endpointer see it (edge/audio/echo.py). The listener also notes each frame at
which the VAD first hears speech (`onsets`), long before the endpointer
confirms it: barge-in silences the answer there.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from edge.audio.echo import EchoCanceller
from edge.audio.endpointing import EndpointConfig, Endpointer, EndpointEvent
from edge.audio.smart_turn import TurnEndPolicy
from edge.audio.vad import Vad
from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk

_INT16_SCALE = np.float32(1.0 / 32768.0)

Reference = Callable[[float, int], npt.NDArray[np.int16]]
"""(source time, samples) → what the speaker played over them (AnswerPlayer.reference)."""


class Listener:
    """Turns one stream's audio into `SpeechStarted` / `SpeechEnded` events."""

    def __init__(
        self, vad: Vad, config: EndpointConfig | None = None, turn_end: TurnEndPolicy | None = None
    ) -> None:
        self.vad = vad
        self.endpointer = Endpointer(config, turn_end)
        self._pending = np.zeros(CHUNK_SAMPLES, dtype=np.int16)
        self._pending_count = 0
        self._pending_t = 0.0
        self._scaled = np.zeros(CHUNK_SAMPLES, dtype=np.float32)
        self._echo: tuple[EchoCanceller, Reference] | None = None
        # Source times of frames where speech began (not yet confirmed); drained by the caller.
        self.onsets: list[float] = []

    def cancel_echo(self, reference: Reference, canceller: EchoCanceller | None = None) -> None:
        """Take what the speaker plays (`reference`) out of every frame from now on."""
        self._echo = (canceller or EchoCanceller(CHUNK_SAMPLES), reference)

    def take_onsets(self) -> list[float]:
        onsets, self.onsets = self.onsets, []
        return onsets

    @property
    def config(self) -> EndpointConfig:
        return self.endpointer.config

    def feed(self, chunk: AudioChunk) -> list[EndpointEvent]:
        """Take the next piece of audio; return the events it caused, in order."""
        samples = chunk.samples
        events: list[EndpointEvent] = []
        start = 0
        if self._pending_count:
            start = min(CHUNK_SAMPLES - self._pending_count, len(samples))
            self._pending[self._pending_count : self._pending_count + start] = samples[:start]
            self._pending_count += start
            if self._pending_count < CHUNK_SAMPLES:
                return events
            events += self._frame(AudioChunk(self._pending_t, self._pending.copy()))
            self._pending_count = 0
        whole_end = start + (len(samples) - start) // CHUNK_SAMPLES * CHUNK_SAMPLES
        if start == 0 and whole_end == len(samples) == CHUNK_SAMPLES:
            events += self._frame(chunk)  # the usual case: no copy at all
            return events
        for offset in range(start, whole_end, CHUNK_SAMPLES):
            frame = samples[offset : offset + CHUNK_SAMPLES].copy()
            events += self._frame(AudioChunk(chunk.t + offset / SAMPLE_RATE, frame))
        if whole_end < len(samples):
            rest = len(samples) - whole_end
            self._pending[:rest] = samples[whole_end:]
            self._pending_count = rest
            self._pending_t = chunk.t + whole_end / SAMPLE_RATE
        return events

    def flush(self) -> list[EndpointEvent]:
        """End of stream: close the utterance in progress and start afresh.

        A last partial frame is scored zero-padded but only its real samples
        go into the utterance.
        """
        events: list[EndpointEvent] = []
        if self._pending_count:
            count = self._pending_count
            self._pending[count:] = 0
            probability = self._probability(self._pending)
            tail = AudioChunk(self._pending_t, self._pending[:count].copy())
            events += self.endpointer.push(tail, probability)
            self._pending_count = 0
        events += self.endpointer.flush()
        self.vad.reset()
        return events

    def _frame(self, chunk: AudioChunk) -> list[EndpointEvent]:
        if self._echo is not None:
            canceller, reference = self._echo
            heard = canceller.process(chunk.samples, reference(chunk.t, CHUNK_SAMPLES))
            chunk = AudioChunk(chunk.t, heard.residual)
        was_speech = self.endpointer.in_speech
        events = self.endpointer.push(chunk, self._probability(chunk.samples))
        if not was_speech and self.endpointer.in_speech:
            self.onsets.append(chunk.t)
        return events

    def _probability(self, samples: npt.NDArray[np.int16]) -> float:
        np.copyto(self._scaled, samples)
        self._scaled *= _INT16_SCALE
        return self.vad.probability(self._scaled)
