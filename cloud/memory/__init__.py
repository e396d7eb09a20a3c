"""Personal memory: what the wearer said, saw and asked to keep, searchable by meaning.

    store = SqliteMemoryStore(path, MiniLmEmbedder())
    store.add(user, NewMemory("My car is on level 3.", time=now, kind=MemoryKind.FACT))
    hits = store.search(user, "where did I park?", now=now, k=5)

One store per user inside one file; every method takes the user. Retrieval is
hybrid (FTS5 bm25 + MiniLM cosine, fused in `ranking`), writes are atomic and
deduplicated, and the owner can list, edit, delete, export and expire memories.
"""

from cloud.memory.embedder import Embedder, MiniLmEmbedder
from cloud.memory.errors import InvalidMemoryError, MemoryNotFoundError, MemoryStoreError
from cloud.memory.facts import ExtractedFact, extract_facts
from cloud.memory.hashing_embedder import HashingEmbedder
from cloud.memory.ranking import RankingWeights
from cloud.memory.records import (
    Memory,
    MemoryChanges,
    MemoryKind,
    NewMemory,
    RetentionPolicy,
    SearchHit,
)
from cloud.memory.sqlite_store import SqliteMemoryStore
from cloud.memory.store import MemoryStore

__all__ = [
    "Embedder",
    "ExtractedFact",
    "HashingEmbedder",
    "InvalidMemoryError",
    "Memory",
    "MemoryChanges",
    "MemoryKind",
    "MemoryNotFoundError",
    "MemoryStore",
    "MemoryStoreError",
    "MiniLmEmbedder",
    "NewMemory",
    "RankingWeights",
    "RetentionPolicy",
    "SearchHit",
    "SqliteMemoryStore",
    "extract_facts",
]
