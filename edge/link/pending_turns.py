"""No question lost across a reconnect: what the edge sent for each unanswered turn.

The same design as the phone app's delivery (gateway/sessions/delivery.py): keep what
was sent until the far side acknowledges it, and send it again on a new
connection. Here the acknowledgement of a turn is its end (edge/turns.py:
AnswerDone, an Error for the turn, or an empty transcript), because a reconnect reaches a new
gateway session whose cloud never heard the old one: everything the turn sent
(speech, keyframe, observation, typed query) is resent, and the new session
answers it. Pure state, no sockets.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict

from edge.turns import ends_turn, turn_of
from protocol import Hello, Message

# A turn's messages kept at most (a long utterance is a few speech parts and a
# keyframe); past that the oldest go, like the app's outbox.
MAX_KEPT_PER_TURN = 64


class PendingTurns:
    """Upstream messages of each turn, held until the turn's answer has arrived."""

    def __init__(self) -> None:
        self.hello: Hello | None = None
        self._turns: OrderedDict[int, list[Message]] = OrderedDict()
        self._finished: set[int] = set()

    def sent(self, message: Message) -> None:
        """Remember an upstream message if it belongs to a turn not yet answered."""
        if isinstance(message, Hello):
            self.hello = message
            return
        turn_id = turn_of(message)
        if turn_id is None or turn_id in self._finished:
            return  # session messages and live scene notes (turn 0) are never resent
        kept = self._turns.setdefault(turn_id, [])
        kept.append(message)
        del kept[:-MAX_KEPT_PER_TURN]

    def received(self, message: Message) -> None:
        """A downstream message; the end of a turn acknowledges everything it sent."""
        turn_id = turn_of(message)
        if turn_id is not None and ends_turn(message):
            self._finished.add(turn_id)
            self._turns.pop(turn_id, None)

    @property
    def unanswered(self) -> tuple[int, ...]:
        return tuple(self._turns)

    def resume(self, session_id: str) -> list[Message]:
        """What a new connection needs: the Hello, then every unanswered turn's messages
        in the order they were first sent, all renamed to the new session."""
        ordered = sorted(
            (m for messages in self._turns.values() for m in messages), key=lambda m: m.seq
        )
        first = [self.hello] if self.hello is not None else []
        return [dataclasses.replace(m, session_id=session_id) for m in [*first, *ordered]]
