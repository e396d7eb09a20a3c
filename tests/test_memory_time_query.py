"""Questions about time become windows on event times; the store searches inside them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.memory import HashingEmbedder, MemoryKind, NewMemory, SqliteMemoryStore
from cloud.memory.time_query import search_in_time, time_window, without_time

# A Thursday.
NOW = datetime(2026, 3, 12, 18, 0, tzinfo=UTC)


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("question", "start", "end"),
    [
        ("What did I do yesterday?", "2026-03-11", "2026-03-12T06:00"),
        ("Who did I meet last Tuesday?", "2026-03-10", "2026-03-11"),
        ("What did I eat on Saturday?", "2026-03-07", "2026-03-08"),
        ("What did I buy last Thursday?", "2026-03-05", "2026-03-06"),
        ("Where did we go last weekend?", "2026-03-07", "2026-03-09"),
        ("What did Omar say last week?", "2026-03-02", "2026-03-09"),
        ("What did I read last month?", "2026-02-01", "2026-03-01"),
        ("Where did I go in May?", "2025-05-01", "2025-06-01"),
        ("What happened in January 2026?", "2026-01-01", "2026-02-01"),
        ("What did I say three days ago?", "2026-03-09", "2026-03-10"),
    ],
)
def test_time_phrases_name_a_window_in_the_past(question, start, end):
    window = time_window(question, NOW)
    assert window is not None
    assert (window.start, window.end) == (day(start), day(end))


@pytest.mark.parametrize(
    "question",
    [
        "What do I have on Friday?",  # a plan, not a memory of the past
        "What's my shoe size?",
        "Is the pharmacy open in May?",
    ],
)
def test_questions_that_name_no_past_time_have_no_window(question):
    assert time_window(question, NOW) is None


def test_the_time_phrase_is_taken_out_of_what_is_searched():
    window = time_window("What did Omar say last week about the boiler?", NOW)
    assert window is not None
    assert without_time("What did Omar say last week about the boiler?", window) == (
        "What did Omar say about the boiler?"
    )


@pytest.fixture
def store(tmp_path):
    with SqliteMemoryStore(tmp_path / "memory.db", HashingEmbedder()) as opened:
        for when, text in [
            ("2026-03-10T12:00", "Lunch with Omar at the noodle bar."),
            ("2026-03-07T12:00", "Lunch with Priya at the Greek place."),
            ("2026-02-20T12:00", "Lunch with Ben at the canteen."),
        ]:
            opened.add("ann", NewMemory(text, day(when), kind=MemoryKind.EPISODIC))
        yield opened


def test_a_search_inside_a_window_finds_only_what_happened_then(store):
    hits = store.search("ann", "lunch", now=NOW, since=day("2026-03-07"), until=day("2026-03-08"))
    assert [hit.memory.text for hit in hits] == ["Lunch with Priya at the Greek place."]


def test_a_question_with_a_time_phrase_is_answered_from_that_day(store):
    hits = search_in_time(store, "ann", "Who did I have lunch with last Tuesday?", now=NOW, k=5)
    assert [hit.memory.text for hit in hits] == ["Lunch with Omar at the noodle bar."]


def test_an_empty_window_falls_back_to_the_whole_memory(store):
    hits = search_in_time(store, "ann", "Who did I have lunch with yesterday?", now=NOW, k=5)
    assert len(hits) == 3


def test_context_is_indexed_but_not_shown(tmp_path):
    with SqliteMemoryStore(tmp_path / "memory.db", HashingEmbedder()) as store:
        answer = NewMemory(
            "Ben: Yes, on Saturday, with my sister.",
            NOW - timedelta(days=3),
            context="Ann: Are you going to the climbing wall this week?",
        )
        stored = store.add("ann", answer)
        store.add("ann", NewMemory("Ben: The film was long.", NOW - timedelta(days=2)))
        (top, *_) = store.search("ann", "climbing wall", now=NOW, k=2)
        assert top.memory.id == stored.id
        assert top.memory.text == "Ben: Yes, on Saturday, with my sister."
        assert store.export("ann")[0].to_json()["context"] == answer.context
