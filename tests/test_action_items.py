"""Action items, summaries and speaker labels of conversation notes (pure, no model)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from cloud.memory import HashingEmbedder, MemoryKind, SqliteMemoryStore
from cloud.notes import (
    NoteLine,
    extract_action_items,
    label_speakers,
    remember_notes,
    take_notes,
    voice_print,
)
from cloud.notes.action_items import resolve_due
from cloud.notes.summary import summarise

SUNDAY = date(2026, 12, 6)


def items(text: str, speaker: str = "Alex") -> list[tuple[str, str, str | None]]:
    return [(i.who, i.what, i.when) for i in extract_action_items(text, speaker=speaker)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'll send the budget by Friday.", [("Alex", "send the budget", "by Friday")]),
        ("Priya will book the room tomorrow.", [("Priya", "book the room", "tomorrow")]),
        ("Okay, I will email the agenda on Monday.", [("Alex", "email the agenda", "on Monday")]),
        ("Sam, I'll bring the cake on Saturday.", [("Alex", "bring the cake", "on Saturday")]),
        ("Okay Sam, Priya will book the room.", [("Priya", "book the room", None)]),
        ("We're going to ship the release next week.", [("we", "ship the release", "next week")]),
        ("I'm going to call the printer.", [("Alex", "call the printer", None)]),
        (
            "I'll have the report ready by noon.",
            [("Alex", "have the report ready", "by noon")],
        ),
        (
            "Sarah and I will review the slides this afternoon.",
            [("Sarah and Alex", "review the slides", "this afternoon")],
        ),
    ],
)
def test_an_explicit_commitment_yields_who_what_and_when(
    text: str, expected: list[tuple[str, str, str | None]]
) -> None:
    assert items(text) == expected


def test_two_commitments_joined_by_and_yield_two_items() -> None:
    assert items("So I will draft the agenda and Tom will call the caterer on Monday.") == [
        ("Alex", "draft the agenda", None),
        ("Tom", "call the caterer", "on Monday"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        # small talk and predictions
        "I'll see you later.",
        "It will rain all week.",
        "I'll be fine without it.",
        "We'll see.",
        "That will be great.",
        # questions
        "Will you send the budget by Friday?",
        "Can I send it tomorrow?",
        "Shall we book the room?",
        "So you'll send it tomorrow?",
        "Sam, will you bring the cake on Saturday?",
        "Sam, you'll bring the cake.",
        # hypotheticals and hedges
        "Maybe we could meet next week.",
        "I might call the printer tomorrow.",
        "If you send the numbers, I'll draft the budget.",
        "I think I'll call her on Monday.",
        "I'll try to finish it by Friday.",
        "I'll probably send it tomorrow.",
        # refusals
        "I won't send the budget.",
        "I will not book the room.",
        # past tense and reported speech
        "Yesterday I sent the budget.",
        "I said I'll send the budget by Friday.",
        "She told me she will book the room.",
        "Marketing said they would print the posters.",
        "I was going to call the printer.",
        # someone else's task, not accepted
        "You will send the budget by Friday.",
        "He will book the room.",
        "Some will write the report by Tuesday.",  # a misheard name is nobody
    ],
)
def test_anything_but_a_firm_commitment_yields_nothing(text: str) -> None:
    assert items(text) == []


def test_a_commitment_says_where_it_came_from() -> None:
    (item,) = extract_action_items("Great. I'll email the client tomorrow morning. Thanks!")

    assert item.source == "I'll email the client tomorrow morning."
    assert item.to_json()["who"] == "speaker"


@pytest.mark.parametrize(
    ("when", "due"),
    [
        ("tomorrow", date(2026, 12, 7)),
        ("today", date(2026, 12, 6)),
        ("by Friday", date(2026, 12, 11)),
        ("on Monday", date(2026, 12, 7)),
        ("Sunday", date(2026, 12, 13)),  # said on a Sunday: next Sunday
        ("next week", None),
    ],
)
def test_a_time_phrase_becomes_a_date_when_it_names_one(when: str, due: date | None) -> None:
    assert resolve_due(when, SUNDAY) == due


def test_the_summary_keeps_the_conversations_own_telling_sentences_in_order() -> None:
    sentences = [
        "Hi Priya.",
        "We need a plan for the team offsite.",
        "The open points are the budget and the room for the offsite.",
        "How are you?",
        "I will send the budget by Friday.",
        "Nice weather today.",
    ]

    summary = summarise(sentences, commitments=["I will send the budget by Friday."], most=2)

    assert summary == (
        "The open points are the budget and the room for the offsite. "
        "I will send the budget by Friday."
    )


def test_notes_attribute_i_to_each_lines_speaker_and_small_talk_has_no_items() -> None:
    planning = take_notes(
        [
            NoteLine(0, 2, "S1", "We need a budget for the offsite."),
            NoteLine(3, 5, "S2", "I'll book the room tomorrow."),
            NoteLine(6, 8, "S1", "And I will send the budget by Friday."),
        ],
        today=SUNDAY,
    )
    chat = take_notes(
        [
            NoteLine(0, 2, "S1", "How was your weekend?"),
            NoteLine(3, 5, "S2", "Lovely. Maybe we could go hiking some time."),
            NoteLine(6, 8, "S1", "I'll see you later."),
        ]
    )

    assert [(i.who, i.what, i.due) for i in planning.action_items] == [
        ("S2", "book the room", date(2026, 12, 7)),
        ("S1", "send the budget", date(2026, 12, 11)),
    ]
    assert "budget" in planning.summary
    assert chat.action_items == ()


def test_references_of_the_conversation_set_hold_exactly_the_expected_items(
    recordings: Path,
) -> None:
    """The rules on the set's own lines (as written, before any recognition errors)."""
    for reference_file in sorted((recordings / "conversations").glob("*.json")):
        reference = json.loads(reference_file.read_text())
        notes = take_notes(
            [
                NoteLine(line["start"], line["end"], line["speaker"], line["text"])
                for line in reference["lines"]
            ]
        )
        found = sorted((i.who, i.what) for i in notes.action_items)
        expected = sorted((i["who"], i["what"]) for i in reference["action_items"])
        assert found == expected, reference_file.name


def tone(hz: float, seconds: float = 1.5) -> np.ndarray:
    """A buzzy voiced sound at `hz` (harmonics, like a voice) with a little noise."""
    t = np.arange(int(seconds * 16_000)) / 16_000
    rng = np.random.default_rng(int(hz))
    wave = sum(np.sin(2 * np.pi * hz * k * t) / k for k in range(1, 8))
    return (wave * 6000 + rng.normal(0, 200, t.size)).astype(np.int16)


def test_two_voices_far_apart_in_pitch_get_two_labels_in_order_of_appearance() -> None:
    lines = [tone(100), tone(210), tone(104), tone(205), tone(98)]

    labels = label_speakers([voice_print(x) for x in lines], [1.5] * len(lines))

    assert labels == ["S1", "S2", "S1", "S2", "S1"]


def test_one_voice_is_one_speaker() -> None:
    lines = [tone(120), tone(121), tone(119), tone(120)]

    assert label_speakers([voice_print(x) for x in lines], [1.5] * 4) == ["S1"] * 4


def test_summary_and_action_items_are_stored_as_memories_with_their_source(
    tmp_path: Path,
) -> None:
    notes = take_notes(
        [
            NoteLine(0, 2, "S1", "We need a budget for the team offsite."),
            NoteLine(3, 5, "Priya", "Priya will book the room tomorrow."),
        ]
    )
    started = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)
    with SqliteMemoryStore(tmp_path / "m.sqlite", HashingEmbedder()) as store:
        stored = remember_notes(
            store, "wearer", notes, conversation_id="conv-1", started_at=started
        )
        kept = store.export("wearer")

    assert len(stored) == 2 and len(kept) == 2
    assert all(
        m.source == "conversation notes" and m.source_id == "conv-1" and m.time == started
        for m in kept
    )
    assert all(m.kind == MemoryKind.OBSERVATION for m in kept)
    texts = [m.text for m in kept]
    assert any(t.startswith("A conversation (2 speakers; names said: Priya): ") for t in texts)
    assert any("Priya will book the room (due tomorrow)" in t for t in texts)


def test_a_conversation_with_no_words_stores_nothing(tmp_path: Path) -> None:
    with SqliteMemoryStore(tmp_path / "m.sqlite", HashingEmbedder()) as store:
        stored = remember_notes(
            store,
            "wearer",
            take_notes([]),
            conversation_id="c",
            started_at=datetime(2026, 12, 6, tzinfo=UTC),
        )
        assert stored == [] and store.count("wearer") == 0
