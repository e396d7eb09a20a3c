"""The per-session ceilings the cloud enforces as it assembles turns (protocol.limits).

One message at a time, before it is filed: an utterance longer than
`MAX_SEGMENT_SECONDS` or in more than `MAX_SEGMENT_PARTS` parts, more
questions than `MAX_QUESTIONS_PER_MINUTE` in the session or
`MAX_USER_QUESTIONS_PER_MINUTE` across all of its user's sessions (the
glasses and the phone app together), or a question while
`MAX_QUEUED_TURNS` already wait for the model is refused with a `Refusal` the
session turns into an `Error` for the sender; the session goes on. Turns that
never got their question (a keyframe or a first part whose rest never came)
are dropped oldest first past `MAX_OPEN_TURNS`, so a session's memory stays
bounded without stranding it.

Pure: no clock, queue or socket inside; the conversation passes them in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

from protocol import Keyframe, Message, Observation, Query, SpeechSegment
from protocol.limits import (
    MAX_OPEN_TURNS,
    MAX_QUESTIONS_PER_MINUTE,
    MAX_QUEUED_TURNS,
    MAX_SEGMENT_BYTES,
    MAX_SEGMENT_PARTS,
    MAX_SEGMENT_SECONDS,
)

RATE_WINDOW_S = 60.0


class OpenTurn(Protocol):
    """What the limits read of a turn being assembled (cloud.conversation.Turn)."""

    parts: dict[int, bytes]

    @property
    def queued(self) -> bool:
        """Its question is complete and waits for (or gets) an answer."""
        ...


T = TypeVar("T", bound=OpenTurn)


class Rate(Protocol):
    """A window of questions: QuestionRate in memory, or one shared through the bus."""

    limit: int

    def allows(self, now: float) -> bool: ...

    def count(self, now: float) -> None: ...


class QuestionRate:
    """At most `limit` questions in any sliding `RATE_WINDOW_S`; shareable between sessions."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._asked: deque[float] = deque()

    def allows(self, now: float) -> bool:
        """Whether one more question fits now (it is not counted until `count`)."""
        while self._asked and self._asked[0] <= now - RATE_WINDOW_S:
            self._asked.popleft()
        return len(self._asked) < self.limit

    def count(self, now: float) -> None:
        self._asked.append(now)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a message was not filed; `turn_id` is the turn it ends (-1: none)."""

    code: str
    text: str
    turn_id: int = -1


class TurnLimits:
    """Checks each incoming message against the session's ceilings."""

    def __init__(self, *, user_rate: Rate | None = None) -> None:
        self._session_rate = QuestionRate(MAX_QUESTIONS_PER_MINUTE)
        # Shared by every session of the same user (the cloud server keeps one per user).
        self._user_rate = user_rate
        # Turns already refused: their later parts are dropped without another Error.
        self._refused: deque[int] = deque(maxlen=MAX_OPEN_TURNS)

    def check(
        self,
        message: Message,
        turns: MutableMapping[int, T],
        *,
        queued: int,
        now: float,
    ) -> Refusal | None:
        """A Refusal if `message` must not be filed; may drop turns from `turns` to make room."""
        turn_id = getattr(message, "turn_id", 0)
        if isinstance(message, SpeechSegment | Query) and turn_id in self._refused:
            return Refusal("turn_refused", "this turn was already refused", turn_id)
        if isinstance(message, Observation) and turn_id == 0:
            if queued >= MAX_QUEUED_TURNS:
                return Refusal("busy", "too many turns waiting; the scene note was dropped")
            return None
        if not isinstance(message, SpeechSegment | Query | Observation | Keyframe):
            return None
        dropped = self._make_room(turns, turn_id)
        if isinstance(message, SpeechSegment):
            refusal = self._check_segment(message, turns.get(turn_id))
            if refusal is None and message.last:
                refusal = self._check_question(turn_id, queued, now)
        elif isinstance(message, Query):
            refusal = self._check_question(turn_id, queued, now)
        else:
            refusal = None
        if refusal is not None:
            turns.pop(turn_id, None)  # what it held so far is let go at once
            self._refused.append(turn_id)
            return refusal
        if dropped is not None:
            return Refusal(
                "turn_dropped",
                f"too many unfinished turns (over {MAX_OPEN_TURNS}); the oldest was dropped",
                dropped,
            )
        return None

    def _make_room(self, turns: MutableMapping[int, T], turn_id: int) -> int | None:
        if turn_id in turns or len(turns) < MAX_OPEN_TURNS:
            return None
        unfinished = [tid for tid, turn in turns.items() if not turn.queued]
        if not unfinished:  # cannot happen while queued turns are bounded below open ones
            return None
        oldest = unfinished[0]  # dicts keep insertion order: the first opened
        del turns[oldest]
        self._refused.append(oldest)
        return oldest

    def _check_segment(self, segment: SpeechSegment, turn: OpenTurn | None) -> Refusal | None:
        parts: Mapping[int, bytes] = turn.parts if turn is not None else {}
        if segment.part not in parts and len(parts) >= MAX_SEGMENT_PARTS:
            return Refusal(
                "utterance_too_long",
                f"an utterance may have at most {MAX_SEGMENT_PARTS} parts",
                segment.turn_id,
            )
        total = sum(len(p) for i, p in parts.items() if i != segment.part) + len(segment.pcm)
        pcm_seconds = total / (2 * segment.sample_rate) if segment.codec == "pcm" else 0.0
        if total > MAX_SEGMENT_BYTES or pcm_seconds > MAX_SEGMENT_SECONDS:
            return Refusal(
                "utterance_too_long",
                f"an utterance may last at most {MAX_SEGMENT_SECONDS:g} seconds; "
                "ask again in a shorter question",
                segment.turn_id,
            )
        return None

    def _check_question(self, turn_id: int, queued: int, now: float) -> Refusal | None:
        if queued >= MAX_QUEUED_TURNS:
            return Refusal(
                "busy",
                f"{queued} questions are already waiting for an answer; ask again shortly",
                turn_id,
            )
        if not self._session_rate.allows(now):
            return Refusal(
                "rate_limited",
                f"at most {MAX_QUESTIONS_PER_MINUTE} questions a minute; wait a moment",
                turn_id,
            )
        if self._user_rate is not None and not self._user_rate.allows(now):
            return Refusal(
                "rate_limited",
                f"at most {self._user_rate.limit} questions a minute across your devices; "
                "wait a moment",
                turn_id,
            )
        self._session_rate.count(now)
        if self._user_rate is not None:
            self._user_rate.count(now)
        return None
