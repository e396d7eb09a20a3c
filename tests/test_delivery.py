"""Sequence numbers, acks and replay: what makes a reconnect lose nothing."""

from __future__ import annotations

from gateway.sessions.delivery import MAX_UNACKED, Inbox, Outbox
from protocol import AnswerDelta


def _delta(text: str) -> AnswerDelta:
    return AnswerDelta(session_id="s", seq=0, sent_at=0.0, turn_id=1, text=text)


def test_outbox_numbers_messages_and_replays_what_was_not_received() -> None:
    outbox = Outbox()
    sent = [outbox.stamp(_delta(word)) for word in ("a", "b", "c", "d")]
    assert [m.seq for m in sent] == [1, 2, 3, 4]
    outbox.ack(1)
    assert [m.seq for m in outbox.after(2)] == [3, 4]
    assert outbox.unacked == 2
    outbox.ack(4)
    assert outbox.after(4) == []


def test_outbox_is_bounded() -> None:
    outbox = Outbox()
    for i in range(MAX_UNACKED + 5):
        outbox.stamp(_delta(str(i)))
    assert outbox.unacked == MAX_UNACKED and outbox.dropped == 5


def test_inbox_handles_each_seq_once() -> None:
    inbox = Inbox()
    assert [inbox.accept(s) for s in (1, 2, 2, 1, 3)] == [True, True, False, False, True]
