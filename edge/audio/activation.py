"""Who has the floor: activation modes, follow-up turns and barge-in, as a pure state machine.

The endpointer finds utterances; this decides which of them are meant for the
assistant and when the wearer is talking over an answer. Modes:

- `always`: every utterance is a question (the behaviour without this module).
- `wake`: an utterance counts when the wake phrase is heard in it ("Hey
  companion, what is this?"); the phrase said alone opens the floor for the
  next utterance that starts within `open_window_s`.
- `push`: an utterance counts when the button was pressed while it went on, or
  at most `open_window_s` before it started.

In `wake` and `push` mode, speech that starts within `follow_up_s` after an
answer ended is a follow-up and needs neither. Barge-in: speech admitted while
an answer is being delivered interrupts it (in `push` mode it is the button
press that interrupts, so a wearer who says "uh-huh" to the answer does not
cut it off); a button press interrupts in every mode.

Every event carries its time on the audio stream's timeline (source seconds);
answer progress is stamped with the source time of the audio heard when it
arrived. No clocks, no I/O: feed it a list, read the decisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from edge.audio.endpointing import SpeechEnded, SpeechStarted

ActivationMode = Literal["always", "wake", "push"]
ACTIVATION_MODES: tuple[str, ...] = get_args(ActivationMode)

# The defaults, shared with EdgeConfig so the live edge and a bare Activation agree.
ACTIVATION: ActivationMode = "always"
FOLLOW_UP_S = 5.0
BARGE_IN = True


@dataclass(frozen=True, slots=True)
class ActivationConfig:
    mode: ActivationMode = ACTIVATION
    # Speech starting this long after an answer ended is a follow-up: no wake phrase or button.
    follow_up_s: float = FOLLOW_UP_S
    # After the wake phrase said alone or a button press, the next utterance
    # counts if it starts within this.
    open_window_s: float = 5.0
    # An utterance whose speech ends this soon after the wake phrase was heard
    # held nothing but the phrase ("Hey companion." … "what is this?").
    wake_only_s: float = 0.5
    barge_in: bool = BARGE_IN

    def __post_init__(self) -> None:
        if self.mode not in ACTIVATION_MODES:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATION_MODES)}")
        if min(self.follow_up_s, self.open_window_s, self.wake_only_s) < 0:
            raise ValueError("follow_up_s, open_window_s and wake_only_s must not be negative")


@dataclass(frozen=True, slots=True)
class WakeHeard:
    """The wake phrase was recognised in audio ending at `t`."""

    t: float


@dataclass(frozen=True, slots=True)
class ButtonPressed:
    """The glasses' button (or the app's talk button) was pressed at `t`."""

    t: float


@dataclass(frozen=True, slots=True)
class AnswerStarted:
    """The first piece of the answer to `turn_id` reached the edge."""

    turn_id: int
    t: float


@dataclass(frozen=True, slots=True)
class AnswerFinished:
    """The answer to `turn_id` is over (done, interrupted, failed, or nothing was heard)."""

    turn_id: int
    t: float


ActivationEvent = (
    SpeechStarted | SpeechEnded | WakeHeard | ButtonPressed | AnswerStarted | AnswerFinished
)


@dataclass(frozen=True, slots=True)
class SendSpeech:
    """Send this utterance upstream as a turn; `reason` says why it counts."""

    ended: SpeechEnded
    reason: str


@dataclass(frozen=True, slots=True)
class IgnoreSpeech:
    """Keep this utterance on the device: it was not addressed to the assistant."""

    ended: SpeechEnded
    reason: str


@dataclass(frozen=True, slots=True)
class InterruptAnswer:
    """Tell the cloud to stop the answer to `turn_id`: the wearer spoke over it."""

    turn_id: int


Decision = SendSpeech | IgnoreSpeech | InterruptAnswer


@dataclass(slots=True)
class _Utterance:
    start: float
    reason: str | None  # None: not (yet) addressed to the assistant
    wake_t: float | None = None


class Activation:
    """Feed it every event of one session, in order; it returns what to do."""

    def __init__(self, config: ActivationConfig | None = None) -> None:
        self.config = config or ActivationConfig()
        self._utterance: _Utterance | None = None
        self._delivering: list[int] = []
        self._last_answer_end: float | None = None
        self._open_until = float("-inf")
        self._open_reason = ""
        self._open_wake_t: float | None = None

    @property
    def delivering(self) -> tuple[int, ...]:
        """Turns whose answer is arriving now and has not been interrupted."""
        return tuple(self._delivering)

    @property
    def addressed_since(self) -> float | None:
        """When the utterance going on now began, if it is already known to be meant for
        the assistant (None: no utterance, or not addressed yet). The edge may prepare
        the turn's context from then on, before the wearer has finished speaking."""
        utterance = self._utterance
        return None if utterance is None or utterance.reason is None else utterance.start

    def push(self, event: ActivationEvent) -> list[Decision]:
        if isinstance(event, SpeechStarted):
            return self._speech_started(event.t)
        if isinstance(event, SpeechEnded):
            return [self._speech_ended(event)]
        if isinstance(event, WakeHeard):
            return self._wake_heard(event.t)
        if isinstance(event, ButtonPressed):
            return self._button_pressed(event.t)
        if isinstance(event, AnswerStarted):
            if event.turn_id not in self._delivering:
                self._delivering.append(event.turn_id)
            return []
        if event.turn_id in self._delivering:
            self._delivering.remove(event.turn_id)
        self._last_answer_end = event.t
        return []

    def _speech_started(self, t: float) -> list[Decision]:
        reason, wake_t = self._admit(t)
        utterance = _Utterance(start=t, reason=reason, wake_t=wake_t)
        self._utterance = utterance
        if utterance.reason is None or self.config.mode == "push":
            return []
        interrupts = self._interrupt_all()
        if interrupts:
            utterance.reason = "barge-in"
        return list(interrupts)

    def _admit(self, start: float) -> tuple[str | None, float | None]:
        """Why speech starting at `start` counts (None: it does not, yet), and the
        wake phrase heard in it before it was confirmed, if any."""
        if self.config.mode == "always":
            return "always", None
        if start <= self._open_until:
            self._open_until = float("-inf")
            wake_t = self._open_wake_t
            return self._open_reason, wake_t if wake_t is not None and wake_t >= start else None
        if self._delivering and self.config.mode == "wake":
            return "barge-in", None
        if self._last_answer_end is not None and start - self._last_answer_end <= (
            self.config.follow_up_s
        ):
            return "follow-up", None
        return None, None

    def _wake_heard(self, t: float) -> list[Decision]:
        if self.config.mode != "wake":
            return []
        utterance = self._utterance
        if utterance is None:
            self._open(t, "wake", wake_t=t)
            return []
        utterance.wake_t = t
        if utterance.reason is None:
            utterance.reason = "wake"
        return list(self._interrupt_all())

    def _button_pressed(self, t: float) -> list[Decision]:
        decisions: list[Decision] = list(self._interrupt_all())
        if self.config.mode != "push":
            return decisions
        utterance = self._utterance
        if utterance is not None and utterance.reason is None:
            utterance.reason = "push"
        else:
            self._open(t, "push")
        return decisions

    def _speech_ended(self, ended: SpeechEnded) -> Decision:
        utterance = self._utterance
        if utterance is None:  # an endpointer always confirms speech first; be safe anyway
            reason, wake_t = self._admit(ended.speech_start)
            utterance = _Utterance(start=ended.speech_start, reason=reason, wake_t=wake_t)
        self._utterance = None
        if utterance.reason is None:
            needed = "the wake phrase" if self.config.mode == "wake" else "a button press"
            return IgnoreSpeech(ended, f"not addressed to the assistant (needs {needed})")
        wake_t = utterance.wake_t
        if (
            utterance.reason == "wake"
            and wake_t is not None
            and ended.speech_end - wake_t <= self.config.wake_only_s
        ):
            self._open(ended.detected_at, "wake")
            return IgnoreSpeech(ended, "the wake phrase alone: listening for the question")
        return SendSpeech(ended, utterance.reason)

    def _open(self, t: float, reason: str, *, wake_t: float | None = None) -> None:
        self._open_until = t + self.config.open_window_s
        self._open_reason = reason
        self._open_wake_t = wake_t

    def _interrupt_all(self) -> tuple[InterruptAnswer, ...]:
        if not self.config.barge_in:
            return ()
        interrupts = tuple(InterruptAnswer(turn_id) for turn_id in self._delivering)
        self._delivering.clear()
        return interrupts
