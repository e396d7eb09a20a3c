"""Tools without a model: requests recognised in plain words, carried out, confirmed exactly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud.memory import HashingEmbedder, MemoryKind, NewMemory
from cloud.memory.user_data import UserData, UserDirectory, user_file
from cloud.prompting.second_person import to_second_person
from cloud.prompting.spoken_time import spoken_duration, spoken_moment
from cloud.reasoning.modes import choose_mode
from cloud.tools import parse_intent, perform
from cloud.tools.intents import (
    AddNote,
    AddToList,
    FindThing,
    ListNotes,
    ReadList,
    Remember,
    RemoveFromList,
    SetReminder,
    SetTimer,
)
from cloud.tools.when import parse_when

NOW = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        (
            "Remind me to call mum in 10 minutes.",
            SetReminder("call mum", NOW + timedelta(minutes=10)),
        ),
        (
            "remind me at 5 pm to take the pills",
            SetReminder("take the pills", NOW.replace(hour=17)),
        ),
        (
            "Hey companion, remind me tomorrow at 9 to call the dentist",
            SetReminder("call the dentist", NOW.replace(day=13, hour=9)),
        ),
        (
            "remind me in half an hour to turn the oven off",
            SetReminder("turn the oven off", NOW + timedelta(minutes=30)),
        ),
        ("Remind me to water the plants.", SetReminder("water the plants", None)),
        ("Set a timer for five minutes, please.", SetTimer(timedelta(minutes=5))),
        ("set a 10 minute timer", SetTimer(timedelta(minutes=10))),
        ("Take a note: buy stamps", AddNote("buy stamps")),
        ("what are my notes", ListNotes()),
        ("Add milk, eggs and bread to my shopping list.", AddToList(("milk", "eggs", "bread"))),
        ("Remove the milk from the shopping list", RemoveFromList(("milk",))),
        ("What's on my shopping list?", ReadList()),
        ("Where did I leave my keys?", FindThing("keys")),
        ("Where did I park?", FindThing("car")),
        ("Where's my blue umbrella?", FindThing("blue umbrella")),
        ("Remember that my car is on level 3.", Remember("Remember that my car is on level 3.")),
    ],
)
def test_requests_are_recognised_with_their_details(said: str, expected: object) -> None:
    assert parse_intent(said, NOW) == expected


@pytest.mark.parametrize(
    "said",
    [
        "What does this say?",
        "Where is the nearest station?",
        "What is a shopping list for?",
        "Why do people set timers?",
        "",
    ],
)
def test_questions_that_only_mention_a_tool_are_left_to_the_model(said: str) -> None:
    assert parse_intent(said, NOW) is None


def test_a_clock_time_already_past_today_means_tomorrow() -> None:
    assert parse_when("at 8 am", NOW) == NOW.replace(day=13, hour=8)
    assert parse_when("at 9:30", NOW) == NOW.replace(day=13, hour=9, minute=30)
    assert parse_when("at 25 pm", NOW) is None


@pytest.fixture(params=["sqlite", "postgresql"])
def user_data(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UserData]:
    """Alice's stores in her SQLite file, or in a real PostgreSQL 15 (tests/postgres.py)."""
    store = request.getfixturevalue("postgres_dsn") if request.param == "postgresql" else ""
    directory = UserDirectory(tmp_path, HashingEmbedder(), store=store)
    yield directory.open("alice")
    directory.close()


def _do(said: str, data: UserData, now: datetime = NOW) -> str:
    intent = parse_intent(said, now)
    assert intent is not None, said
    return perform(intent, tools=data.tools, memory=data.memory, user="alice", now=now)


def test_reminder_is_stored_and_confirmed_to_the_wearer(user_data: UserData) -> None:
    answer = _do("Remind me to call my mum in 10 minutes", user_data)

    assert answer == "OK, I'll remind you to call your mum in 10 minutes."
    (reminder,) = user_data.tools.pending_reminders()
    assert reminder.text == "call your mum"
    assert reminder.due == NOW + timedelta(minutes=10)
    assert user_data.tools.due_reminders(NOW + timedelta(minutes=9)) == []
    assert user_data.tools.due_reminders(NOW + timedelta(minutes=10)) == [reminder]


def test_a_reminder_without_a_time_asks_for_one_and_stores_nothing(user_data: UserData) -> None:
    answer = _do("remind me to water the plants", user_data)
    assert answer.startswith("When should I remind you")
    assert user_data.tools.pending_reminders() == []


def test_shopping_list_add_read_remove(user_data: UserData) -> None:
    assert _do("add milk and eggs to my shopping list", user_data) == (
        "Added milk and eggs to your shopping list."
    )
    assert _do("put milk on the shopping list", user_data)  # already there: still one milk
    assert _do("what's on my shopping list", user_data) == "Your shopping list has milk and eggs."
    assert _do("remove milk from my shopping list", user_data) == (
        "Removed milk from your shopping list."
    )
    assert user_data.tools.items() == ["eggs"]


def test_notes_are_kept_in_order(user_data: UserData) -> None:
    _do("take a note: buy stamps", user_data)
    _do("make a note that the meeting moved to Thursday", user_data)
    assert _do("read my notes", user_data) == (
        "You have 2 notes: buy stamps; the meeting moved to Thursday."
    )


def test_timer_becomes_a_due_notification(user_data: UserData) -> None:
    assert _do("set a timer for 2 minutes", user_data) == "Timer set for 2 minutes."
    (due,) = user_data.tools.due_reminders(NOW + timedelta(minutes=2))
    assert due.category == "timer"
    assert due.text == "Your timer for 2 minutes is done."


def test_where_did_i_leave_answers_from_the_latest_placing_memory(user_data: UserData) -> None:
    memory = user_data.memory
    memory.add(
        "alice",
        NewMemory(
            "I left my keys on the hall table.", NOW - timedelta(days=2), kind=MemoryKind.FACT
        ),
    )
    memory.add(
        "alice",
        NewMemory(
            "I put my keys in my coat pocket.", NOW - timedelta(hours=1), kind=MemoryKind.FACT
        ),
    )
    memory.add("alice", NewMemory("My sister's name is Ana.", NOW, kind=MemoryKind.FACT))

    answer = _do("Where did I leave my keys?", user_data)

    assert answer == "You put your keys in your coat pocket. You told me that today at 9 am."
    assert _do("where are my gloves", user_data) == "I don't remember where your gloves are."


def test_where_did_i_leave_uses_what_the_glasses_saw(user_data: UserData) -> None:
    user_data.memory.add(
        "alice",
        NewMemory(
            'The glasses saw what looked like a desk, while I said "I\'m putting my keys here".',
            NOW - timedelta(minutes=30),
            kind=MemoryKind.OBSERVATION,
        ),
    )
    answer = _do("where did I put my keys", user_data)
    assert answer.startswith("The last time I saw your keys was today at 9:30 am:")
    assert "desk" in answer


def test_remember_stores_an_explicit_memory_and_repeats_it_to_the_wearer(
    user_data: UserData,
) -> None:
    answer = _do("Remember that my car is on level 3", user_data)

    assert answer == "OK, I'll remember: Your car is on level 3."
    (stored,) = user_data.memory.export("alice")
    assert stored.kind == MemoryKind.EXPLICIT
    assert stored.text == "My car is on level 3."


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_each_user_has_their_own_data_and_nothing_crosses(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    store = request.getfixturevalue("postgres_dsn") if backend == "postgresql" else ""
    directory = UserDirectory(tmp_path, HashingEmbedder(), store=store)
    try:
        alice, bob = directory.open("alice"), directory.open("../bob")
        alice.tools.add_items(["milk"], NOW)
        alice.memory.add("alice", NewMemory("My locker code is 4815.", NOW, kind=MemoryKind.FACT))

        assert bob.tools.items() == []
        assert bob.memory.search("../bob", "locker code", now=NOW) == []
        assert user_file(tmp_path, "../bob").parent == tmp_path / "users"
        assert directory.open("alice") is alice  # opened once, shared by the user's sessions
    finally:
        directory.close()


@pytest.mark.parametrize(
    ("requested", "question", "mode", "asked"),
    [
        ("auto", "What does this say?", "fast", "What does this say?"),
        (
            "auto",
            "Think about it: should I take an umbrella?",
            "reasoning",
            "should I take an umbrella?",
        ),
        ("auto", "Why is the sky blue?", "reasoning", "Why is the sky blue?"),
        ("auto", "Where are my keys?", "fast", "Where are my keys?"),
        ("fast", "Why is the sky blue? Take your time.", "fast", "Why is the sky blue?"),
        ("reasoning", "What is this?", "reasoning", "What is this?"),
    ],
)
def test_mode_follows_the_request_then_the_phrase_then_the_router(
    requested: str, question: str, mode: str, asked: str
) -> None:
    assert choose_mode(requested, question) == (mode, asked)


def test_memories_are_turned_to_face_the_wearer() -> None:
    assert to_second_person("My car is on level 3.") == "Your car is on level 3."
    assert to_second_person("I'm allergic to peanuts.") == "You're allergic to peanuts."
    assert to_second_person("I put my keys in my coat.") == "You put your keys in your coat."


def test_times_are_spoken_like_a_person() -> None:
    assert spoken_moment(NOW - timedelta(days=1, hours=2), NOW) == "yesterday at 8 am"
    assert spoken_moment(NOW - timedelta(days=5), NOW) == "on Saturday 7 March at 10 am"
    assert spoken_duration(timedelta(minutes=90)) == "1 hour and 30 minutes"
