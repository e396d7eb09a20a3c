"""A memory as a row of either store: its columns, in one order, and back to a `Memory`.

SQLite keeps times as fixed-width ISO text and PostgreSQL as `timestamptz`;
the store passes how it reads one, and everything else about a row is the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from cloud.memory.records import Memory, MemoryKind

# Every column a Memory is read from, in `memory_from_row`'s order.
MEMORY_COLUMNS = (
    "id, user_id, kind, text, source, source_id, time, place, importance, created, updated,"
    " slot, replaced_by, superseded_at, context"
)


def memory_from_row(row: Sequence[Any], read_time: Callable[[Any], datetime]) -> Memory:
    """The Memory a row of MEMORY_COLUMNS holds; `read_time` turns a stored time into an
    aware UTC datetime."""
    (
        memory_id,
        user,
        kind,
        text,
        source,
        source_id,
        time,
        place,
        importance,
        created,
        updated,
        slot,
        replaced_by,
        superseded_at,
        context,
    ) = row
    return Memory(
        id=str(memory_id),
        user=str(user),
        kind=MemoryKind(str(kind)),
        text=str(text),
        source=str(source),
        source_id=_text(source_id),
        time=read_time(time),
        place=_text(place),
        importance=float(importance),
        created=read_time(created),
        updated=read_time(updated),
        slot=_text(slot),
        replaced_by=_text(replaced_by),
        superseded_at=None if superseded_at is None else read_time(superseded_at),
        context=_text(context),
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
