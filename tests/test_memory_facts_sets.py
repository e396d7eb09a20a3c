"""The remember-then-ask sets: enough cases of every kind, and a held-out part apart."""

from __future__ import annotations

from collections import Counter

from simulators.bench_memory_facts import (
    FACTS_SET,
    HELD_OUT_FACTS_SET,
    judge,
    load_facts_set,
    summarise,
)

KINDS = {"distractor", "update", "abbreviation", "subject"}


def test_both_parts_together_hold_at_least_80_cases_and_the_held_out_part_every_kind() -> None:
    _, dev = load_facts_set(FACTS_SET)
    _, held_out = load_facts_set(HELD_OUT_FACTS_SET)
    assert len(dev) + len(held_out) >= 80
    assert {case.kind for case in held_out} == KINDS
    ids = Counter(case.id for case in [*dev, *held_out])
    assert max(ids.values()) == 1
    # Every case has distractors to pick wrongly from, and says what a wrong pick looks like.
    assert all(len(case.told) >= 3 and case.reject for case in held_out)


def test_a_held_out_answer_is_judged_by_whole_words_and_rejects() -> None:
    _, held_out = load_facts_set(HELD_OUT_FACTS_SET)
    case = next(case for case in held_out if case.id == "ho-dress-size")
    assert judge("Your dress size is 12.", case) is None
    assert judge("Your dress size is 12, shoe size 39.", case) is not None
    assert judge("Your dress size is 120.", case) is not None
    report = summarise([{"id": case.id, "kind": case.kind, "answer": "12", "why": None}])
    assert report["percent_right"] == 100.0
