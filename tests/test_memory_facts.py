"""Fact extraction from what the wearer says: deterministic rules, precision first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cloud.memory import MemoryKind, extract_facts


def texts(utterance: str) -> list[str]:
    return [fact.text for fact in extract_facts(utterance)]


@pytest.mark.parametrize(
    ("utterance", "fact"),
    [
        ("I'm allergic to peanuts", "I'm allergic to peanuts."),
        (
            "hey companion, i am severely allergic to shellfish and eggs.",
            "I'm allergic to shellfish and eggs.",
        ),
        ("my car is on level 3", "My car is on level 3."),
        (
            "Just so you know, my bike is locked outside the library",
            "My bike is locked outside the library.",
        ),
        ("I left my keys on the kitchen counter", "I left my keys on the kitchen counter."),
        ("I parked the car on level 2, near the lifts", "I parked the car on level 2."),
        ("I put my passport in the blue folder", "I put my passport in the blue folder."),
        (
            "I have a dentist appointment on Tuesday at 3pm",
            "I have a dentist appointment on Tuesday at 3pm.",
        ),
        ("My wife's name is Anna", "My wife's name is Anna."),
        ("my daughter is called Mia and she is five", "My daughter's name is Mia."),
        ("Clara's birthday is April 12", "Clara's birthday is on April 12."),
        ("I'm vegetarian", "I'm vegetarian."),
        ("I don't eat pork", "I don't eat pork."),
        ("I live in Lisbon", "I live in Lisbon."),
        ("I love hiking in the mountains", "I love hiking in the mountains."),
    ],
)
def test_stated_facts_are_extracted_in_canonical_form(utterance, fact):
    assert texts(utterance) == [fact]


@pytest.mark.parametrize(
    ("utterance", "fact"),
    [
        ("Remember that my locker code is 2580.", "My locker code is 2580."),
        ("remember this: the gate code is 4421", "The gate code is 4421."),
        ("Please remember my car is on level 3", "My car is on level 3."),
        ("don't forget that the plumber comes Thursday", "The plumber comes Thursday."),
        ("remember to buy milk", "Reminder: buy milk."),
    ],
)
def test_remember_requests_become_explicit_memories(utterance, fact):
    facts = extract_facts(utterance)
    assert [f.text for f in facts] == [fact]
    assert facts[0].kind is MemoryKind.EXPLICIT
    assert facts[0].importance > 0.8


@pytest.mark.parametrize(
    "utterance",
    [
        "Where is my car?",
        "where did i park",  # a question without its question mark, as ASR writes it
        "Am I allergic to peanuts?",
        "Do you remember where I parked",
        "I'm not allergic to peanuts",
        "If my car is on level 3 we can walk",
        "I think I left my phone at work",
        "I love it",
        "I like that",
        "my mind is on other things",
        "Remember this place",
        "What a lovely day",
        "",
    ],
)
def test_questions_negations_conditions_and_vague_sentences_yield_no_fact(utterance):
    assert extract_facts(utterance) == []


def test_each_sentence_of_an_utterance_is_read_and_clauses_are_cut():
    assert texts(
        "OK so I put my passport in the top drawer. Also my phone is on the table but the charger is lost!"
    ) == ["I put my passport in the top drawer.", "My phone is on the table."]


def test_curly_quotes_from_asr_are_understood():
    assert texts("I’m allergic to penicillin") == ["I'm allergic to penicillin."]


def test_extraction_is_deterministic_and_names_its_rule():
    first = extract_facts("I'm allergic to peanuts. My car is on level 3.")
    assert first == extract_facts("I'm allergic to peanuts. My car is on level 3.")
    assert [fact.rule for fact in first] == ["allergy", "whereabouts"]


def test_a_fact_becomes_a_new_memory_at_the_time_it_was_said():
    said = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    fact = extract_facts("I'm allergic to peanuts")[0]
    memory = fact.to_memory(time=said, source_id="session-1/turn-4")
    assert (memory.text, memory.kind, memory.time) == (
        "I'm allergic to peanuts.",
        MemoryKind.FACT,
        said,
    )
    assert memory.source_id == "session-1/turn-4"
