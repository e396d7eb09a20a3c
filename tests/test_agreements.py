"""'What did I agree with Priya?' read back from the action items conversation notes kept."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cloud.memory import HashingEmbedder
from cloud.memory.records import Memory
from cloud.memory.sqlite_store import SqliteMemoryStore
from cloud.notes import NoteLine, remember_notes, take_notes
from cloud.prompting.agreements import agreements_answer

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
PLANNING = [
    NoteLine(0, 2, "S1", "Thanks for making time, Priya. We need a plan for the offsite."),
    NoteLine(3, 5, "S1", "I will send the budget by Friday."),
    NoteLine(6, 8, "S2", "And Priya will book the room tomorrow."),
]
COFFEE = [
    NoteLine(0, 2, "S1", "Hi Sam. I will bring the cake on Saturday."),
    NoteLine(3, 5, "S2", "Great, see you then."),
]


def _noted(tmp_path: Path) -> list[Memory]:
    with SqliteMemoryStore(tmp_path / "m.sqlite", HashingEmbedder()) as store:
        started = NOW - timedelta(days=1, hours=1)  # yesterday at 9 am
        for conversation_id, lines, at in (
            ("planning", PLANNING, started),
            ("coffee", COFFEE, started + timedelta(hours=5)),
        ):
            notes = take_notes(lines, today=date(2026, 12, 6))
            remember_notes(store, "me", notes, conversation_id=conversation_id, started_at=at)
        return store.export("me")


def test_what_was_agreed_with_someone_is_each_item_of_that_conversation_with_when(
    tmp_path: Path,
) -> None:
    answer = agreements_answer("What did I agree with Priya?", _noted(tmp_path), NOW)
    assert answer is not None
    assert answer.startswith("Yesterday at 9 am, you agreed: ")
    assert "one of you will send the budget" in answer  # "S1" is not a name to the wearer
    assert "Priya will book the room (due Monday 7 December)" in answer  # said "tomorrow"
    assert "cake" not in answer  # another conversation


def test_without_a_name_the_newest_noted_conversation_answers(tmp_path: Path) -> None:
    memories = _noted(tmp_path)
    answer = agreements_answer("What did we agree?", memories, NOW)
    assert answer is not None and "cake" in answer and "budget" not in answer
    answer = agreements_answer("What did I promise Sam?", memories, NOW)
    assert answer is not None and answer.startswith("Yesterday at 2 pm, you agreed: ")
    answer = agreements_answer("What did Priya and I decide?", memories, NOW)
    assert answer is not None and "book the room" in answer and "cake" not in answer


def test_other_questions_and_unknown_people_are_left_to_the_model(tmp_path: Path) -> None:
    memories = _noted(tmp_path)
    assert agreements_answer("What did I agree with Tom?", memories, NOW) is None
    assert agreements_answer("What's my shoe size?", memories, NOW) is None
    assert agreements_answer("What did I agree with Priya?", [], NOW) is None
