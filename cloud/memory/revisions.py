"""Which memory a new one repeats, replaces or refreshes, and what an edit makes of one.

Both stores (SQLite, PostgreSQL) keep memories the same way; only their SQL
differs. This module holds the decisions: a store hands `store_memories` its
rows through `MemoryRows` (a handful of small queries inside its own write
transaction) and the user's in-memory matrix, and gets back the memories as
stored. No SQL, no clock, no connection here.

- A near-duplicate is the same kind, cosine above DEDUPE_COSINE and the same
  content words; or a current fact of the same slot saying the same thing,
  whatever its kind. It refreshes the existing memory (the later time, the
  higher importance) instead of adding a row.
- A fact with a slot replaces the user's other current facts of that slot: the
  newest by event time stays current, the rest are kept as history, marked
  replaced by it, and leave the search matrix.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol

from cloud.memory.errors import InvalidMemoryError
from cloud.memory.facts import fact_slot
from cloud.memory.records import Memory, MemoryChanges, MemoryKind, NewMemory, check_user
from cloud.memory.vectors import FloatArray, VectorIndex
from cloud.memory.words import content_words

# Above this cosine, two memories of one kind with the same content words are
# one memory said twice. The word check matters: MiniLM puts "my car is on
# level 3" and "… level 4" at 0.96, and those must stay two memories.
DEDUPE_COSINE = 0.95
# How many of the nearest same-kind memories are read to find the one said twice.
_DUPLICATES_READ = 8

# The kind of each memory as the search matrix stores it (one byte a row).
KIND_CODE = {kind: code for code, kind in enumerate(MemoryKind)}


class MemoryRows(Protocol):
    """One user's rows inside a store's open write transaction."""

    index: VectorIndex  # the user's search matrix, kept in step with the rows

    def fetch(self, keys: list[int]) -> dict[int, Memory]:
        """The memories with these row keys (any missing are left out)."""
        ...

    def of_slot(self, slot: str, *, facts_only: bool) -> list[tuple[int, Memory]]:
        """The current (not replaced) memories of the slot, by row key; with `facts_only`
        only those of kind fact or explicit."""
        ...

    def of_source(self, source_id: str) -> list[tuple[int, Memory]]:
        """The memories stored from `source_id` (a turn, a document), by row key."""
        ...

    def insert(self, memory: NewMemory, vector: FloatArray) -> Memory:
        """Add the memory as a new row and to `index`; returns it as stored."""
        ...

    def mark_replaced(self, key: int, newest: Memory) -> None:
        """Mark the row as replaced by `newest` from `newest.time` on."""
        ...

    def refresh(self, key: int, memory: Memory) -> None:
        """Write the row's new time, importance and updated stamp."""
        ...


def check_new(user: str, memories: Sequence[NewMemory]) -> None:
    """Refuse a bad user or anything that is not a NewMemory before embedding anything."""
    check_user(user)
    for memory in memories:
        if not isinstance(memory, NewMemory):
            raise InvalidMemoryError(f"expected NewMemory, got {type(memory).__name__}")


def store_memories(
    rows: MemoryRows,
    memories: Sequence[NewMemory],
    vectors: FloatArray,
    *,
    stamp: datetime,
    deduplicate: bool,
    once_per_source: bool = False,
) -> list[Memory]:
    """Store each memory, refreshing the one it repeats and replacing older facts of its slot.

    `deduplicate=False` (bulk imports of data known to be distinct) skips both.
    `once_per_source`: a memory whose source already has one of its kind from an
    earlier write is that write again (a turn retaken after its worker died, whose
    answer may be worded differently the second time), so the stored one stands.
    """
    stored: list[Memory] = []
    earlier = _earlier_by_source(rows, memories) if once_per_source else {}
    for memory, vector in zip(memories, vectors, strict=True):
        again = earlier.get((memory.source_id, memory.kind))
        if again is not None:
            stored.append(again)
            continue
        existing = repeated(rows, memory, vector) if deduplicate else None
        if existing is not None:
            key, found = existing
            fresh = refreshed(found, memory, stamp)
            rows.refresh(key, fresh)
            if key in rows.index:
                rows.index.update(key, time_s=fresh.time.timestamp(), importance=fresh.importance)
            stored.append(fresh)
            continue
        added = rows.insert(memory, vector)
        if deduplicate and memory.slot is not None:
            added = supersede(rows, added)
        stored.append(added)
    return stored


def _earlier_by_source(
    rows: MemoryRows, memories: Sequence[NewMemory]
) -> dict[tuple[str | None, MemoryKind], Memory]:
    """What earlier writes stored from these memories' sources, one per source and kind."""
    earlier: dict[tuple[str | None, MemoryKind], Memory] = {}
    for source_id in {memory.source_id for memory in memories if memory.source_id}:
        for _, found in rows.of_source(source_id):
            earlier.setdefault((source_id, found.kind), found)
    return earlier


def repeated(rows: MemoryRows, memory: NewMemory, vector: FloatArray) -> tuple[int, Memory] | None:
    """The stored memory that `memory` says again, by row key, or None."""
    said = content_words(memory.text)
    near = rows.index.similar(vector, KIND_CODE[memory.kind], DEDUPE_COSINE)[:_DUPLICATES_READ]
    for key, found in _fetched(rows, [key for key, _ in near]):
        if content_words(found.text) == said:
            return key, found
    if memory.slot is None:
        return None
    # "Remember my shoe size is 44" after "my shoe size is now 44" is one fact.
    for key, found in rows.of_slot(memory.slot, facts_only=False):
        if content_words(found.text) == said:
            return key, found
    return None


def supersede(rows: MemoryRows, added: Memory) -> Memory:
    """Mark the other current facts of `added`'s slot as replaced by the newest of them.

    Usually that is `added`; a fact told late about an earlier time is itself
    the history when a newer fact of its slot is already stored.
    """
    assert added.slot is not None
    current = rows.of_slot(added.slot, facts_only=True)
    if len(current) < 2:
        return added
    current.sort(key=lambda item: (item[1].time, item[0]))
    newest = current[-1][1]
    result = added
    for key, memory in current[:-1]:
        rows.mark_replaced(key, newest)
        if key in rows.index:
            rows.index.remove(key)
        if memory.id == added.id:
            result = dataclasses.replace(added, replaced_by=newest.id, superseded_at=newest.time)
    return result


def refreshed(found: Memory, memory: NewMemory, stamp: datetime) -> Memory:
    """`found` said again by `memory`: the later time, the higher importance."""
    return dataclasses.replace(
        found,
        time=max(found.time, memory.time),
        importance=max(found.importance, memory.importance),
        updated=stamp,
    )


def new_row(user: str, memory_id: str, memory: NewMemory, stamp: datetime) -> Memory:
    """A new memory as it is stored: created and updated at `stamp`."""
    return Memory(
        id=memory_id,
        user=user,
        kind=memory.kind,
        text=memory.text,
        source=memory.source,
        source_id=memory.source_id,
        time=memory.time,
        place=memory.place,
        importance=memory.importance,
        created=stamp,
        updated=stamp,
        slot=memory.slot,
        context=memory.context,
    )


def edited(current: Memory, changes: MemoryChanges, stamp: datetime) -> Memory:
    """The owner's edit applied; a corrected fact keeps what it is about (its slot)
    unless its new text names another."""
    text = changes.text or current.text
    slot = current.slot
    if changes.text is not None and current.slot is not None:
        slot = fact_slot(text) or current.slot
    return dataclasses.replace(
        current,
        kind=changes.kind or current.kind,
        text=text,
        time=changes.time or current.time,
        place=None if changes.clear_place else (changes.place or current.place),
        importance=current.importance if changes.importance is None else changes.importance,
        updated=stamp,
        slot=slot,
    )


def reindex_edited(index: VectorIndex, key: int, memory: Memory, vector: FloatArray | None) -> None:
    """Keep the search matrix in step with an edited row (if the row is in it)."""
    if key in index:
        index.update(
            key,
            vector=vector,
            kind=KIND_CODE[memory.kind],
            time_s=memory.time.timestamp(),
            importance=memory.importance,
        )


def _fetched(rows: MemoryRows, keys: list[int]) -> Iterator[tuple[int, Memory]]:
    """The rows one at a time, nearest first: most checks stop at the first."""
    for key in keys:
        found = rows.fetch([key]).get(key)
        if found is not None:
            yield key, found
