"""The pure ranking core and the in-memory vector index: no SQLite, no model."""

from __future__ import annotations

import numpy as np
import pytest

from cloud.memory.ranking import (
    SECONDS_PER_DAY,
    Candidate,
    RankingWeights,
    rank,
    recency,
    relevance,
    text_ranks,
    vector_ranks,
)
from cloud.memory.vectors import VectorIndex

NOW = 1_000_000_000.0
W = RankingWeights()


def candidate(key, vector_rank=None, text_rank=None, age_days=0.0, importance=0.5, cosine=0.5):
    return Candidate(
        key, cosine, vector_rank, text_rank, NOW - age_days * SECONDS_PER_DAY, importance
    )


def test_relevance_is_one_for_first_in_both_lists():
    assert relevance(1, 1, W) == pytest.approx(1.0)


def test_found_by_both_retrievers_beats_found_by_one():
    both = candidate(1, vector_rank=3, text_rank=3)
    vector_only = candidate(2, vector_rank=1)
    text_only = candidate(3, text_rank=1)
    order = [
        r.candidate.key for r in rank([vector_only, text_only, both], now_s=NOW, k=3, weights=W)
    ]
    assert order == [1, 2, 3]


def test_recency_halves_every_half_life_and_future_counts_as_now():
    half_life = W.half_life_days * SECONDS_PER_DAY
    assert recency(0.0, W.half_life_days) == 1.0
    assert recency(-5.0, W.half_life_days) == 1.0
    assert recency(half_life, W.half_life_days) == pytest.approx(0.5)
    assert recency(2 * half_life, W.half_life_days) == pytest.approx(0.25)


def test_recency_decides_between_equally_relevant_memories():
    old = candidate(1, vector_rank=2, text_rank=1, age_days=200)
    new = candidate(2, vector_rank=1, text_rank=2, age_days=1)
    assert [r.candidate.key for r in rank([old, new], now_s=NOW, k=2, weights=W)] == [2, 1]


def test_recency_and_importance_do_not_lift_an_irrelevant_memory_over_a_relevant_one():
    relevant = candidate(1, vector_rank=1, text_rank=1, age_days=365, importance=0.0)
    fresh_but_weak = candidate(2, vector_rank=10, age_days=0, importance=1.0)
    assert rank([fresh_but_weak, relevant], now_s=NOW, k=1, weights=W)[0].candidate.key == 1


def test_importance_breaks_a_tie():
    plain = candidate(1, vector_rank=1, importance=0.1)
    important = candidate(2, vector_rank=1, importance=0.9)
    assert rank([plain, important], now_s=NOW, k=1, weights=W)[0].candidate.key == 2


def test_candidates_neither_retriever_vouched_for_are_dropped():
    assert rank([candidate(1)], now_s=NOW, k=5, weights=W) == []


def test_rank_returns_at_most_k_and_is_repeatable_on_ties():
    tied = [candidate(key, vector_rank=1) for key in (5, 3, 4)]
    first = [r.candidate.key for r in rank(tied, now_s=NOW, k=2, weights=W)]
    assert first == [3, 4]
    assert [r.candidate.key for r in rank(reversed(tied), now_s=NOW, k=2, weights=W)] == first


def test_vector_ranks_stop_at_the_cosine_floor():
    ranks = vector_ranks([7, 8, 9], [0.8, 0.3, 0.05], min_cosine=0.1)
    assert ranks == {7: (1, pytest.approx(0.8)), 8: (2, pytest.approx(0.3))}


def test_text_ranks_keep_the_first_position_of_a_key():
    assert text_ranks([4, 2, 4, 9]) == {4: 1, 2: 2, 9: 3}


def unit(*values):
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_vector_index_finds_nearest_best_first():
    index = VectorIndex(3, capacity=1)  # grows as needed
    index.add(10, unit(1, 0, 0), kind=0, time_s=1.0, importance=0.1)
    index.add(11, unit(0, 1, 0), kind=0, time_s=2.0, importance=0.2)
    index.add(12, unit(1, 1, 0), kind=1, time_s=3.0, importance=0.3)
    keys, cosines = index.nearest(unit(1, 0.1, 0), k=2)
    assert keys.tolist() == [10, 12]
    assert cosines[0] > cosines[1]
    assert index.meta(12) == (3.0, pytest.approx(0.3))


def test_vector_index_remove_keeps_the_other_rows_findable():
    index = VectorIndex(3)
    for key, vector in [(1, unit(1, 0, 0)), (2, unit(0, 1, 0)), (3, unit(0, 0, 1))]:
        index.add(key, vector, kind=0, time_s=0.0, importance=0.5)
    index.remove(1)  # the last row moves into its place
    assert 1 not in index and len(index) == 2
    assert index.nearest(unit(0, 0, 1), k=1)[0].tolist() == [3]
    assert index.nearest(unit(0, 1, 0), k=1)[0].tolist() == [2]


def test_vector_index_similar_filters_by_kind_and_threshold():
    index = VectorIndex(2)
    index.add(1, unit(1, 0), kind=0, time_s=0.0, importance=0.5)
    index.add(2, unit(1, 0.01), kind=1, time_s=0.0, importance=0.5)
    index.add(3, unit(0, 1), kind=0, time_s=0.0, importance=0.5)
    assert [key for key, _ in index.similar(unit(1, 0), kind=0, threshold=0.95)] == [1]
