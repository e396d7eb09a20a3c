"""The memory's vocabulary: kinds, what a caller writes, what the store gives back.

Times are timezone-aware UTC `datetime`s in code and ISO 8601 with a `Z` on
disk and in exports, so stored values sort as text and mean one instant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from cloud.memory.errors import InvalidMemoryError

MAX_TEXT_CHARS = 4000
MAX_USER_CHARS = 200
MAX_FIELD_CHARS = 500


class MemoryKind(StrEnum):
    """Where a memory came from, which decides how it is deduplicated and shown."""

    EPISODIC = "episodic"  # a conversation turn
    OBSERVATION = "observation"  # something the glasses saw or heard
    FACT = "fact"  # extracted from what the wearer said ("I'm allergic to peanuts")
    EXPLICIT = "explicit"  # the wearer asked: "remember that …"


@dataclass(frozen=True)
class NewMemory:
    """What a caller asks the store to remember; `time` is when it happened, not now."""

    text: str
    time: datetime
    kind: MemoryKind = MemoryKind.EPISODIC
    source: str = "conversation"
    source_id: str | None = None
    place: str | None = None
    importance: float = 0.5
    # What a fact is about ("my shoe size"); a later fact with the same slot replaces it.
    slot: str | None = None
    # Indexed with the text but not part of it: the turn before a conversation turn, the
    # speaker and the session's date, so "yes, on Saturday" is found by what it answered.
    context: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", check_text(self.text))
        if self.context is not None:
            object.__setattr__(self, "context", check_text(self.context))
        if self.slot is not None:
            object.__setattr__(self, "slot", check_label(self.slot, "slot").lower())
        object.__setattr__(self, "time", to_utc(self.time, "time"))
        object.__setattr__(self, "kind", MemoryKind(self.kind))
        object.__setattr__(self, "source", check_label(self.source, "source"))
        if self.source_id is not None:
            object.__setattr__(self, "source_id", check_label(self.source_id, "source_id"))
        if self.place is not None:
            object.__setattr__(self, "place", check_label(self.place, "place"))
        object.__setattr__(self, "importance", check_importance(self.importance))


@dataclass(frozen=True)
class Memory:
    """One stored memory as its owner sees it (the embedding stays inside the store)."""

    id: str
    user: str
    kind: MemoryKind
    text: str
    source: str
    source_id: str | None
    time: datetime
    place: str | None
    importance: float
    created: datetime
    updated: datetime
    slot: str | None = None
    # A replaced fact stays as history: the id of the memory that replaced it, and when.
    replaced_by: str | None = None
    superseded_at: datetime | None = None
    context: str | None = None

    @property
    def replaced(self) -> bool:
        return self.replaced_by is not None

    def to_json(self) -> dict[str, Any]:
        """Every field, times as ISO 8601 UTC: what an export or the CLI prints."""
        return {
            "id": self.id,
            "user": self.user,
            "kind": self.kind.value,
            "text": self.text,
            "source": self.source,
            "source_id": self.source_id,
            "time": iso_utc(self.time),
            "place": self.place,
            "importance": self.importance,
            "created": iso_utc(self.created),
            "updated": iso_utc(self.updated),
            "slot": self.slot,
            "replaced_by": self.replaced_by,
            "superseded_at": None if self.superseded_at is None else iso_utc(self.superseded_at),
            "context": self.context,
        }


@dataclass(frozen=True)
class SearchHit:
    """A retrieved memory with the evidence behind its place in the ranking."""

    memory: Memory
    score: float
    cosine: float  # similarity of the query and memory embeddings
    vector_rank: int | None  # 1-based place among the nearest embeddings, if among them
    text_rank: int | None  # 1-based place in the full-text (bm25) results, if matched


@dataclass(frozen=True)
class RetentionPolicy:
    """How long and how many memories a user keeps; None means no limit.

    Age is measured from the memory's event time, so importing an old diary
    does not keep it past the limit.
    """

    max_age: timedelta | None = None
    max_count: int | None = None

    def __post_init__(self) -> None:
        if self.max_age is not None and self.max_age <= timedelta(0):
            raise InvalidMemoryError(f"retention max_age must be positive, got {self.max_age}")
        if self.max_count is not None and self.max_count < 0:
            raise InvalidMemoryError(f"retention max_count must be ≥ 0, got {self.max_count}")


@dataclass(frozen=True)
class MemoryChanges:
    """An owner's edit: fields left as None stay as they are; `clear_place` removes the place."""

    text: str | None = None
    time: datetime | None = None
    kind: MemoryKind | None = None
    place: str | None = None
    clear_place: bool = False
    importance: float | None = None

    def __post_init__(self) -> None:
        if self.text is not None:
            object.__setattr__(self, "text", check_text(self.text))
        if self.time is not None:
            object.__setattr__(self, "time", to_utc(self.time, "time"))
        if self.kind is not None:
            object.__setattr__(self, "kind", MemoryKind(self.kind))
        if self.place is not None:
            if self.clear_place:
                raise InvalidMemoryError("give either a new place or clear_place, not both")
            object.__setattr__(self, "place", check_label(self.place, "place"))
        if self.importance is not None:
            object.__setattr__(self, "importance", check_importance(self.importance))


def check_user(user: str) -> str:
    """Every store method names its user; an empty or odd one is a caller's bug."""
    if not isinstance(user, str) or not user.strip() or len(user) > MAX_USER_CHARS:
        raise InvalidMemoryError(
            f"user must be a non-empty string of at most {MAX_USER_CHARS} characters, got {user!r}"
        )
    return user


def check_text(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidMemoryError("a memory's text must be a non-empty string")
    text = text.strip()
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidMemoryError(
            f"a memory's text is {len(text)} characters; the limit is {MAX_TEXT_CHARS}"
        )
    return text


def check_label(value: str, name: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_FIELD_CHARS:
        raise InvalidMemoryError(
            f"{name} must be a non-empty string of at most {MAX_FIELD_CHARS} characters, got {value!r}"
        )
    return value.strip()


def check_importance(value: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0.0 <= value <= 1.0
    ):
        raise InvalidMemoryError(f"importance must be a number from 0 to 1, got {value!r}")
    return float(value)


def to_utc(moment: datetime, name: str) -> datetime:
    """A timezone-aware instant in UTC; a naive time is refused, since its zone is a guess."""
    if not isinstance(moment, datetime):
        raise InvalidMemoryError(f"{name} must be a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidMemoryError(
            f"{name} {moment.isoformat()} has no timezone; give it in UTC, e.g. 2025-03-01T09:30:00Z"
        )
    return moment.astimezone(UTC)


def iso_utc(moment: datetime) -> str:
    """Fixed-width ISO 8601 in UTC (microseconds, `Z`), so text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str, name: str = "time") -> datetime:
    """An ISO 8601 time with a zone (`Z` or an offset), as an aware UTC datetime."""
    if not isinstance(text, str):
        raise InvalidMemoryError(f"{name} must be an ISO 8601 string, got {text!r}")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidMemoryError(
            f"{name} {text!r} is not ISO 8601; write it like 2025-03-01T09:30:00Z"
        ) from None
    return to_utc(moment, name)
