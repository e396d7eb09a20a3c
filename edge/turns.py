"""Is this turn over? One pure tracker, fed by both directions.

A turn opens when the edge sends something for it (speech, a typed question,
its keyframe or observation) and is over when its answer ends: `AnswerDone`,
an `Error` naming the turn, or an empty `Transcript` (nothing was heard). The
first piece of an answer is when the answer "began": barge-in and follow-up
turns depend on it. The edge runtime owns one tracker per session; the edge
session waits on it, the resuming link's pending turns and the gateway's app
sessions use the same rule, so the three can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol import (
    AnswerDelta,
    AnswerDone,
    Error,
    Keyframe,
    Message,
    Observation,
    Query,
    SpeechSegment,
    Transcript,
)


@dataclass(frozen=True, slots=True)
class AnswerBegan:
    turn_id: int


@dataclass(frozen=True, slots=True)
class TurnOver:
    turn_id: int


TurnEvent = AnswerBegan | TurnOver


def turn_of(message: Message) -> int | None:
    """The turn a message belongs to; None for session messages and live notes (turn 0)."""
    turn_id = getattr(message, "turn_id", None)
    if isinstance(turn_id, int) and turn_id > 0:
        return turn_id
    return None


def ends_turn(message: Message) -> bool:
    """Whether `message` is the end of its turn's answer."""
    if turn_of(message) is None:
        return False
    if isinstance(message, AnswerDone | Error):
        return True
    return isinstance(message, Transcript) and not message.text.strip()


class TurnTracker:
    """Open turns and where each answer stands. No clocks, no sockets."""

    def __init__(self) -> None:
        self._open: dict[int, bool] = {}  # turn id → its answer has begun
        self._over: set[int] = set()

    def sent(self, message: Message) -> list[TurnEvent]:
        """An upstream message: it opens its turn unless that turn is already over."""
        turn_id = turn_of(message)
        opens = isinstance(message, SpeechSegment | Query | Keyframe | Observation)
        if turn_id is not None and opens and turn_id not in self._over:
            self._open.setdefault(turn_id, False)
        return []

    def received(self, message: Message) -> list[TurnEvent]:
        """A downstream message (or an answer the device made itself)."""
        turn_id = turn_of(message)
        if turn_id is None or turn_id in self._over:
            return []
        events: list[TurnEvent] = []
        if isinstance(message, AnswerDelta | AnswerDone) and not self._open.get(turn_id, False):
            self._open[turn_id] = True
            if isinstance(message, AnswerDelta):
                events.append(AnswerBegan(turn_id))
        if ends_turn(message):
            self._open.pop(turn_id, None)
            self._over.add(turn_id)
            events.append(TurnOver(turn_id))
        return events

    def is_over(self, turn_id: int) -> bool:
        return turn_id in self._over

    @property
    def open_turns(self) -> tuple[int, ...]:
        return tuple(self._open)

    @property
    def all_over(self) -> bool:
        return not self._open
