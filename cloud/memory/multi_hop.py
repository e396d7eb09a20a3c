"""Questions whose answer lives in two memories: a second search seeded by the first.

"What did the colleague who is going climbing with Jonah do before?" finds
the turn that names the colleague (Femi) but not the older one that says what
Femi did, since that turn shares no word with the question. The first
search's top hits name who and what the question is really about; a second
search with those names added finds the other half. The two rankings are
merged by reciprocal rank fusion with equal weights: a memory both searches
rank high (the answer to a single-hop question, which the seeded search
still finds) stays on top, and the second hop's own finds take the places
below it.

Pure apart from the store it is handed: `now` is passed in.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cloud.memory.records import SearchHit
from cloud.memory.store import MemoryStore
from cloud.memory.time_query import search_in_time
from cloud.memory.words import STOPWORDS, content_words, words

# A speaker label at the start of a stored turn ("Jonah: …") names who spoke, not
# what the turn is about; it is in almost every turn of a conversation.
_SPEAKER = re.compile(r"^\s*[\w' .-]{1,40}:\s")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?\b")
_NOT_ENTITIES = frozenset(
    """i i'm i've i'll i'd yes no oh ok okay good great sure fine thanks thank please the a an
    and but so then well also just really actually monday tuesday wednesday thursday friday
    saturday sunday january february march april may june july august september october
    november december mum dad mom""".split()
)


@dataclass(frozen=True)
class HopWeights:
    """How the second search is seeded and merged (tuned on the dev part of the
    long-conversation set, simulators/data/memory_conversations_long.json)."""

    seed_hits: int = 3  # how many of the first search's hits seed the second
    max_terms: int = 6  # how many seed words are added to the question
    rrf_k: float = 10.0
    first: float = 1.0
    second: float = 1.0  # equal: 0.6 kept multi-hop recall@10 at 0.79 on dev, 1.0 gave 0.83


def seed_terms(question: str, hits: Sequence[SearchHit], weights: HopWeights) -> list[str]:
    """Names (capitalised words inside a sentence) and then content words from the top
    hits that the question does not already say, most frequent first."""
    asked = content_words(question)
    names: Counter[str] = Counter()
    others: Counter[str] = Counter()
    for hit in hits[: weights.seed_hits]:
        text = _SPEAKER.sub("", hit.memory.text, count=1)
        for name in _NAME.findall(text):
            key = name.lower()
            if (
                key not in _NOT_ENTITIES
                and key not in STOPWORDS
                and not content_words(key) <= asked
            ):
                names[name] += 1
        for word in words(text):
            if len(word) > 3 and word not in STOPWORDS and not content_words(word) <= asked:
                others[word] += 1
    terms = [name for name, _ in names.most_common()]
    lowered = {term.lower() for term in terms}
    terms += [word for word, _ in others.most_common() if word not in lowered]
    return terms[: weights.max_terms]


def fuse(
    first: Sequence[SearchHit], second: Sequence[SearchHit], weights: HopWeights, k: int
) -> list[SearchHit]:
    """Reciprocal rank fusion of two rankings of the same store's memories, best first."""
    scores: dict[str, float] = {}
    by_id: dict[str, SearchHit] = {}
    for weight, hits in ((weights.first, first), (weights.second, second)):
        for rank, hit in enumerate(hits, start=1):
            scores[hit.memory.id] = scores.get(hit.memory.id, 0.0) + weight / (weights.rrf_k + rank)
            by_id.setdefault(hit.memory.id, hit)
    order = sorted(scores, key=lambda memory_id: -scores[memory_id])
    return [by_id[memory_id] for memory_id in order[:k]]


def search_with_hops(
    store: MemoryStore,
    user: str,
    question: str,
    *,
    now: datetime,
    k: int,
    weights: HopWeights | None = None,
) -> list[SearchHit]:
    """The question's search (kept to the time it names), then one seeded by its top hits,
    merged. With nothing to seed from, the first search as it is."""
    weights = weights or HopWeights()
    first = search_in_time(store, user, question, now=now, k=k)
    terms = seed_terms(question, first, weights)
    if not terms:
        return first
    second = search_in_time(store, user, f"{question} {' '.join(terms)}", now=now, k=k)
    return fuse(first, second, weights, k)
