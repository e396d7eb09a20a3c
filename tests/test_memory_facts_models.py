"""Facts that stay right and answers that pick them, with the real MiniLM embeddings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cloud.memory import SqliteMemoryStore, extract_facts
from cloud.memory.embedder import Embedder
from cloud.prompting.recall import direct_answer, recall
from simulators.bench_memory_conversations import conversation_quality, long_conversation_quality
from simulators.bench_memory_facts import judge, load_facts_set


@pytest.mark.models
def test_lookups_in_the_remember_then_ask_set_are_read_back_from_the_right_fact(
    minilm: Embedder, tmp_path: Path
) -> None:
    """Every case whose question the recall answers directly is answered right, and most are."""
    now, cases = load_facts_set()
    answered, wrong = 0, []
    with SqliteMemoryStore(tmp_path / "memory.db", minilm) as store:
        for number, case in enumerate(cases):
            user = f"wearer-{number}"
            for said, days_ago in case.told:
                when = now - timedelta(days=days_ago)
                facts = extract_facts(said)
                store.add_many(user, [fact.to_memory(time=when) for fact in facts])
            memories = recall(
                store, user, case.ask, mode="fast", now=now, k_fast=3, k_reasoning=8, min_cosine=0.2
            )
            said_back = direct_answer(case.ask, memories)
            if said_back is None:
                continue
            answered += 1
            if judge(said_back, case) is not None:
                wrong.append((case.id, said_back))
    print(f"\nanswered from the fact: {answered}/{len(cases)}; wrong: {wrong}")
    assert wrong == []
    assert answered >= 0.8 * len(cases)


@pytest.mark.models
def test_neighbours_and_time_windows_find_more_evidence_than_plain_turns(
    minilm: Embedder,
) -> None:
    report = conversation_quality(minilm)
    plain, best = report["plain"], report["neighbours_and_time"]
    print(f"\nplain {plain['recall_at_10']} → neighbours and time {best['recall_at_10']}")
    assert best["recall_at_10"] > plain["recall_at_10"]
    assert (
        best["by_kind"]["temporal"]["recall_at_10"] >= plain["by_kind"]["temporal"]["recall_at_10"]
    )


@pytest.mark.models
def test_on_the_long_set_each_idea_finds_more_evidence_in_both_parts(minilm: Embedder) -> None:
    report = long_conversation_quality(
        minilm, variants=("plain", "neighbours_and_time", "multi_hop")
    )
    for part in ("dev", "held-out"):
        plain, timed, hops = (
            report[v][part] for v in ("plain", "neighbours_and_time", "multi_hop")
        )
        print(
            f"\n{part}: plain {plain['recall_at_10']} → {timed['recall_at_10']} → {hops['recall_at_10']}"
        )
        assert plain["recall_at_10"] < timed["recall_at_10"] <= hops["recall_at_10"]
        multi = "multi-hop"
        assert hops["by_kind"][multi]["recall_at_10"] >= timed["by_kind"][multi]["recall_at_10"]
