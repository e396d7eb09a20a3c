"""How fast and how well personal memory retrieves: latency at 1k/10k/100k, recall@10, MRR.

Latency is measured on one core (torch, OpenMP and BLAS limited to one
thread), for one user, twice per query: the retrieval alone (query vector
given) and including embedding the query with MiniLM, which is what a
conversation turn pays. Memories come from templates of a wearer's day. Only
the first `real_embeddings` of them are embedded with MiniLM (embedding 100k
texts takes most of an hour on two cores); the rest get random unit vectors,
which cost the brute-force search exactly the same, while their text still
feeds the FTS index. The output says how many of each were used.

Quality is measured on `simulators/data/memory_retrieval_set.json`: memories
from eight sessions of a wearer's conversations and observations, and questions
with the source_ids that answer them, several sharing no word with the answer;
and on `simulators/data/memory_conversations.json`, turn by turn, with recall@k
and MRR per question kind (see bench_memory_conversations.py).

With `store` (a postgresql:// URL) the latency and the retrieval set run on
that PostgreSQL database instead of SQLite files, as the bench's user, whose
memories are deleted before and after each run; the conversation set stays on
SQLite.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cloud.memory.cli_ops import add_jsonl
from cloud.memory.embedder import Embedder
from cloud.memory.multi_hop import search_with_hops
from cloud.memory.ranking import RankingWeights
from cloud.memory.records import MemoryKind, NewMemory, parse_iso
from cloud.memory.sqlite_store import SqliteMemoryStore
from cloud.memory.store import MemoryStore
from cloud.memory.words import content_words
from simulators.bench_memory_conversations import conversation_quality, long_conversation_quality

RETRIEVAL_SET = Path(__file__).resolve().parent / "data" / "memory_retrieval_set.json"
BENCH_USER = "bench-user"


@dataclass(frozen=True)
class RetrievalQuery:
    id: str
    query: str
    relevant: tuple[str, ...]


@dataclass(frozen=True)
class RetrievalSet:
    now: datetime
    memory_lines: tuple[str, ...]  # `companion memory add` JSON lines
    queries: tuple[RetrievalQuery, ...]
    sessions: int


def load_retrieval_set(path: Path = RETRIEVAL_SET) -> RetrievalSet:
    data = json.loads(path.read_text())
    return RetrievalSet(
        now=parse_iso(data["now"], "now"),
        memory_lines=tuple(json.dumps(memory) for memory in data["memories"]),
        queries=tuple(
            RetrievalQuery(q["id"], q["query"], tuple(q["relevant"])) for q in data["queries"]
        ),
        sessions=len(data["sessions"]),
    )


@dataclass(frozen=True)
class QueryOutcome:
    id: str
    query: str
    relevant: tuple[str, ...]
    found: tuple[str | None, ...]  # source_ids of the top k, best first
    word_overlap: bool  # the query shares a content word with an answer

    @property
    def recall(self) -> float:
        return sum(s in self.found for s in self.relevant) / len(self.relevant)

    @property
    def reciprocal_rank(self) -> float:
        ranks = [self.found.index(s) + 1 for s in self.relevant if s in self.found]
        return 1.0 / min(ranks) if ranks else 0.0


def retrieval_quality(
    embedder: Embedder,
    dataset: RetrievalSet | None = None,
    *,
    k: int = 10,
    weights: RankingWeights | None = None,
    store: str = "",
) -> dict[str, Any]:
    """Recall@k and MRR of the store's hybrid search on the retrieval set.

    Recall@k: the share of a query's relevant memories found in its top k,
    averaged over queries. MRR: the mean of 1 / rank of the first relevant hit
    (0 when none is in the top k). Queries that share no content word with
    their answers are also scored on their own: they measure the embeddings.
    """
    dataset = dataset or load_retrieval_set()
    outcomes = evaluate_queries(embedder, dataset, k=k, weights=weights, store=store)

    def summary(rows: list[QueryOutcome]) -> dict[str, Any]:
        if not rows:
            return {"queries": 0}
        return {
            "queries": len(rows),
            f"recall_at_{k}": round(float(np.mean([r.recall for r in rows])), 4),
            "mrr": round(float(np.mean([r.reciprocal_rank for r in rows])), 4),
        }

    return {
        "memories": len(dataset.memory_lines),
        "sessions": dataset.sessions,
        **summary(outcomes),
        "no_word_overlap": summary([r for r in outcomes if not r.word_overlap]),
        "misses": [
            {"id": r.id, "query": r.query, "relevant": r.relevant, "top_3": r.found[:3]}
            for r in outcomes
            if r.recall < 1.0
        ],
    }


@contextmanager
def open_store(
    store: str, path: Path, embedder: Embedder, *, weights: RankingWeights | None = None
) -> Iterator[MemoryStore]:
    """The SQLite file at `path`, or the PostgreSQL database `store` names, with the bench
    user's memories cleared before and after (so a run starts empty and leaves nothing)."""
    if not store:
        with SqliteMemoryStore(path, embedder, weights=weights) as sqlite:
            yield sqlite
        return
    from cloud.memory.postgres_store import PostgresMemoryStore

    with PostgresMemoryStore(store, embedder, weights=weights) as shared:
        shared.delete_all(BENCH_USER)
        try:
            yield shared
        finally:
            shared.delete_all(BENCH_USER)


def evaluate_queries(
    embedder: Embedder,
    dataset: RetrievalSet,
    *,
    k: int = 10,
    weights: RankingWeights | None = None,
    store: str = "",
) -> list[QueryOutcome]:
    """Load the set into a fresh store (SQLite, or the `store` URL) and run every query."""
    records = [json.loads(line) for line in dataset.memory_lines]
    texts = {record["source_id"]: record["text"] for record in records}
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="memory-eval-") as folder:
        with open_store(store, Path(folder) / "eval.db", embedder, weights=weights) as store_:
            add_jsonl(store_, BENCH_USER, dataset.memory_lines, source="retrieval-set")
            for query in dataset.queries:
                hits = store_.search(BENCH_USER, query.query, now=dataset.now, k=k)
                words = content_words(query.query)
                outcomes.append(
                    QueryOutcome(
                        id=query.id,
                        query=query.query,
                        relevant=query.relevant,
                        found=tuple(hit.memory.source_id for hit in hits),
                        word_overlap=any(words & content_words(texts[s]) for s in query.relevant),
                    )
                )
    return outcomes


# -- latency ----------------------------------------------------------------

_PEOPLE = "Anna Ben Clara David Elena Farid Grace Hugo Ines Jonas Kenji Lena Marco Nadia Omar Priya Quinn Rosa Sam Tom Uma Viktor Wen Yusuf Zoe".split()
_OBJECTS = [
    "keys",
    "wallet",
    "phone",
    "glasses",
    "umbrella",
    "charger",
    "headphones",
    "passport",
    "laptop",
    "backpack",
    "jacket",
    "scarf",
    "notebook",
    "water bottle",
    "bike lock",
    "sunglasses",
    "badge",
    "remote",
    "ticket",
    "receipt",
]
_SPOTS = [
    "on the kitchen counter",
    "on the hallway shelf",
    "in the top drawer",
    "in the car glovebox",
    "on the office desk",
    "on the bedside table",
    "in the blue bag",
    "in my coat pocket",
    "in the bathroom cabinet",
    "on the garage workbench",
    "on the dining table",
    "on the bookshelf",
    "in the laundry basket",
    "on the front porch",
    "in the gym locker",
]
_PLACES = [
    "bakery on Oak Street",
    "train station",
    "farmers market",
    "library",
    "pharmacy",
    "Thai place next to the office",
    "gym",
    "park by the river",
    "hardware store",
    "cinema",
    "coffee shop on Elm Street",
    "mall garage",
    "post office",
    "bus stop",
    "town square",
]
_THINGS_SEEN = [
    "red bicycle",
    "poster for a jazz concert",
    "sign about road works",
    "black cat",
    "food truck selling tacos",
    "flyer for a yoga class",
    "broken street light",
    "new ramen stall",
    "sale on garden hoses",
    "street musician playing violin",
    "delivery van blocking the lane",
    "notice about a water outage",
]
_EVENTS = "dentist appointment|team meeting|vet visit|haircut|parent-teacher meeting|doctor's appointment|yoga class|car service|dinner reservation|job interview|flight|train to Berlin".split(
    "|"
)
_TOPICS = "the budget|the Atlas report|holiday plans|the new flat|a birthday party|the garden|school fees|the football match|a book club pick|the broken boiler".split(
    "|"
)
_FOODS = "green curry|lentil soup|margherita pizza|ramen|tacos|cinnamon buns|falafel wrap|pad thai|mushroom risotto|sushi".split(
    "|"
)
_WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_MONTHS = (
    "January February March April May June July August September October November December".split()
)


def _synthetic_text(rng: random.Random) -> tuple[str, MemoryKind]:
    person, other = rng.sample(_PEOPLE, 2)
    hour = f"{rng.randint(7, 21)}:{rng.choice(['00', '15', '30', '45'])}"
    day = f"{rng.choice(_MONTHS)} {rng.randint(1, 28)}"
    thing = rng.choice(_OBJECTS)
    templates: list[tuple[str, MemoryKind]] = [
        (
            f"I left my {thing} {rng.choice(_SPOTS)} at {hour} on {rng.choice(_WEEKDAYS)}.",
            MemoryKind.FACT,
        ),
        (
            f"Saw a {rng.choice(_THINGS_SEEN)} near the {rng.choice(_PLACES)} on {day} around {hour}.",
            MemoryKind.OBSERVATION,
        ),
        (f"I have a {rng.choice(_EVENTS)} on {day} at {hour}.", MemoryKind.FACT),
        (
            f"Had lunch with {person} at the {rng.choice(_PLACES)}; we talked about {rng.choice(_TOPICS)}.",
            MemoryKind.EPISODIC,
        ),
        (f"{person}'s birthday is on {day}.", MemoryKind.FACT),
        (
            f"{person} recommended the {rng.choice(_FOODS)} at the {rng.choice(_PLACES)}.",
            MemoryKind.EPISODIC,
        ),
        (
            f"The {rng.choice(_PLACES)} is open until {hour} on {rng.choice(_WEEKDAYS)}s.",
            MemoryKind.OBSERVATION,
        ),
        (
            f"Meeting with {person} about {rng.choice(_TOPICS)} moved to {rng.choice(_WEEKDAYS)} at {hour}.",
            MemoryKind.EPISODIC,
        ),
        (
            f"Paid the {rng.choice(['electricity', 'water', 'phone', 'internet', 'gas'])} bill, {rng.randint(20, 180)} euros, reference {rng.randint(1000, 9999)}.",
            MemoryKind.EPISODIC,
        ),
        (
            f"{person} said {other} is moving to {rng.choice(['Lisbon', 'Berlin', 'Oslo', 'Madrid', 'Vienna', 'Dublin'])} in {rng.choice(_MONTHS)}.",
            MemoryKind.EPISODIC,
        ),
        (
            f"My {thing} {'are' if thing.endswith('s') else 'is'} {rng.choice(_SPOTS)} since {rng.choice(_WEEKDAYS)} {hour}.",
            MemoryKind.FACT,
        ),
        (
            f"Asked {person} how to cook {rng.choice(_FOODS)}; about {rng.randint(10, 60)} minutes at {rng.randint(150, 240)} degrees.",
            MemoryKind.EPISODIC,
        ),
        (
            f"Parked on level {rng.randint(-3, 6)} of the {rng.choice(_PLACES)}, row {rng.choice('ABCDEFGH')}.",
            MemoryKind.OBSERVATION,
        ),
        (
            f"Remember to call {person} about {rng.choice(_TOPICS)} before {rng.choice(_WEEKDAYS)} {hour}.",
            MemoryKind.EXPLICIT,
        ),
    ]
    return rng.choice(templates)


def synthetic_memories(count: int, now: datetime, seed: int = 0) -> list[NewMemory]:
    """A wearer's memories from templates, spread over the two years before `now`."""
    rng = random.Random(seed)
    memories = []
    for n in range(count):
        text, kind = _synthetic_text(rng)
        memories.append(
            NewMemory(
                text=text,
                time=now - timedelta(seconds=rng.uniform(0, 2 * 365 * 86_400)),
                kind=kind,
                source="bench",
                source_id=f"bench-{n}",
                importance=round(rng.uniform(0.2, 0.9), 2),
            )
        )
    return memories


class _TableEmbedder:
    """Known texts get their precomputed vector; anything else (queries) goes to the model."""

    def __init__(self, model: Embedder, rows: dict[str, int], matrix: npt.NDArray[np.float32]):
        self.name = model.name
        self.dimension = model.dimension
        self._model = model
        self._rows = rows
        self._matrix = matrix

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if all(text in self._rows for text in texts):
            return self._matrix[[self._rows[text] for text in texts]]
        return self._model.embed(texts)


@contextmanager
def one_core() -> Iterator[None]:
    """torch, OpenMP and BLAS on one thread, as a loaded server would give one request."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(before)


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000.0
    return {
        "p50": round(float(np.percentile(ms, 50)), 2),
        "p95": round(float(np.percentile(ms, 95)), 2),
        "max": round(float(ms.max()), 2),
    }


def bench_memory(
    sizes: Sequence[int] = (1000, 10000, 100000),
    queries: int = 200,
    *,
    embedder: Embedder | None = None,
    real_embeddings: int = 3000,
    k: int = 10,
    seed: int = 0,
    workdir: Path | None = None,
    quality: bool = True,
    store: str = "",
) -> dict[str, Any]:
    """Retrieval latency per store size (p50/p95, with and without query embedding) and quality.

    `embedder` defaults to the bundled MiniLM (loaded here, once). Stores are
    written under `workdir` (a temporary folder by default) and removed after.
    """
    if embedder is None:
        from cloud.memory.embedder import MiniLmEmbedder

        embedder = MiniLmEmbedder()
    dataset = load_retrieval_set()
    now = dataset.now
    largest = max(sizes)
    memories = synthetic_memories(largest, now, seed)
    texts = [memory.text for memory in memories]
    rows: dict[str, int] = {}
    for text in texts:
        rows.setdefault(text, len(rows))
    unique = list(rows)
    real = min(real_embeddings, len(unique))
    started = time.perf_counter()
    matrix = np.empty((len(unique), embedder.dimension), dtype=np.float32)
    matrix[:real] = embedder.embed(unique[:real])
    embed_seconds = time.perf_counter() - started
    noise = np.random.default_rng(seed).standard_normal(
        (len(unique) - real, embedder.dimension), dtype=np.float32
    )
    matrix[real:] = noise / np.linalg.norm(noise, axis=1, keepdims=True)
    loader = _TableEmbedder(embedder, rows, matrix)
    questions = [dataset.queries[i % len(dataset.queries)].query for i in range(queries)]

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-memory-", dir=workdir) as folder:
        for size in sizes:
            path = Path(folder) / f"memories-{size}.db"
            with open_store(store, path, loader) as opened:
                started = time.perf_counter()
                opened.add_many(BENCH_USER, memories[:size], deduplicate=False)
                insert_seconds = time.perf_counter() - started
                if store:  # measured before the bench user's memories are cleared
                    latency = _search_latency(opened, path, loader, embedder, questions, k, now)
            file_bytes = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
            if not store:  # reopened, as after a restart: the first search loads the matrix
                latency = _search_latency(None, path, loader, embedder, questions, k, now)
            model_rows = sum(rows[text] < real for text in texts[:size])
            results[str(size)] = {
                "memories": size,
                "minilm_embedded": model_rows,
                "random_unit_vectors": size - model_rows,
                "insert_seconds": round(insert_seconds, 2),
                **({} if store else {"file_mb": round(file_bytes / 1e6, 1)}),
                **latency,
            }

    report: dict[str, Any] = {
        "store": "postgresql" if store else "sqlite",
        "embedder": embedder.name,
        "threads": 1,
        "queries_per_size": queries,
        "k": k,
        "note": (
            f"memories whose text is among the first {real} distinct texts are embedded with "
            f"{embedder.name} ({embed_seconds:.1f} s); the rest get random unit vectors (same "
            "search cost) while their text is indexed for full text as usual; first_search_ms "
            "is the first search after reopening the store, including loading the user's "
            "embedding matrix"
        ),
        "latency": results,
    }
    if quality:
        report["retrieval_set"] = retrieval_quality(embedder, dataset, k=k, store=store)
        report["conversation_set"] = conversation_quality(embedder, k=k)
        report["conversation_set_long"] = long_conversation_quality(embedder, k=k)
    return report


def _search_latency(
    shared: MemoryStore | None,
    path: Path,
    embedder: Embedder,
    query_embedder: Embedder,
    questions: list[str],
    k: int,
    now: datetime,
) -> dict[str, Any]:
    """First search after opening, then p50/p95 per query, on one core.

    SQLite reopens its file; a PostgreSQL store (`shared`) is reopened on the same
    database, so its first search fetches the user's vectors from the server.
    """
    if shared is not None:
        from cloud.memory.postgres_store import PostgresMemoryStore

        assert isinstance(shared, PostgresMemoryStore)
        reopened: Any = PostgresMemoryStore(shared.dsn, embedder)
    else:
        reopened = SqliteMemoryStore(path, embedder)
    with reopened as store, one_core():
        started = time.perf_counter()
        store.search(BENCH_USER, "warm up", now=now, k=k)
        first_search = time.perf_counter() - started
        vectors = []
        embed_times = []
        for question in questions:
            started = time.perf_counter()
            vectors.append(query_embedder.embed([question])[0])
            embed_times.append(time.perf_counter() - started)
        retrieval, end_to_end, hops = [], [], []
        for question, vector in zip(questions, vectors, strict=True):
            started = time.perf_counter()
            store.search(BENCH_USER, question, now=now, k=k, query_vector=vector)
            retrieval.append(time.perf_counter() - started)
            started = time.perf_counter()
            store.search(BENCH_USER, question, now=now, k=k)
            end_to_end.append(time.perf_counter() - started)
            started = time.perf_counter()
            search_with_hops(store, BENCH_USER, question, now=now, k=k)
            hops.append(time.perf_counter() - started)
    return {
        "first_search_ms": round(first_search * 1000, 1),
        "retrieval_ms": _percentiles(retrieval),
        "with_query_embedding_ms": _percentiles(end_to_end),
        "query_embedding_ms": _percentiles(embed_times),
        # What `companion memory search` pays: time window, first search, seeded second
        # search (both embedding their query), fusion.
        "with_multi_hop_ms": _percentiles(hops),
    }


def main() -> None:
    """`python -m simulators.bench_memory [sizes…]`: print the figures as JSON."""
    import sys

    sizes = tuple(int(arg) for arg in sys.argv[1:]) or (1000, 10000, 100000)
    print(json.dumps(bench_memory(sizes), indent=2))


if __name__ == "__main__":
    main()
