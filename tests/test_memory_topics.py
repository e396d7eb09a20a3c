"""Answers that pick the right fact: owner and topic matching, recall's focus, direct answers
(hashing embedder, real SQLite, no language model)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.memory import HashingEmbedder, SqliteMemoryStore, extract_facts
from cloud.memory.topics import ME, memory_owner, question_owner
from cloud.prompting.recall import direct_answer, recall

NOW = datetime(2026, 3, 12, 18, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    with SqliteMemoryStore(tmp_path / "memory.db", HashingEmbedder()) as opened:
        yield opened


def told(store, *utterances):
    for days, utterance in enumerate(reversed(utterances)):
        facts = extract_facts(utterance)
        assert facts, utterance
        store.add_many("ann", [f.to_memory(time=NOW - timedelta(days=days + 1)) for f in facts])


def recalled(store, question, mode="fast"):
    return recall(
        store, "ann", question, mode=mode, now=NOW, k_fast=3, k_reasoning=8, min_cosine=0.2
    )


def answer(store, question):
    return direct_answer(question, recalled(store, question))


@pytest.mark.parametrize(
    ("question", "owner"),
    [
        ("What's my shoe size?", ME),
        ("What am I allergic to?", ME),
        ("What's my husband allergic to?", "my husband"),
        ("Where does my mom live?", "my mum"),
        ("What wine does Amelia like?", "amelia"),
        ("When is Tom's birthday?", "tom"),
        ("What's the alarm code?", None),
    ],
)
def test_a_question_names_whom_it_is_about(question, owner):
    assert question_owner(question) == owner


@pytest.mark.parametrize(
    ("text", "owner"),
    [
        ("My shoe size is 43.", ME),
        ("My doctor is Dr Patel.", ME),
        ("I'm allergic to peanuts.", ME),
        ("My husband is allergic to shellfish.", "my husband"),
        ("My son's shoe size is 34.", "my son"),
        ("Amelia prefers red Rioja.", "amelia"),
        ("The alarm code is 1357.", ME),
    ],
)
def test_a_fact_is_about_whom_its_subject_names(text, owner):
    assert memory_owner(text) == owner


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What's my shoe size?", "Your shoe size is 43."),
        ("what shirt size do I wear", "Your shirt size is medium."),
        ("What's my ring size again?", "Your ring size is P."),
    ],
)
def test_of_several_sizes_the_one_asked_about_is_answered(store, question, expected):
    told(store, "My shoe size is 43.", "My shirt size is medium.", "My ring size is P.")
    assert answer(store, question) == expected


@pytest.mark.parametrize(
    ("question", "name"),
    [("Who's my doctor?", "Patel"), ("Who is my dentist?", "Moreau"), ("Who's my physio?", "Lowe")],
)
def test_of_several_carers_the_one_asked_about_is_answered(store, question, name):
    told(
        store,
        "My doctor is Dr Patel.",
        "My dentist is Dr Moreau.",
        "My physiotherapist is Gemma Lowe.",
    )
    said = answer(store, question)
    assert said is not None and name in said
    assert [m.text for m in recalled(store, question)] == [said.replace("Your", "My")]


@pytest.mark.parametrize(
    ("question", "code"),
    [
        ("What's my gym locker code?", "4815"),
        ("What's the code for my bike lock?", "2207"),
        ("what was the garage code", "9031"),
    ],
)
def test_of_several_codes_the_one_asked_about_is_answered(store, question, code):
    told(
        store,
        "My gym locker code is 4815.",
        "My bike lock code is 2207.",
        "Remember that the garage code is 9031.",
    )
    said = answer(store, question)
    assert said is not None and code in said
    assert sum(c in said for c in ("4815", "2207", "9031")) == 1


def test_an_updated_fact_is_answered_as_it_now_stands(store):
    told(
        store, "My shoe size is 43.", "My shirt size is medium.", "Actually my shoe size is now 44."
    )
    assert answer(store, "What's my shoe size?") == "Your shoe size is 44."


def test_a_question_about_someone_else_is_answered_from_their_fact(store):
    told(
        store,
        "My husband is allergic to shellfish.",
        "I'm allergic to peanuts.",
        "My son is allergic to eggs.",
    )
    assert (
        answer(store, "What's my husband allergic to?") == "Your husband is allergic to shellfish."
    )
    assert answer(store, "What am I allergic to?") == "You're allergic to peanuts."


def test_only_the_person_asked_about_reaches_the_prompt(store):
    told(store, "Amelia prefers red Rioja.", "I prefer white wine.", "Tom drinks only beer.")
    assert [m.text for m in recalled(store, "What wine does Amelia like?")] == [
        "Amelia prefers red Rioja."
    ]
    assert answer(store, "What kind of wine do I prefer?") == "You prefer white wine."


def test_open_questions_and_ties_are_left_to_the_model(store):
    told(store, "Tom's birthday is on 3 May.", "My shoe size is 43.", "My shirt size is medium.")
    assert answer(store, "What should I get Tom for his birthday?") is None
    assert answer(store, "What size am I?") is None  # shoe and shirt fit it equally
    assert answer(store, "Tell me a joke about cats") is None


def test_a_question_nothing_matches_keeps_the_ranking_order(store):
    told(store, "I'm vegetarian.", "I don't eat mushrooms.")
    memories = recalled(store, "vegetarian dinner ideas", mode="reasoning")
    assert [m.text for m in memories][:1] == ["I'm vegetarian."]
    assert direct_answer("vegetarian dinner ideas", memories) is None


def test_a_yes_no_question_is_a_yes_only_when_the_fact_says_all_of_it(store):
    told(store, "I'm vegetarian.", "I'm allergic to shellfish.")
    assert answer(store, "Am I vegetarian?") == "Yes. You're vegetarian."
    assert answer(store, "Am I allergic to shellfish?") == "Yes. You're allergic to shellfish."
    assert answer(store, "Am I allergic to peanuts?") is None  # left to the model


def test_rivals_leave_the_prompt_but_facts_about_other_things_stay_as_context(store):
    told(store, "My shoe size is 43.", "My shirt size is medium.", "I live in York.")
    texts = [m.text for m in recalled(store, "Do my shoe size and York go together?")]
    assert texts[0] == "My shoe size is 43."
    assert "My shirt size is medium." not in texts
