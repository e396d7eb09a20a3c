"""What any personal-memory backend offers: SQLite here, PostgreSQL later.

Every method takes the user first and touches only that user's memories; an id
belonging to someone else behaves exactly like an id that does not exist.
Times that affect the outcome (ranking, retention) are passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from cloud.memory.records import Memory, MemoryChanges, NewMemory, SearchHit


class MemoryStore(Protocol):
    def add(self, user: str, memory: NewMemory) -> Memory:
        """Store one memory; a near-duplicate of the same kind refreshes the existing one.

        Returns the memory as stored: the new one, or the existing one with its
        time moved to the later of the two.
        """
        ...

    def add_many(
        self,
        user: str,
        memories: Sequence[NewMemory],
        *,
        deduplicate: bool = True,
        once_per_source: bool = False,
    ) -> list[Memory]:
        """Store several memories in one transaction: all of them or none.

        `once_per_source`: what an earlier call stored from the same source (a turn's
        `session:turn` id) of the same kind is kept instead of storing it again, so a
        turn answered twice (its worker died after writing) is remembered once."""
        ...

    def get(self, user: str, memory_id: str) -> Memory:
        """One memory, or MemoryNotFoundError."""
        ...

    def list_memories(self, user: str, *, offset: int = 0, limit: int = 50) -> list[Memory]:
        """A page of the user's memories, newest event first."""
        ...

    def count(self, user: str) -> int: ...

    def search(
        self,
        user: str,
        query: str,
        *,
        now: datetime,
        k: int = 10,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[SearchHit]:
        """The `k` memories most relevant to `query`, best first (hybrid, see ranking.py),
        among those whose event time is in [since, until) where those are given."""
        ...

    def edit(self, user: str, memory_id: str, changes: MemoryChanges) -> Memory:
        """Change a memory's fields; new text is re-embedded and re-indexed."""
        ...

    def delete(self, user: str, memory_id: str) -> None:
        """Forget one memory: gone from search at once, from disk after `compact()`."""
        ...

    def delete_all(self, user: str) -> int:
        """Forget every memory of the user; returns how many there were."""
        ...

    def export(self, user: str) -> list[Memory]:
        """Everything the user has, oldest event first."""
        ...

    def enforce_retention(self, now: datetime) -> int:
        """Delete what the retention policy no longer allows, for every user; returns the count."""
        ...

    def compact(self) -> None:
        """Rewrite storage so deleted text no longer exists anywhere on disk."""
        ...

    def close(self) -> None: ...
