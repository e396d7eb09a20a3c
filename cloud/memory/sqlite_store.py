"""Personal memory in one SQLite file: rows, an FTS5 index, and embeddings as blobs.

Durability comes from SQLite itself: WAL journaling with synchronous=FULL, and
every write in one `BEGIN IMMEDIATE` transaction, so a crash or a kill
mid-write leaves the store as it was before that write. `secure_delete` zeroes
deleted rows, and `compact()` merges the FTS index and VACUUMs so a deleted
memory's text is not left anywhere in the file.

Each user's embeddings are also kept in memory (`VectorIndex`), loaded on the
user's first search and updated by every write; if a write fails the user's
matrix is dropped and reloaded from disk, and a commit by another connection
(seen through `PRAGMA data_version`) drops them all, so the cache never
answers with something the file does not hold.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from cloud.memory.embedder import Embedder
from cloud.memory.errors import InvalidMemoryError, MemoryNotFoundError, MemoryStoreError
from cloud.memory.facts import fact_slot
from cloud.memory.hybrid_search import fused_hits, plan_search
from cloud.memory.memory_rows import MEMORY_COLUMNS, memory_from_row
from cloud.memory.ranking import (
    RankingWeights,
)
from cloud.memory.records import (
    Memory,
    MemoryChanges,
    MemoryKind,
    NewMemory,
    RetentionPolicy,
    SearchHit,
    check_user,
    iso_utc,
    parse_iso,
    to_utc,
)
from cloud.memory.revisions import (
    KIND_CODE,
    check_new,
    edited,
    new_row,
    reindex_edited,
    store_memories,
)
from cloud.memory.vectors import (
    FloatArray,
    VectorIndex,
    embed_with_context,
)
from cloud.memory.words import fts_match_query

_EMBED_BATCH = 256

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS memories (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('episodic', 'observation', 'fact', 'explicit')),
    text TEXT NOT NULL,
    source TEXT NOT NULL,
    source_id TEXT,
    time TEXT NOT NULL,
    place TEXT,
    importance REAL NOT NULL CHECK (importance BETWEEN 0.0 AND 1.0),
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    embedding BLOB NOT NULL,
    slot TEXT,
    replaced_by TEXT,
    superseded_at TEXT,
    context TEXT
);
CREATE INDEX IF NOT EXISTS memories_by_user_time ON memories (user_id, time DESC, seq DESC);
CREATE INDEX IF NOT EXISTS memories_by_source ON memories (user_id, source_id);
CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts USING fts5(
    text, place, content = 'memories', content_rowid = 'seq',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS memories_fts_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, text, place) VALUES (new.seq, new.text, new.place);
END;
CREATE TRIGGER IF NOT EXISTS memories_fts_delete AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, text, place)
    VALUES ('delete', old.seq, old.text, old.place);
END;
CREATE TRIGGER IF NOT EXISTS memories_fts_update AFTER UPDATE OF text, place ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, text, place)
    VALUES ('delete', old.seq, old.text, old.place);
    INSERT INTO memories_fts (rowid, text, place) VALUES (new.seq, new.text, new.place);
END;
"""
_COLUMNS = MEMORY_COLUMNS
_INSERT_COLUMNS = (
    "id, user_id, kind, text, source, source_id, time, place, importance, created, updated,"
    " slot, context, embedding"
)
# Columns added after the first release: a store written before them gains them on open.
_ADDED_COLUMNS = (
    ("slot", "TEXT"),
    ("replaced_by", "TEXT"),
    ("superseded_at", "TEXT"),
    ("context", "TEXT"),
)


def utc_now() -> datetime:
    return datetime.now(UTC)


class SqliteMemoryStore:
    """The embedded `MemoryStore`: one file for every user of one machine."""

    def __init__(
        self,
        path: str | Path,
        embedder: Embedder,
        *,
        retention: RetentionPolicy | None = None,
        weights: RankingWeights | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """Open or create the store; `clock` stamps created/updated and nothing else."""
        self.path = Path(path)
        self.retention = retention or RetentionPolicy()
        self.weights = weights or RankingWeights()
        self._embedder = embedder
        self._embedder_id = f"{embedder.name}:{embedder.dimension}"
        self._clock = clock
        self._lock = threading.RLock()
        self._indexes: dict[str, VectorIndex] = {}
        try:
            self._conn = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=10.0
            )
        except sqlite3.Error as exc:
            raise MemoryStoreError(
                f"cannot open the memory store {self.path}: {exc}; "
                "check that its folder exists and is writable"
            ) from exc
        try:
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA secure_delete = ON")
            self._conn.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")
            self._migrate()
        except sqlite3.Error as exc:
            self._conn.close()
            raise MemoryStoreError(
                f"cannot open the memory store {self.path}: {exc}; it may not be a memory "
                "store, or the disk may be full or read-only"
            ) from exc
        self._data_version = self._read_data_version()
        self._adopt_embedder()

    def _migrate(self) -> None:
        """Bring a store written by an older release up to this schema, in one transaction.

        Facts stored before slots existed get theirs from their text, so a new
        "my shoe size is now 44" replaces an old "My shoe size is 43.".
        """
        present = {row[1] for row in self._conn.execute("PRAGMA table_info(memories)")}
        missing = [(name, kind) for name, kind in _ADDED_COLUMNS if name not in present]
        with self._transaction():
            for name, kind in missing:
                self._conn.execute(f"ALTER TABLE memories ADD COLUMN {name} {kind}")
            if "slot" in {name for name, _ in missing}:
                rows = self._conn.execute(
                    "SELECT seq, text FROM memories WHERE kind IN ('fact', 'explicit')"
                ).fetchall()
                self._conn.executemany(
                    "UPDATE memories SET slot = ? WHERE seq = ?",
                    [(slot, seq) for seq, text in rows if (slot := fact_slot(text)) is not None],
                )
            self._conn.execute(
                "CREATE INDEX IF NOT EXISTS memories_by_slot ON memories (user_id, slot)"
                " WHERE slot IS NOT NULL"
            )

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._indexes.clear()
            self._conn.close()

    def __enter__(self) -> SqliteMemoryStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- writes ------------------------------------------------------------

    def add(self, user: str, memory: NewMemory) -> Memory:
        return self.add_many(user, [memory])[0]

    def add_many(
        self,
        user: str,
        memories: Sequence[NewMemory],
        *,
        deduplicate: bool = True,
        once_per_source: bool = False,
    ) -> list[Memory]:
        """Store memories in one transaction; a near-duplicate refreshes what is there and
        a fact with a slot replaces the older ones of its slot (revisions.py). Bulk imports
        of data known to be distinct may pass `deduplicate=False`, which skips both."""
        check_new(user, memories)
        if not memories:
            return []
        vectors = self._embed_with_context([(memory.text, memory.context) for memory in memories])
        stamp = self._stamp()
        with self._lock, self._writing(user):
            rows = _Rows(self, user, self._index(user), stamp)
            return store_memories(
                rows, memories, vectors, stamp=stamp, deduplicate=deduplicate,
                once_per_source=once_per_source,
            )  # fmt: skip

    def edit(self, user: str, memory_id: str, changes: MemoryChanges) -> Memory:
        check_user(user)
        with self._lock:
            context = self._row(user, memory_id)[1].context
        vector = None
        if changes.text is not None:
            vector = self._embed_with_context([(changes.text, context)])[0]
        with self._lock, self._writing(user):
            seq, current = self._row(user, memory_id)
            memory = edited(current, changes, self._stamp())
            self._conn.execute(
                "UPDATE memories SET text = ?, kind = ?, time = ?, place = ?, importance = ?,"
                " updated = ?, embedding = COALESCE(?, embedding), slot = ? WHERE seq = ?",
                (
                    memory.text,
                    memory.kind.value,
                    iso_utc(memory.time),
                    memory.place,
                    memory.importance,
                    iso_utc(memory.updated),
                    None if vector is None else vector.tobytes(),
                    memory.slot,
                    seq,
                ),
            )
            index = self._indexes.get(user)
            if index is not None:
                reindex_edited(index, seq, memory, vector)
            return memory

    def delete(self, user: str, memory_id: str) -> None:
        check_user(user)
        with self._lock, self._writing(user):
            seq, _ = self._row(user, memory_id)
            self._conn.execute("DELETE FROM memories WHERE seq = ?", (seq,))
            index = self._indexes.get(user)
            if index is not None and seq in index:
                index.remove(seq)

    def delete_all(self, user: str) -> int:
        check_user(user)
        with self._lock, self._writing(user):
            deleted = self._conn.execute("DELETE FROM memories WHERE user_id = ?", (user,))
            self._indexes.pop(user, None)
            return deleted.rowcount

    def enforce_retention(self, now: datetime) -> int:
        """Apply the retention policy to every user: too old by event time, or beyond the newest N."""
        now = to_utc(now, "now")
        policy = self.retention
        deleted = 0
        with self._lock, self._writing(None):
            if policy.max_age is not None:
                cutoff = iso_utc(now - policy.max_age)
                deleted += self._conn.execute(
                    "DELETE FROM memories WHERE time < ?", (cutoff,)
                ).rowcount
            if policy.max_count is not None:
                deleted += self._conn.execute(
                    "DELETE FROM memories WHERE seq IN (SELECT seq FROM (SELECT seq,"
                    " ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY time DESC, seq DESC) AS n"
                    " FROM memories) WHERE n > ?)",
                    (policy.max_count,),
                ).rowcount
            if deleted:
                self._indexes.clear()
        return deleted

    def compact(self) -> None:
        """Merge the FTS index, VACUUM and truncate the WAL: deleted text leaves the disk."""
        with self._lock:
            try:
                with self._transaction():
                    self._conn.execute(
                        "INSERT INTO memories_fts (memories_fts) VALUES ('optimize')"
                    )
                self._conn.execute("VACUUM")
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                raise MemoryStoreError(
                    f"could not compact {self.path}: {exc}; it needs free disk space about "
                    "the size of the store, and no other process reading it"
                ) from exc
            self._data_version = self._read_data_version()

    def check_integrity(self) -> None:
        """Raise MemoryStoreError unless the tables and the FTS index are consistent."""
        with self._lock:
            problems = [row[0] for row in self._conn.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise MemoryStoreError(f"{self.path} is damaged: {'; '.join(problems)}")
            try:
                self._conn.execute(
                    "INSERT INTO memories_fts (memories_fts, rank) VALUES ('integrity-check', 1)"
                )
            except sqlite3.DatabaseError as exc:
                raise MemoryStoreError(
                    f"the full-text index of {self.path} is out of step: {exc}; "
                    "rebuild it with INSERT INTO memories_fts(memories_fts) VALUES('rebuild')"
                ) from exc

    # -- reads -------------------------------------------------------------

    def get(self, user: str, memory_id: str) -> Memory:
        check_user(user)
        with self._lock:
            return self._row(user, memory_id)[1]

    def count(self, user: str) -> int:
        check_user(user)
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*) FROM memories WHERE user_id = ?", (user,)
            ).fetchone()
            return int(row[0])

    def list_memories(self, user: str, *, offset: int = 0, limit: int = 50) -> list[Memory]:
        check_user(user)
        if offset < 0 or not 0 < limit <= 1000:
            raise InvalidMemoryError(
                f"page with offset ≥ 0 and 1 ≤ limit ≤ 1000, got offset={offset} limit={limit}"
            )
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM memories WHERE user_id = ?"
                " ORDER BY time DESC, seq DESC LIMIT ? OFFSET ?",
                (user, limit, offset),
            )
            return [_memory(row) for row in rows]

    def export(self, user: str) -> list[Memory]:
        check_user(user)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM memories WHERE user_id = ? ORDER BY time, seq", (user,)
            )
            return [_memory(row) for row in rows]

    def search(
        self,
        user: str,
        query: str,
        *,
        now: datetime,
        k: int = 10,
        query_vector: FloatArray | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[SearchHit]:
        """Hybrid retrieval: nearest embeddings and bm25 matches, fused (see ranking.py).

        `query_vector` lets a caller that already embedded the query skip that
        step. `since` (inclusive) and `until` (exclusive) keep the search to
        memories whose event time lies between them ("what did I do last
        Tuesday?", see time_query.py).
        """
        plan = plan_search(
            self._embedder,
            user,
            query,
            now=now,
            k=k,
            query_vector=query_vector,
            since=since,
            until=until,
        )
        if plan is None:
            return []
        with self._lock:
            self._follow_other_writers()
            index = self._index(user)
            if plan.window is None:
                matched = self._text_matches(user, query, plan.pool, index)
            else:  # more full-text matches, since those outside the window are dropped
                start, end = plan.window
                matched = [
                    key
                    for key in self._text_matches(user, query, plan.pool * 4, index)
                    if start <= index.meta(key)[0] < end
                ][: plan.pool]
            return fused_hits(
                index, plan, matched, self.weights, lambda keys: self._memories_by_seq(user, keys)
            )

    # -- internals ---------------------------------------------------------

    def _embed_with_context(self, items: Sequence[tuple[str, str | None]]) -> FloatArray:
        return embed_with_context(self._embedder, items)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    @contextmanager
    def _writing(self, user: str | None) -> Iterator[None]:
        """A write transaction; on failure the affected in-memory matrices are dropped."""
        self._follow_other_writers()
        try:
            with self._transaction():
                yield
        except BaseException as exc:
            if user is None:
                self._indexes.clear()
            else:
                self._indexes.pop(user, None)
            if isinstance(exc, sqlite3.Error):
                raise MemoryStoreError(
                    f"could not write to the memory store {self.path}: {exc}; nothing was changed"
                ) from exc
            raise

    def _read_data_version(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def _follow_other_writers(self) -> None:
        """Drop cached matrices if another connection committed since we last looked."""
        version = self._read_data_version()
        if version != self._data_version:
            self._indexes.clear()
            self._data_version = version

    def _index(self, user: str) -> VectorIndex:
        index = self._indexes.get(user)
        if index is not None:
            return index
        rows = self._conn.execute(
            "SELECT seq, kind, (julianday(time) - 2440587.5) * 86400.0, importance, embedding"
            " FROM memories WHERE user_id = ? AND replaced_by IS NULL",
            (user,),
        ).fetchall()
        dimension = self._embedder.dimension
        blob = b"".join(row[4] for row in rows)
        if len(blob) != len(rows) * dimension * 4:
            raise MemoryStoreError(
                f"the embeddings of {user!r} in {self.path} are not all {dimension}-d; "
                "the store was written by another embedder: reopen it to re-embed"
            )
        index = VectorIndex.from_arrays(
            keys=np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)),
            vectors=np.frombuffer(blob, dtype=np.float32).reshape(len(rows), dimension),
            kinds=np.fromiter(
                (KIND_CODE[MemoryKind(row[1])] for row in rows), dtype=np.int8, count=len(rows)
            ),
            times_s=np.fromiter((row[2] for row in rows), dtype=np.float64, count=len(rows)),
            importance=np.fromiter((row[3] for row in rows), dtype=np.float32, count=len(rows)),
        )
        self._indexes[user] = index
        return index

    def _text_matches(self, user: str, query: str, limit: int, index: VectorIndex) -> list[int]:
        """Row ids of the user's best bm25 matches, best first.

        Most stores hold one user, so the top matches of the whole index are
        fetched first and filtered with the user's in-memory ids: three times
        faster than joining every match with its row. Only when that page was
        full and not all the user's does the exact per-user join run.
        """
        match = fts_match_query(query)
        if match is None:
            return []
        rows = [
            int(row[0])
            for row in self._conn.execute(
                "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ?"
                " ORDER BY bm25(memories_fts, 1.0, 0.5) LIMIT ?",
                (match, limit),
            )
        ]
        mine = [seq for seq in rows if seq in index]
        if len(rows) < limit or len(mine) == len(rows):
            return mine
        exact = self._conn.execute(
            "SELECT m.seq FROM memories_fts JOIN memories AS m ON m.seq = memories_fts.rowid"
            " WHERE memories_fts MATCH ? AND m.user_id = ?"
            " ORDER BY bm25(memories_fts, 1.0, 0.5) LIMIT ?",
            (match, user, limit),
        )
        return [int(row[0]) for row in exact if int(row[0]) in index]

    def _memories_by_seq(self, user: str, seqs: list[int]) -> dict[int, Memory]:
        if not seqs:
            return {}
        marks = ",".join("?" * len(seqs))
        rows = self._conn.execute(
            # `+user_id` keeps the planner on the primary key: the per-user index
            # would scan every memory of the user to find a handful.
            f"SELECT seq, {_COLUMNS} FROM memories WHERE seq IN ({marks}) AND +user_id = ?",
            (*seqs, user),
        )
        return {int(row[0]): _memory(row[1:]) for row in rows}

    def _row(self, user: str, memory_id: str) -> tuple[int, Memory]:
        row = self._conn.execute(
            f"SELECT seq, {_COLUMNS} FROM memories WHERE id = ? AND user_id = ?",
            (memory_id, user),
        ).fetchone()
        if row is None:
            raise MemoryNotFoundError(
                f"no memory {memory_id!r} for user {user!r}; list the user's memories to find its id"
            )
        return int(row[0]), _memory(row[1:])

    def _insert(
        self, user: str, memory: NewMemory, vector: FloatArray, stamp: datetime, index: VectorIndex
    ) -> Memory:
        stored = new_row(user, uuid.uuid4().hex, memory, stamp)
        cursor = self._conn.execute(
            f"INSERT INTO memories ({_INSERT_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                stored.id,
                user,
                memory.kind.value,
                memory.text,
                memory.source,
                memory.source_id,
                iso_utc(memory.time),
                memory.place,
                memory.importance,
                iso_utc(stamp),
                iso_utc(stamp),
                memory.slot,
                memory.context,
                vector.tobytes(),
            ),
        )
        seq = cursor.lastrowid
        assert seq is not None
        index.add(seq, vector, KIND_CODE[memory.kind], memory.time.timestamp(), memory.importance)
        return stored

    def _stamp(self) -> datetime:
        """Now, as created/updated record it."""
        return to_utc(self._clock(), "clock")

    def _adopt_embedder(self) -> None:
        """Record which embedder built the vectors; re-embed everything if it changed.

        Vectors from two models are not comparable, so a store opened with a new
        embedder recomputes every embedding once, in one transaction.
        """
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'embedder'").fetchone()
            if row is not None and row[0] == self._embedder_id:
                return
            with self._writing(None):
                rows = self._conn.execute("SELECT seq, text, context FROM memories").fetchall()
                for start in range(0, len(rows), _EMBED_BATCH):
                    chunk = rows[start : start + _EMBED_BATCH]
                    vectors = self._embed_with_context(
                        [(text, context) for _, text, context in chunk]
                    )
                    self._conn.executemany(
                        "UPDATE memories SET embedding = ? WHERE seq = ?",
                        [(v.tobytes(), row[0]) for row, v in zip(chunk, vectors, strict=True)],
                    )
                self._conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('embedder', ?)",
                    (self._embedder_id,),
                )


class _Rows:
    """One user's rows inside an open write transaction, as revisions.py asks for them."""

    def __init__(
        self, store: SqliteMemoryStore, user: str, index: VectorIndex, stamp: datetime
    ) -> None:
        self.index = index
        self._store = store
        self._conn = store._conn
        self._user = user
        self._stamp = stamp

    def fetch(self, keys: list[int]) -> dict[int, Memory]:
        return self._store._memories_by_seq(self._user, keys)

    def of_slot(self, slot: str, *, facts_only: bool) -> list[tuple[int, Memory]]:
        kinds = " AND kind IN ('fact', 'explicit')" if facts_only else ""
        rows = self._conn.execute(
            f"SELECT seq, {_COLUMNS} FROM memories WHERE user_id = ? AND slot = ?"
            " AND replaced_by IS NULL" + kinds + " ORDER BY seq",
            (self._user, slot),
        )
        return [(int(row[0]), _memory(row[1:])) for row in rows]

    def of_source(self, source_id: str) -> list[tuple[int, Memory]]:
        rows = self._conn.execute(
            f"SELECT seq, {_COLUMNS} FROM memories WHERE user_id = ? AND source_id = ?"
            " ORDER BY seq",
            (self._user, source_id),
        )
        return [(int(row[0]), _memory(row[1:])) for row in rows]

    def insert(self, memory: NewMemory, vector: FloatArray) -> Memory:
        return self._store._insert(self._user, memory, vector, self._stamp, self.index)

    def mark_replaced(self, key: int, newest: Memory) -> None:
        self._conn.execute(
            "UPDATE memories SET replaced_by = ?, superseded_at = ? WHERE seq = ?",
            (newest.id, iso_utc(newest.time), key),
        )

    def refresh(self, key: int, memory: Memory) -> None:
        self._conn.execute(
            "UPDATE memories SET time = ?, importance = ?, updated = ? WHERE seq = ?",
            (iso_utc(memory.time), memory.importance, iso_utc(memory.updated), key),
        )


def _memory(row: Sequence[Any]) -> Memory:
    return memory_from_row(row, _read_time)


def _read_time(value: Any) -> datetime:
    return parse_iso(str(value))
