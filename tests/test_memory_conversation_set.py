"""The long-conversation retrieval set and its benchmark (hashing embedder; MiniLM in
test_memory_facts_models.py)."""

from __future__ import annotations

from cloud.memory import HashingEmbedder
from simulators.bench_memory_conversations import (
    KINDS,
    VARIANTS,
    conversation_quality,
    load_conversation_set,
    turn_memory,
)


def test_every_question_names_evidence_turns_that_exist_and_every_kind_is_asked():
    _, turns, questions = load_conversation_set()
    ids = {turn.id for turn in turns}
    assert all(set(q.evidence) <= ids for q in questions)
    assert {q.kind for q in questions} == set(KINDS)
    assert all(sum(q.kind == kind for q in questions) >= 5 for kind in KINDS)


def test_a_turn_is_indexed_with_its_neighbours_and_date_but_shown_as_said():
    _, turns, _ = load_conversation_set()
    answer = next(turn for turn in turns if turn.id == "c1-s1-t3")
    memory = turn_memory(answer, neighbours=True)
    assert memory.text == f"Ben: {answer.text}"
    assert memory.context is not None
    assert "Saturday 10 January 2026" in memory.context
    assert "What are you going to do instead?" in memory.context  # the question it answers
    assert turn_memory(answer, neighbours=False).context is None


def test_the_benchmark_reports_recall_and_mrr_per_kind_for_each_variant():
    report = conversation_quality(HashingEmbedder())
    for variant in VARIANTS:
        figures = report[variant]
        assert set(figures["by_kind"]) == set(KINDS)
        assert 0.0 <= figures["mrr"] <= figures["recall_at_10"] <= 1.0
    # Time phrases only ever narrow to the right sessions here: temporal recall cannot drop.
    temporal = {v: report[v]["by_kind"]["temporal"]["recall_at_10"] for v in VARIANTS}
    assert temporal["neighbours_and_time"] >= temporal["neighbours"]
