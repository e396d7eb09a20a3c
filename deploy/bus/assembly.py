"""A session's turns, assembled at the gateway into self-contained questions.

The cloud's Conversation assembles turns from a session's messages; on the bus
that happens at the gateway instead, because the gateway is the one place that
sees every message of a session. What leaves for the workers is one whole turn
at a time: the session's settings as they stand (its Hello and the latest
Control of each kind) and every message of the turn (speech parts or a typed
query, the observation, the keyframe, an interrupt that came before it left),
so the worker that takes it needs nothing else. The cloud's own per-session
ceilings (cloud.turn_limits) are checked here, where the session lives.

Pure: messages and the time in, refusals and ready turns out.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from cloud.turn_limits import Refusal, TurnLimits
from protocol import Control, Hello, Interrupt, Keyframe, Message, Observation, Query, SpeechSegment
from protocol.limits import MAX_SESSION_CONTROLS


@dataclass
class OpenTurn:
    """One turn's messages as they arrive (encoded), until it is complete and sent."""

    turn_id: int
    parts: dict[int, bytes] = field(default_factory=dict)
    messages: list[bytes] = field(default_factory=list)
    question: bool = False
    visual: bool = False
    observed: bool = False
    # When its question was complete (the observation wait is counted from here).
    completed_at: float = 0.0

    @property
    def queued(self) -> bool:
        return self.question


@dataclass(frozen=True, slots=True)
class ReadyTurn:
    """A turn to publish: the settings it is answered under, then its own messages."""

    turn_id: int
    messages: tuple[bytes, ...]
    question: bool


class TurnAssembler:
    """Files one session's messages; `take_ready` hands out what may be published."""

    def __init__(self, limits: TurnLimits) -> None:
        self._limits = limits
        self.hello: Hello | None = None
        self._hello_bytes = b""
        self._controls: dict[str, bytes] = {}
        self._open: dict[int, OpenTurn] = {}
        # Complete questions in the order they were asked, and scene notes.
        self._questions: deque[OpenTurn] = deque()
        self._notes: deque[bytes] = deque()
        # Questions published and not yet done: they count against the queue ceiling.
        self.in_flight = 0

    def file(self, message: Message, data: bytes, now: float) -> Refusal | None:
        """File `message` (its encoded bytes `data`); a Refusal is for the sender."""
        if isinstance(message, Hello):
            self.hello, self._hello_bytes = message, data
            self._controls.clear()  # a new Hello starts the session's settings afresh
            return None
        if isinstance(message, Control):
            return self.keep_control(message, data)
        queued = len(self._questions) + self.in_flight
        refusal = self._limits.check(message, self._open, queued=queued, now=now)
        if refusal is not None:
            return refusal
        if isinstance(message, Observation) and message.turn_id == 0:
            self._notes.append(data)  # a live scene note: remembered, nothing said
            return None
        if isinstance(message, SpeechSegment | Query | Observation | Keyframe | Interrupt):
            turn = self._open.get(message.turn_id)
            if turn is None:
                if isinstance(message, Interrupt):
                    return None  # nothing of that turn is here: nothing to stop
                turn = self._open[message.turn_id] = OpenTurn(message.turn_id)
            turn.messages.append(data)
            if isinstance(message, SpeechSegment):
                turn.parts[message.part] = message.pcm
            if isinstance(message, Observation):
                turn.observed = True
            if (isinstance(message, SpeechSegment) and message.last) or isinstance(message, Query):
                turn.question, turn.visual, turn.completed_at = True, message.visual, now
                self._questions.append(turn)
        return None

    def keep_control(self, control: Control, data: bytes) -> Refusal | None:
        """The latest Control of each action is part of every later turn's settings."""
        if control.action not in self._controls and len(self._controls) >= MAX_SESSION_CONTROLS:
            return Refusal("too_many_settings", f"at most {MAX_SESSION_CONTROLS} kinds of Control")
        self._controls.pop(control.action, None)
        self._controls[control.action] = data  # in the order they were last set
        return None

    def settings(self) -> tuple[bytes, ...]:
        return (self._hello_bytes, *self._controls.values()) if self._hello_bytes else ()

    def take_notes(self) -> list[ReadyTurn]:
        """Scene notes, each a turn of its own (they may go at once, in any order)."""
        notes = [ReadyTurn(0, (*self.settings(), note), False) for note in self._notes]
        self._notes.clear()
        return notes

    def take_question(self, now: float, observation_wait_s: float) -> ReadyTurn | float | None:
        """The next question if it may go now; else when to ask again (a visual question
        waits for its observation up to `observation_wait_s`); None: nothing waits."""
        if not self._questions:
            return None
        turn = self._questions[0]
        wait_until = turn.completed_at + observation_wait_s
        if turn.visual and not turn.observed and now < wait_until:
            return wait_until
        self._questions.popleft()
        self._open.pop(turn.turn_id, None)
        return ReadyTurn(turn.turn_id, (*self.settings(), *turn.messages), True)
