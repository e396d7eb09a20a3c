"""One hybrid search, whichever store runs it: the query checked and embedded, the nearest
embeddings and the full-text matches fused (ranking.py), the hits read back.

A store supplies only what differs: its full-text matches (FTS5's bm25 or
PostgreSQL's ts_rank) and how it reads memories by row key. Both stores thus
answer a query alike, which `companion memory search --store …` relies on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from cloud.memory.embedder import Embedder
from cloud.memory.errors import InvalidMemoryError
from cloud.memory.ranking import Candidate, RankingWeights, rank, text_ranks, vector_ranks
from cloud.memory.records import Memory, SearchHit, check_user, to_utc
from cloud.memory.vectors import FloatArray, VectorIndex, embed_texts, normalised

CANDIDATES_PER_RETRIEVER = 50


@dataclass(frozen=True)
class SearchPlan:
    """A checked query: its unit vector, the time ranking is relative to, how many
    candidates each retriever brings, and the event-time window [since, until) in seconds."""

    vector: FloatArray
    now_s: float
    k: int
    pool: int
    window: tuple[float, float] | None


def plan_search(
    embedder: Embedder,
    user: str,
    query: str,
    *,
    now: datetime,
    k: int,
    query_vector: FloatArray | None,
    since: datetime | None,
    until: datetime | None,
) -> SearchPlan | None:
    """The plan of a search, or None when it asks for no hits (k ≤ 0); a bad user, query,
    time or query vector is an InvalidMemoryError before anything is read."""
    check_user(user)
    if not isinstance(query, str) or not query.strip():
        raise InvalidMemoryError("a search needs a non-empty query")
    now_s = to_utc(now, "now").timestamp()
    if k <= 0:
        return None
    if query_vector is None:
        vector = embed_texts(embedder, [query])[0]
    elif query_vector.shape != (embedder.dimension,):
        raise InvalidMemoryError(
            f"query_vector has shape {query_vector.shape}; "
            f"expected ({embedder.dimension},) from {embedder.name}"
        )
    else:
        vector = normalised(query_vector)
    window = None
    if since is not None or until is not None:
        window = (
            -np.inf if since is None else to_utc(since, "since").timestamp(),
            np.inf if until is None else to_utc(until, "until").timestamp(),
        )
    return SearchPlan(vector, now_s, k, max(CANDIDATES_PER_RETRIEVER, k), window)


def fused_hits(
    index: VectorIndex,
    plan: SearchPlan,
    text_matches: list[int],
    weights: RankingWeights,
    fetch: Callable[[list[int]], dict[int, Memory]],
) -> list[SearchHit]:
    """The best `plan.k` of the nearest embeddings in the window and `text_matches` (row
    keys, best first, already in the window and in `index`), read with `fetch`."""
    keys, cosines = index.nearest(plan.vector, plan.pool, plan.window)
    by_vector = vector_ranks(keys.tolist(), cosines.tolist(), weights.min_cosine)
    by_text = text_ranks(text_matches)
    candidates = []
    for key in by_vector.keys() | by_text.keys():
        time_s, importance = index.meta(key)
        vector_rank, cosine = by_vector.get(key, (None, index.cosine(key, plan.vector)))
        candidates.append(Candidate(key, cosine, vector_rank, by_text.get(key), time_s, importance))
    ranked = rank(candidates, now_s=plan.now_s, k=plan.k, weights=weights)
    memories = fetch([item.candidate.key for item in ranked])
    return [
        SearchHit(
            memory=memories[item.candidate.key],
            score=item.score,
            cosine=item.candidate.cosine,
            vector_rank=item.candidate.vector_rank,
            text_rank=item.candidate.text_rank,
        )
        for item in ranked
        if item.candidate.key in memories
    ]
