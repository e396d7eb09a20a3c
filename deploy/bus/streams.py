"""The few Redis Stream calls the bus makes, typed (redis-py's own types are loose)."""

from __future__ import annotations

from typing import Any, cast

from redis.asyncio import Redis

Entry = tuple[bytes, dict[bytes, bytes]]


async def add(redis: Redis, stream: str, fields: dict[bytes, bytes], *, maxlen: int) -> bytes:
    """Append an entry, trimming the stream to about `maxlen` entries (MAXLEN ~)."""
    entry_id = await redis.xadd(stream, cast(Any, fields), maxlen=maxlen, approximate=True)
    return entry_id if isinstance(entry_id, bytes) else str(entry_id).encode()


async def read(
    redis: Redis, stream: str, after: bytes, *, count: int, block_ms: int
) -> list[Entry]:
    """Entries after `after`, waiting up to `block_ms` for the first."""
    batches = await redis.xread({stream: after}, count=count, block=block_ms)
    return _entries(batches)


async def read_group(
    redis: Redis, stream: str, group: str, consumer: str, *, count: int, block_ms: int
) -> list[Entry]:
    """New entries for `consumer` of `group` (each stays pending until acknowledged)."""
    batches = await redis.xreadgroup(group, consumer, {stream: ">"}, count=count, block=block_ms)
    return _entries(batches)


async def autoclaim(
    redis: Redis, stream: str, group: str, consumer: str, *, min_idle_ms: int, count: int
) -> list[Entry]:
    """Pending entries idle for `min_idle_ms` (their consumer died), now `consumer`'s."""
    result = await redis.xautoclaim(stream, group, consumer, min_idle_ms, "0-0", count=count)
    claimed = result[1] if isinstance(result, list | tuple) and len(result) > 1 else []
    return [(bytes(i), dict(f)) for i, f in claimed if f is not None]


async def touch(redis: Redis, stream: str, group: str, consumer: str, entry_id: bytes) -> None:
    """Reset the entry's idle time: its consumer is alive and still answering it."""
    await redis.xclaim(stream, group, consumer, 0, [entry_id], justid=True)


async def deliveries(redis: Redis, stream: str, group: str, entry_id: bytes) -> int:
    """How many times the pending entry was handed to a consumer (0: not pending)."""
    rows = await redis.xpending_range(stream, group, min=entry_id, max=entry_id, count=1)
    return int(rows[0]["times_delivered"]) if rows else 0


def _entries(batches: Any) -> list[Entry]:
    found: list[Entry] = []
    for _, entries in batches or []:
        found.extend((bytes(i), dict(f)) for i, f in entries)
    return found
