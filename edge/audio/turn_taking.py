"""Turn-taking over one audio stream: the listener, the wake-phrase spotter and `Activation`.

The runtime feeds audio chunks and button presses in and tells it how answers
are progressing; out come `Decision`s: utterances to send, utterances to keep
on the device, answers to interrupt. Answer progress is stamped with the
source time of the audio heard so far, so everything `Activation` compares is
on one timeline.

With a speaker (`AnswerPlayer`), barge-in on a spoken answer goes in two steps:
the first frame of speech heard over it pauses the playback at once; when the
utterance ends, `ClassifySpeech` asks the caller for its transcript, and
`classified` decides (edge/audio/backchannel.py): "mhm" resumes the answer
where it paused and is not a question, "stop" ends it, and a question ends it
and is sent. A blip the endpointer drops resumes it too.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    IgnoreSpeech,
    InterruptAnswer,
    SendSpeech,
    WakeHeard,
)
from edge.audio.backchannel import Meaning
from edge.audio.endpointing import SpeechEnded, SpeechStarted
from edge.audio.listener import Listener
from edge.audio.playback import AnswerPlayer
from edge.audio.wake import KeywordSpotter, PocketsphinxSpotter
from edge.config import EdgeConfig
from edge.sources.media import AudioChunk


@dataclass(frozen=True, slots=True)
class ClassifySpeech:
    """Speech over a spoken answer ended: transcribe it and call `TurnTaking.classified`."""

    ended: SpeechEnded


TurnDecision = Decision | ClassifySpeech


class TurnTaking:
    def __init__(
        self,
        listener: Listener,
        activation: Activation,
        spotter: KeywordSpotter | None = None,
        player: AnswerPlayer | None = None,
    ) -> None:
        self.listener = listener
        self.activation = activation
        self._spotter = spotter
        self._heard_until = 0.0
        self.player = player
        # Speech heard over a spoken answer, held until it is classified.
        self._held: list[SpeechStarted] | None = None
        self._classifying = False  # a ClassifySpeech is out, `classified` not yet called
        self.paused_at: list[float] = []  # source times at which playback was paused
        self.backchannels = 0

    def attach_player(self, player: AnswerPlayer) -> None:
        """Spoken answers play on `player`: its echo is cancelled, speech over it pauses it."""
        self.player = player
        self.listener.cancel_echo(player.reference)

    @property
    def heard_until(self) -> float:
        """Source time of the end of the last audio chunk."""
        return self._heard_until

    @property
    def addressed_since(self) -> float | None:
        """When the question being spoken now began (source seconds), or None: no speech,
        speech not (yet) meant for the assistant, or speech over an answer that may turn
        out to be a backchannel."""
        if self._held is not None or not self.listener.endpointer.in_speech:
            return None
        return self.activation.addressed_since

    def feed(self, chunk: AudioChunk) -> list[TurnDecision]:
        self._heard_until = max(self._heard_until, chunk.t + chunk.duration)
        events: list[ActivationEvent] = list(self.listener.feed(chunk))
        onsets = self.listener.take_onsets()
        if onsets and self._barging_in_on_speech():
            assert self.player is not None
            self.player.pause()
            self.paused_at.append(onsets[0])
            self._held = []
        if self._spotter is not None:
            # A phrase completing in this chunk belongs to the utterance it ends, if any.
            wakes = [WakeHeard(t) for t in self._spotter.feed(chunk)]
            ends = [i for i, e in enumerate(events) if isinstance(e, SpeechEnded)]
            at = ends[0] if ends else len(events)
            events[at:at] = wakes
        decisions = self._push(events)
        if self._held is not None and not self._classifying:
            if not self.listener.endpointer.in_speech:
                self._resume()  # a blip the endpointer dropped: not speech after all
        return decisions

    def classified(self, ended: SpeechEnded, meaning: Meaning) -> list[Decision]:
        """What the held utterance meant: resume the answer, or stop it (and send a question)."""
        held, self._held = self._held or [], None
        self._classifying = False
        if meaning == "backchannel":
            self.backchannels += 1
            if self.player is not None:
                self.player.resume()
            return [IgnoreSpeech(ended, "a backchannel over the answer: it goes on")]
        decisions: list[Decision] = []
        for event in held:
            decisions += self.activation.push(event)
        decisions += self.activation.push(ended)
        stopped = {d.turn_id for d in decisions if isinstance(d, InterruptAnswer)}
        if self.player is not None:
            turn = self.player.current_turn
            if turn is not None and turn not in stopped:
                decisions.append(InterruptAnswer(turn))
            self.player.stop()
        if meaning == "stop":
            return [
                IgnoreSpeech(ended, "asked to stop") if isinstance(d, SendSpeech) else d
                for d in decisions
            ]
        return decisions

    def _barging_in_on_speech(self) -> bool:
        return (
            self.player is not None
            and self._held is None
            and self.activation.config.barge_in
            and self.activation.config.mode != "push"
            and self.player.state == "playing"
        )

    def _resume(self) -> None:
        self._held = None
        if self.player is not None:
            self.player.resume()

    def flush(self) -> list[TurnDecision]:
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

    def _push(self, events: list[ActivationEvent]) -> list[TurnDecision]:
        decisions: list[TurnDecision] = []
        for event in events:
            if self._held is not None and isinstance(event, SpeechStarted):
                self._held.append(event)  # decided once the utterance is understood
            elif self._held is not None and isinstance(event, SpeechEnded):
                self._classifying = True
                decisions.append(ClassifySpeech(event))
            else:
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
