"""The memory operations behind `companion memory …`: JSON lines in, JSON-ready dicts out.

Input files are validated completely before anything is written, and written
in one transaction, so a bad line leaves the store exactly as it was; every
error names the line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from cloud.memory.errors import InvalidMemoryError
from cloud.memory.multi_hop import search_with_hops
from cloud.memory.records import MemoryKind, NewMemory, check_user, iso_utc, parse_iso
from cloud.memory.store import MemoryStore

ADD_REQUIRED = ("text", "time", "source_id")
ADD_OPTIONAL = ("kind", "place", "importance", "context")
SEARCH_FIELDS = ("id", "query", "now")


def add_jsonl(
    store: MemoryStore,
    user: str,
    lines: Iterable[str],
    *,
    source: str = "cli",
    default_kind: MemoryKind = MemoryKind.EXPLICIT,
) -> int:
    """Store one memory per line; returns how many lines were stored.

    A line is `{"text", "time", "source_id"}` plus optional `kind`, `place`,
    `importance` and `context` (indexed with the text but not shown: for a
    conversation turn, the turn before it). Lines without a kind are `explicit`: the owner chose to add
    them. A line that repeats a stored memory refreshes it (see
    `MemoryStore.add`) and still counts. Blank lines are skipped.
    """
    check_user(user)
    try:
        memories = [
            parse_memory_line(line, number, source=source, default_kind=default_kind)
            for number, line in enumerate(lines, start=1)
            if line.strip()
        ]
    except InvalidMemoryError as exc:
        raise InvalidMemoryError(f"{exc}; nothing from the file was written") from None
    try:
        store.add_many(user, memories)
    except InvalidMemoryError as exc:
        raise InvalidMemoryError(f"{exc}; nothing from the file was written") from exc
    return len(memories)


def parse_memory_line(
    line: str, number: int, *, source: str = "cli", default_kind: MemoryKind = MemoryKind.EXPLICIT
) -> NewMemory:
    """One JSON line as a NewMemory, or InvalidMemoryError naming the line and the problem."""
    record = _json_object(line, number)
    unknown = sorted(set(record) - {*ADD_REQUIRED, *ADD_OPTIONAL})
    if unknown:
        raise _line_error(
            number,
            f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(ADD_REQUIRED + ADD_OPTIONAL)}",
        )
    missing = [name for name in ADD_REQUIRED if record.get(name) is None]
    if missing:
        raise _line_error(number, f"missing {', '.join(missing)}")
    try:
        for name in ("text", "source_id", "place", "kind", "context"):
            if record.get(name) is not None and not isinstance(record[name], str):
                raise InvalidMemoryError(f"{name} must be a string, got {record[name]!r}")
        kind_name = record.get("kind", default_kind.value)
        if kind_name not in {kind.value for kind in MemoryKind}:
            raise InvalidMemoryError(
                f"kind {kind_name!r} is not one of {', '.join(kind.value for kind in MemoryKind)}"
            )
        return NewMemory(
            text=record["text"],
            time=parse_iso(record["time"]),
            kind=MemoryKind(kind_name),
            source=source,
            source_id=record["source_id"],
            place=record.get("place"),
            importance=record.get("importance", 0.5),
            context=record.get("context"),
        )
    except InvalidMemoryError as exc:
        raise _line_error(number, str(exc)) from None


def search_jsonl(
    store: MemoryStore,
    user: str,
    k: int,
    lines: Iterable[str],
    *,
    now: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """For each line `{"id", "query"}`, `{"id", "results": [{"source_id", "score", "text"}, …]}`.

    Every line is validated before the first search runs. `now` (default: the
    current time, read once) is what recency is measured against.
    """
    check_user(user)
    if k <= 0:
        raise InvalidMemoryError(f"k must be at least 1, got {k}")
    queries: list[tuple[Any, str, datetime | None]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = _json_object(line, number)
        unknown = sorted(set(record) - set(SEARCH_FIELDS))
        if unknown:
            raise _line_error(
                number, f"unknown field(s) {', '.join(unknown)}; allowed: id, query, now"
            )
        query = record.get("query")
        if not isinstance(query, str) or not query.strip():
            raise _line_error(number, "query must be a non-empty string")
        if "id" not in record or not isinstance(record["id"], str | int):
            raise _line_error(number, "id must be a string or an integer")
        asked_at = None
        if record.get("now") is not None:
            try:
                asked_at = parse_iso(record["now"], "now")
            except InvalidMemoryError as exc:
                raise _line_error(number, str(exc)) from None
        queries.append((record["id"], query, asked_at))
    moment = now or datetime.now(UTC)
    return _search_all(store, user, k, queries, moment)


def _search_all(
    store: MemoryStore,
    user: str,
    k: int,
    queries: list[tuple[Any, str, datetime | None]],
    now: datetime,
) -> Iterator[dict[str, Any]]:
    for query_id, query, asked_at in queries:
        # "last Tuesday" is read against when the question was asked (`now` on the line).
        hits = search_with_hops(store, user, query, now=asked_at or now, k=k)
        yield {
            "id": query_id,
            "results": [
                {
                    "source_id": hit.memory.source_id,
                    "score": round(hit.score, 4),
                    "text": hit.memory.text,
                    "time": iso_utc(hit.memory.time),
                }
                for hit in hits
            ],
        }


def export(store: MemoryStore, user: str) -> list[dict[str, Any]]:
    """Every memory of the user with every field except the embedding, oldest first."""
    return [memory.to_json() for memory in store.export(user)]


def delete_user(store: MemoryStore, user: str) -> int:
    """Forget everything about the user; returns how many memories that was.

    Run `compact()` afterwards to remove the text from the disk as well.
    """
    return store.delete_all(user)


def _json_object(line: str, number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _line_error(number, f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise _line_error(number, f"expected a JSON object, got {type(record).__name__}")
    return record


def _line_error(number: int, problem: str) -> InvalidMemoryError:
    return InvalidMemoryError(f"line {number}: {problem}; fix the line and run it again")
