"""No message lost across a reconnect: sequence numbers, acks and replay.

Pure state, no sockets. The gateway numbers every message it sends the app
(`Outbox`), keeps each until the app acks it, and on a resumed connection sends
again everything after the last seq the app says it has. The app does the same
the other way; the gateway's `Inbox` drops a message it already handled (a
resend whose ack was lost) and acks it again.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

from protocol import Message

# An app gone for the whole grace period leaves at most this many unacked
# messages behind; past that the oldest go (a very long answer, streamed to nobody).
MAX_UNACKED = 2000


@dataclass
class Outbox:
    """Messages to the app, numbered 1, 2, 3 … and held until acked."""

    _next_seq: int = 1
    _unacked: deque[Message] = field(default_factory=deque)
    dropped: int = 0

    def stamp(self, message: Message) -> Message:
        """Give a message its place in the downstream sequence and keep it until acked."""
        stamped = replace(message, seq=self._next_seq)
        self._next_seq += 1
        self._unacked.append(stamped)
        if len(self._unacked) > MAX_UNACKED:
            self._unacked.popleft()
            self.dropped += 1
        return stamped

    def ack(self, ack_seq: int) -> None:
        """The app has everything up to `ack_seq`."""
        while self._unacked and self._unacked[0].seq <= ack_seq:
            self._unacked.popleft()

    def after(self, last_seq: int) -> list[Message]:
        """What a resuming app is missing, given the last seq it received."""
        self.ack(last_seq)
        return list(self._unacked)

    @property
    def unacked(self) -> int:
        return len(self._unacked)


@dataclass
class Inbox:
    """Which upstream messages were already handled, by their seq."""

    last_seq: int = 0

    def accept(self, seq: int) -> bool:
        """True the first time a seq arrives in order; a repeat or an old one is False."""
        if seq <= self.last_seq:
            return False
        self.last_seq = seq
        return True
