"""The long-conversation retrieval set and its benchmark (hashing embedder; MiniLM in
test_memory_facts_models.py)."""

from __future__ import annotations

import json
from collections import Counter

from cloud.memory import HashingEmbedder
from cloud.memory.cli_ops import parse_memory_line
from simulators.bench_memory_conversations import (
    KINDS,
    LONG_CONVERSATION_SET,
    LONG_VARIANTS,
    PARTS,
    VARIANTS,
    conversation_quality,
    load_conversation_set,
    long_conversation_quality,
    turn_line,
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


def test_the_long_set_is_six_long_conversations_with_a_held_out_part_of_every_kind():
    _, turns, questions = load_conversation_set(LONG_CONVERSATION_SET)
    data = json.loads(LONG_CONVERSATION_SET.read_text(encoding="utf-8"))
    sessions = Counter(session["id"].split("-")[0] for session in data["sessions"])
    assert len(sessions) >= 6 and min(sessions.values()) >= 15
    assert len(questions) >= 150
    ids = {turn.id for turn in turns}
    assert all(q.evidence and set(q.evidence) <= ids for q in questions)
    for part in PARTS:
        asked = [q for q in questions if q.part == part]
        assert {q.kind for q in asked} == set(KINDS)
    multi = [q for q in questions if q.kind == "multi-hop"]
    assert all(len(q.evidence) >= 2 for q in multi)
    # A part is whole conversations: nothing tuned on dev turns leaks into held-out ones.
    parts = {q.conversation: q.part for q in questions}
    assert all(parts[q.conversation] == q.part for q in questions)


def test_a_long_set_turn_is_a_memory_add_line_with_the_two_turns_before_it():
    _, turns, _ = load_conversation_set(LONG_CONVERSATION_SET)
    number = next(n for n, turn in enumerate(turns) if turn.id == "c2-s12-t3")
    line = turn_line(turns[number], neighbours=True)
    memory = parse_memory_line(line, 1)  # exactly what `companion memory add` reads
    assert memory.text == f"Helen: {turns[number].text}"
    assert memory.source_id == "c2-s12-t3"
    assert memory.context is not None
    assert turns[number - 2].text in memory.context  # names the wedding it is about
    assert turns[number - 1].text in memory.context
    assert turns[number + 1].text in memory.context
    assert "context" not in json.loads(turn_line(turns[number], neighbours=False))


def test_the_long_benchmark_reports_each_part_and_kind_for_each_variant():
    report = long_conversation_quality(HashingEmbedder())
    assert report["questions"] >= 150
    for variant in LONG_VARIANTS:
        for part in PARTS:
            figures = report[variant][part]
            assert set(figures["by_kind"]) == set(KINDS)
            assert 0.0 <= figures["mrr"] <= figures["recall_at_10"] <= 1.0
            assert figures["questions"] >= 75
