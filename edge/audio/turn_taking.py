"""Turn-taking over one audio stream: the listener, the wake-phrase spotter and `Activation`.

The runtime feeds audio chunks and button presses in and tells it how answers
are progressing; out come `Decision`s: utterances to send, utterances to keep
on the device, answers to interrupt. Answer progress is stamped with the
source time of the audio heard so far, so everything `Activation` compares is
on one timeline.
"""

from __future__ import annotations

from typing import cast

from edge.audio.activation import (
    ACTIVATION_MODES,
    Activation,
    ActivationConfig,
    ActivationEvent,
    ActivationMode,
    AnswerFinished,
    AnswerStarted,
    ButtonPressed,
    Decision,
    WakeHeard,
)
from edge.audio.endpointing import SpeechEnded
from edge.audio.listener import Listener
from edge.audio.wake import KeywordSpotter, PocketsphinxSpotter
from edge.config import EdgeConfig
from edge.sources.media import AudioChunk


class TurnTaking:
    def __init__(
        self, listener: Listener, activation: Activation, spotter: KeywordSpotter | None = None
    ) -> None:
        self.listener = listener
        self.activation = activation
        self._spotter = spotter
        self._heard_until = 0.0

    @property
    def heard_until(self) -> float:
        """Source time of the end of the last audio chunk."""
        return self._heard_until

    def feed(self, chunk: AudioChunk) -> list[Decision]:
        self._heard_until = max(self._heard_until, chunk.t + chunk.duration)
        events: list[ActivationEvent] = list(self.listener.feed(chunk))
        if self._spotter is not None:
            # A phrase completing in this chunk belongs to the utterance it ends, if any.
            wakes = [WakeHeard(t) for t in self._spotter.feed(chunk)]
            ends = [i for i, e in enumerate(events) if isinstance(e, SpeechEnded)]
            at = ends[0] if ends else len(events)
            events[at:at] = wakes
        return self._push(events)

    def flush(self) -> list[Decision]:
        """End of stream: close the utterance in progress and start afresh."""
        decisions = self._push(list(self.listener.flush()))
        if self._spotter is not None:
            self._spotter.reset()
        return decisions

    def button(self, t: float | None = None) -> list[Decision]:
        """A press at source time `t` (default: now, the end of the audio heard so far)."""
        return self.activation.push(ButtonPressed(self._heard_until if t is None else t))

    def answer_started(self, turn_id: int) -> list[Decision]:
        return self.activation.push(AnswerStarted(turn_id, self._heard_until))

    def answer_finished(self, turn_id: int) -> list[Decision]:
        return self.activation.push(AnswerFinished(turn_id, self._heard_until))

    def _push(self, events: list[ActivationEvent]) -> list[Decision]:
        decisions: list[Decision] = []
        for event in events:
            decisions += self.activation.push(event)
        return decisions


def turn_taking_for(
    listener: Listener, config: EdgeConfig, spotter: KeywordSpotter | None = None
) -> TurnTaking:
    """Turn-taking as `config` asks; in `wake` mode the bundled spotter unless one is given."""
    activation = Activation(
        ActivationConfig(
            mode=_mode(config.activation),
            follow_up_s=config.follow_up_s,
            barge_in=config.barge_in,
        )
    )
    if spotter is None and config.activation == "wake":
        spotter = PocketsphinxSpotter(config.wake_phrase, config.wake_threshold)
    return TurnTaking(listener, activation, spotter)


def _mode(name: str) -> ActivationMode:
    if name not in ACTIVATION_MODES:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATION_MODES)}, not {name!r}")
    return cast(ActivationMode, name)
