"""The pure ranking core: candidates' ranks, ages and importance in, an ordering out.

No I/O and no clock: the store gathers candidates (nearest embeddings, bm25
full-text matches) and passes `now`. The fused score is

    relevance = (w_v / (k + r_v) + w_t / (k + r_t)) / ((w_v + w_t) / (k + 1))
    score     = relevance + w_rec · 2^(−age / half_life) + w_imp · importance

where r_v and r_t are 1-based ranks among the nearest embeddings and in the
bm25 results (a term is 0 when the memory is absent from that list), so
relevance is 1 for a memory first in both lists. This is reciprocal rank
fusion: it needs no calibration between cosine and bm25 scales, and a memory
found both ways beats one found one way. Recency (age from the memory's event
time, future events count as new) and importance are small additive terms that
reorder memories of similar relevance (which of two parking spots is the
latest) without lifting an unrelated memory over a relevant one. A vector
candidate whose cosine is below `min_cosine` is not counted as a vector match,
so a query about nothing stored does not get the least-bad memories ranked as
if they were relevant.

The defaults come from the retrieval set in simulators/data: a small k (5
rather than the usual 60) because only the first few memories reach the
prompt, and full text weighted half of the embeddings because a wearer's
questions rarely reuse the words of the memory that answers them; full text
still decides for names, codes and numbers, which embeddings blur.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class RankingWeights:
    """The constants of the fused score (see the module docstring)."""

    rrf_k: float = 5.0
    vector: float = 1.0
    text: float = 0.5
    recency: float = 0.1
    half_life_days: float = 30.0
    importance: float = 0.1
    min_cosine: float = 0.1


@dataclass(frozen=True)
class Candidate:
    """A memory that either retriever found, with what each said about it."""

    key: int
    cosine: float
    vector_rank: int | None
    text_rank: int | None
    time_s: float  # the memory's event time, seconds since the Unix epoch
    importance: float


@dataclass(frozen=True)
class Ranked:
    candidate: Candidate
    score: float


def recency(age_s: float, half_life_days: float) -> float:
    """1 for now or the future, halving every `half_life_days`."""
    if age_s <= 0.0:
        return 1.0
    return float(0.5 ** (age_s / (half_life_days * SECONDS_PER_DAY)))


def relevance(vector_rank: int | None, text_rank: int | None, weights: RankingWeights) -> float:
    """Reciprocal rank fusion of the two ranks, scaled so first in both lists is 1."""
    k = weights.rrf_k
    total = 0.0
    if vector_rank is not None:
        total += weights.vector / (k + vector_rank)
    if text_rank is not None:
        total += weights.text / (k + text_rank)
    return total / ((weights.vector + weights.text) / (k + 1.0))


def fused_score(candidate: Candidate, now_s: float, weights: RankingWeights) -> float:
    return (
        relevance(candidate.vector_rank, candidate.text_rank, weights)
        + weights.recency * recency(now_s - candidate.time_s, weights.half_life_days)
        + weights.importance * candidate.importance
    )


def rank(
    candidates: Iterable[Candidate], *, now_s: float, k: int, weights: RankingWeights
) -> list[Ranked]:
    """The best `k` candidates that either retriever vouched for, best first.

    Ties go to the newer memory, then the lower key, so the order is repeatable.
    """
    scored = [
        Ranked(candidate, fused_score(candidate, now_s, weights))
        for candidate in candidates
        if candidate.vector_rank is not None or candidate.text_rank is not None
    ]
    scored.sort(key=lambda item: (-item.score, -item.candidate.time_s, item.candidate.key))
    return scored[:k]


def vector_ranks(
    keys: Iterable[int], cosines: Iterable[float], min_cosine: float
) -> dict[int, tuple[int, float]]:
    """Key → (1-based rank, cosine) for the nearest embeddings that pass `min_cosine`.

    `keys` and `cosines` come best first, as the vector index returns them.
    """
    ranks: dict[int, tuple[int, float]] = {}
    for key, cosine in zip(keys, cosines, strict=True):
        if cosine < min_cosine:
            break
        ranks[key] = (len(ranks) + 1, float(cosine))
    return ranks


def text_ranks(keys: Iterable[int]) -> dict[int, int]:
    """Key → 1-based rank for full-text matches, given best first."""
    ranks: dict[int, int] = {}
    for key in keys:
        ranks.setdefault(key, len(ranks) + 1)
    return ranks
