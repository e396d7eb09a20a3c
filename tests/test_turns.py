"""One turn tracker, fed by both directions, decides when an answer begins and a turn is over."""

from __future__ import annotations

from edge.link.pending_turns import PendingTurns
from edge.turns import AnswerBegan, TurnOver, TurnTracker, ends_turn
from protocol import (
    AnswerDelta,
    AnswerDone,
    Error,
    Observation,
    Query,
    Sequencer,
    SpeechSegment,
    Transcript,
)

UP = Sequencer("s")
DOWN = Sequencer("s")


def test_a_turn_opens_when_its_speech_leaves_and_is_over_when_its_answer_is_done() -> None:
    turns = TurnTracker()
    turns.sent(UP.make(SpeechSegment, turn_id=1, pcm=b""))
    assert turns.open_turns == (1,) and not turns.all_over

    assert turns.received(DOWN.make(Transcript, turn_id=1, text="what is this")) == []
    assert turns.received(DOWN.make(AnswerDelta, turn_id=1, text="A")) == [AnswerBegan(1)]
    assert turns.received(DOWN.make(AnswerDelta, turn_id=1, text=" cat")) == []
    assert turns.received(DOWN.make(AnswerDone, turn_id=1, text="A cat")) == [TurnOver(1)]
    assert turns.all_over and turns.is_over(1)


def test_nothing_heard_or_an_error_for_the_turn_ends_it_without_an_answer() -> None:
    turns = TurnTracker()
    turns.sent(UP.make(SpeechSegment, turn_id=1, pcm=b""))
    turns.sent(UP.make(Query, turn_id=2, text="hi"))
    assert turns.received(DOWN.make(Transcript, turn_id=1, text="  ")) == [TurnOver(1)]
    assert turns.received(DOWN.make(Error, code="x", message="y", turn_id=2)) == [TurnOver(2)]
    assert turns.all_over


def test_session_errors_and_live_notes_belong_to_no_turn() -> None:
    turns = TurnTracker()
    turns.sent(UP.make(Observation, turn_id=0, captured_at=0.0))  # a live scene note
    assert turns.all_over
    assert not ends_turn(DOWN.make(Error, code="bad_message", message="?"))
    turns.sent(UP.make(Query, turn_id=3, text="hi"))
    assert turns.received(DOWN.make(Error, code="bad_message", message="?")) == []
    assert turns.open_turns == (3,)


def test_late_messages_for_a_finished_turn_neither_reopen_nor_end_it_twice() -> None:
    turns = TurnTracker()
    turns.sent(UP.make(Query, turn_id=1, text="hi"))
    turns.received(DOWN.make(AnswerDone, turn_id=1, text="Hello"))
    turns.sent(UP.make(Observation, turn_id=1, captured_at=0.0))
    assert turns.received(DOWN.make(AnswerDone, turn_id=1, text="Hello")) == []
    assert turns.all_over


def test_pending_turns_resend_what_the_tracker_still_calls_open_and_never_live_notes() -> None:
    pending = PendingTurns()
    pending.sent(UP.make(Query, turn_id=1, text="one"))
    pending.sent(UP.make(Query, turn_id=2, text="two"))
    pending.sent(UP.make(Observation, turn_id=0, captured_at=0.0))
    pending.received(DOWN.make(Transcript, turn_id=1, text=""))
    assert pending.unanswered == (2,)
    assert [m.kind for m in pending.resume("s2")] == ["query"]
