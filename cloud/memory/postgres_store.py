"""Personal memory in PostgreSQL: the same `MemoryStore` as SQLite, for many workers and users.

One table holds every user's memories, keyed by user. Full text is a generated
`tsvector` column (the text weighted A, the place B, as FTS5's bm25 weighs them
1 and 0.5) with a GIN index; embeddings are `float4[]`. Ranking uses the same
fusion as SQLite (ranking.py) over the same two candidate lists, so both stores
answer alike: the nearest embeddings by exact cosine over the user's vectors,
and the best full-text matches.

The exact cosine runs here, in numpy, over a per-user matrix (`VectorIndex`)
fetched once in binary (`array_send`) and kept until the user's memories change.
Workers share the database, so the cache is checked against a per-user version
row (`memory_versions`) that every write bumps in its own transaction: a search
costs one small query to learn that its matrix is still current. A write takes
that row's lock first, so one user's writers are serialised across all workers,
and the dedupe and slot checks see every committed memory.

pgvector is not required: Debian 12 does not package it, and an exact scan of
one user's vectors (10k × 384) takes under a millisecond here. `pgvector`
tells whether the server offers the extension; the store does not use it.

Durability is PostgreSQL's (each write one transaction). `compact()` runs
VACUUM FULL on the table, which rewrites it without deleted rows; deleted text
may still sit in WAL segments and backups until those are recycled.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import numpy as np
import psycopg

from cloud.memory.embedder import Embedder
from cloud.memory.errors import InvalidMemoryError, MemoryNotFoundError, MemoryStoreError
from cloud.memory.hybrid_search import fused_hits, plan_search
from cloud.memory.memory_rows import MEMORY_COLUMNS, memory_from_row
from cloud.memory.postgres_pool import open_pool, shown_dsn
from cloud.memory.ranking import RankingWeights
from cloud.memory.records import (
    Memory,
    MemoryChanges,
    MemoryKind,
    NewMemory,
    RetentionPolicy,
    SearchHit,
    check_user,
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
from cloud.memory.sqlite_store import utc_now
from cloud.memory.vectors import (
    FloatArray,
    VectorIndex,
    embed_with_context,
)
from cloud.memory.words import STOPWORDS, words

_EMBED_BATCH = 256
# After a write of this many rows the planner's statistics are refreshed at once: until
# autovacuum gets to it, a plan made for a small table scans and ranks every row of a
# user's full-text matches (16 ms a search at 10k memories against 5.6 ms after ANALYZE).
_ANALYZE_AFTER_ROWS = 1000
_SCHEMA_LOCK = 0x636F6D70  # pg_advisory_xact_lock key: one worker creates the schema at a time
# ts_rank's weights for {D, C, B, A}: the text (A) counts 1, the place (B) 0.5, as bm25 in SQLite.
_TEXT_WEIGHTS = "{0, 0, 0.5, 1}"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS memory_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS memories (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        user_id TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('episodic', 'observation', 'fact', 'explicit')),
        text TEXT NOT NULL,
        source TEXT NOT NULL,
        source_id TEXT,
        time TIMESTAMPTZ NOT NULL,
        place TEXT,
        importance DOUBLE PRECISION NOT NULL CHECK (importance BETWEEN 0.0 AND 1.0),
        created TIMESTAMPTZ NOT NULL,
        updated TIMESTAMPTZ NOT NULL,
        embedding FLOAT4[] NOT NULL,
        slot TEXT,
        replaced_by TEXT,
        superseded_at TIMESTAMPTZ,
        context TEXT,
        tsv TSVECTOR GENERATED ALWAYS AS (
            setweight(to_tsvector('english'::regconfig, text), 'A')
            || setweight(to_tsvector('english'::regconfig, coalesce(place, '')), 'B')
        ) STORED
    )""",
    "CREATE INDEX IF NOT EXISTS memories_by_user_time ON memories (user_id, time DESC, seq DESC)",
    "CREATE INDEX IF NOT EXISTS memories_tsv ON memories USING GIN (tsv)",
    "CREATE INDEX IF NOT EXISTS memories_by_source ON memories (user_id, source_id)",
    "CREATE INDEX IF NOT EXISTS memories_by_slot ON memories (user_id, slot)"
    " WHERE slot IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS memory_versions ("
    " user_id TEXT PRIMARY KEY, version BIGINT NOT NULL)",
)
_COLUMNS = MEMORY_COLUMNS


def is_postgres_url(value: str) -> bool:
    """Whether a `--store` value names a PostgreSQL server (else it is a SQLite folder)."""
    return value.startswith(("postgresql://", "postgres://"))


def tsquery_text(text: str, max_terms: int = 16) -> str | None:
    """A `to_tsquery` expression matching any content word of `text`, or None.

    The same terms as SQLite's FTS5 query (words.fts_match_query). Each term is
    letters and digits only, so user text can never be read as tsquery syntax.
    """
    terms: list[str] = []
    for word in words(text):
        if word in STOPWORDS or word in terms:
            continue
        terms.append(word)
        if len(terms) == max_terms:
            break
    return " | ".join(terms) if terms else None


class PostgresMemoryStore:
    """The shared `MemoryStore`: every user's memories in one PostgreSQL database."""

    def __init__(
        self,
        dsn: str,
        embedder: Embedder,
        *,
        retention: RetentionPolicy | None = None,
        weights: RankingWeights | None = None,
        clock: Callable[[], datetime] = utc_now,
        pool_size: int = 4,
        connect_timeout_s: float = 10.0,
    ) -> None:
        """Connect (a pool of up to `pool_size` connections) and create the tables if absent."""
        self.dsn = dsn
        self.retention = retention or RetentionPolicy()
        self.weights = weights or RankingWeights()
        self._embedder = embedder
        self._embedder_id = f"{embedder.name}:{embedder.dimension}"
        self._clock = clock
        self._lock = threading.Lock()
        self._user_locks: dict[str, threading.RLock] = {}
        self._indexes: dict[str, tuple[int, VectorIndex]] = {}
        self._pool = open_pool(
            dsn,
            what="the memory store",
            name="companion-memory",
            schema=_SCHEMA,
            schema_lock=_SCHEMA_LOCK,
            pool_size=pool_size,
            connect_timeout_s=connect_timeout_s,
        )
        try:
            with self._pool.connection() as conn:
                row = conn.execute(
                    "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
                ).fetchone()
                self.pgvector = row is not None
        except psycopg.Error as exc:
            self._pool.close()
            raise self._read_error(exc) from exc
        self._adopt_embedder()

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._indexes.clear()
        self._pool.close()

    def __enter__(self) -> PostgresMemoryStore:
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
        """As SqliteMemoryStore.add_many: one transaction, near-duplicates refresh, slots replace."""
        check_new(user, memories)
        if not memories:
            return []
        vectors = self._embed_with_context([(memory.text, memory.context) for memory in memories])
        stamp = self._stamp()
        with self._writing(user) as (conn, index):
            rows = _Rows(self, conn, user, index, stamp)
            stored = store_memories(
                rows, memories, vectors, stamp=stamp, deduplicate=deduplicate,
                once_per_source=once_per_source,
            )  # fmt: skip
        if len(memories) >= _ANALYZE_AFTER_ROWS:
            self._analyze()
        return stored

    def import_memories(self, user: str, memories: Sequence[Memory]) -> int:
        """Copy memories as they are (ids, times, history) from another store; returns how many
        were new. Memories whose id is already here are left alone, so a copy can be rerun."""
        check_user(user)
        if any(memory.user != user for memory in memories):
            raise InvalidMemoryError(f"every imported memory must belong to {user!r}")
        added = 0
        for start in range(0, len(memories), _EMBED_BATCH):
            chunk = memories[start : start + _EMBED_BATCH]
            vectors = self._embed_with_context([(m.text, m.context) for m in chunk])
            with self._writing(user) as (conn, _):
                for memory, vector in zip(chunk, vectors, strict=True):
                    row = conn.execute(
                        f"INSERT INTO memories ({_COLUMNS}, embedding) VALUES"
                        " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                        " ON CONFLICT (id) DO NOTHING RETURNING seq",
                        (*_values(memory), vector.tolist()),
                    ).fetchone()
                    added += row is not None
            self._drop(user)  # imported rows go straight to the table: reload on next search
        if added >= _ANALYZE_AFTER_ROWS:
            self._analyze()
        return added

    def edit(self, user: str, memory_id: str, changes: MemoryChanges) -> Memory:
        check_user(user)
        context = self.get(user, memory_id).context
        vector = None
        if changes.text is not None:
            vector = self._embed_with_context([(changes.text, context)])[0]
        with self._writing(user) as (conn, index):
            seq, current = self._row(conn, user, memory_id)
            memory = edited(current, changes, self._stamp())
            conn.execute(
                "UPDATE memories SET text = %s, kind = %s, time = %s, place = %s, importance = %s,"
                " updated = %s, embedding = COALESCE(%s::float4[], embedding), slot = %s"
                " WHERE seq = %s",
                (
                    memory.text,
                    memory.kind.value,
                    memory.time,
                    memory.place,
                    memory.importance,
                    memory.updated,
                    None if vector is None else vector.tolist(),
                    memory.slot,
                    seq,
                ),
            )
            reindex_edited(index, seq, memory, vector)
            return memory

    def delete(self, user: str, memory_id: str) -> None:
        check_user(user)
        with self._writing(user) as (conn, index):
            seq, _ = self._row(conn, user, memory_id)
            conn.execute("DELETE FROM memories WHERE seq = %s", (seq,))
            if seq in index:
                index.remove(seq)

    def delete_all(self, user: str) -> int:
        check_user(user)
        with self._writing(user) as (conn, _):
            deleted = conn.execute("DELETE FROM memories WHERE user_id = %s", (user,)).rowcount
        self._drop(user)
        return deleted

    def enforce_retention(self, now: datetime) -> int:
        """Apply the retention policy to every user: too old by event time, or beyond the newest N."""
        now = to_utc(now, "now")
        policy = self.retention
        deleted = 0
        try:
            with self._pool.connection() as conn, conn.transaction():
                if policy.max_age is not None:
                    deleted += conn.execute(
                        "DELETE FROM memories WHERE time < %s", (now - policy.max_age,)
                    ).rowcount
                if policy.max_count is not None:
                    deleted += conn.execute(
                        "DELETE FROM memories WHERE seq IN (SELECT seq FROM (SELECT seq,"
                        " row_number() OVER (PARTITION BY user_id ORDER BY time DESC, seq DESC)"
                        " AS n FROM memories) AS ranked WHERE n > %s)",
                        (policy.max_count,),
                    ).rowcount
                if deleted:
                    conn.execute("UPDATE memory_versions SET version = version + 1")
        except psycopg.Error as exc:
            raise self._write_error(exc) from exc
        finally:
            with self._lock:
                self._indexes.clear()
        return deleted

    def compact(self) -> None:
        """VACUUM FULL: the table and its indexes are rewritten without deleted rows.

        It locks the table for its duration (every user), so run it when quiet.
        """
        try:
            with self._pool.connection() as conn:
                conn.execute("VACUUM (FULL, ANALYZE) memories")
        except psycopg.Error as exc:
            raise MemoryStoreError(
                f"could not compact the memory store at {shown_dsn(self.dsn)}: {exc}"
            ) from exc

    # -- reads -------------------------------------------------------------

    def get(self, user: str, memory_id: str) -> Memory:
        check_user(user)
        with self._reading() as conn:
            return self._row(conn, user, memory_id)[1]

    def count(self, user: str) -> int:
        check_user(user)
        with self._reading() as conn:
            row = conn.execute(
                "SELECT count(*) FROM memories WHERE user_id = %s", (user,)
            ).fetchone()
            return 0 if row is None else int(row[0])

    def list_memories(self, user: str, *, offset: int = 0, limit: int = 50) -> list[Memory]:
        check_user(user)
        if offset < 0 or not 0 < limit <= 1000:
            raise InvalidMemoryError(
                f"page with offset ≥ 0 and 1 ≤ limit ≤ 1000, got offset={offset} limit={limit}"
            )
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM memories WHERE user_id = %s"
                " ORDER BY time DESC, seq DESC LIMIT %s OFFSET %s",
                (user, limit, offset),
            ).fetchall()
        return [_memory(row) for row in rows]

    def export(self, user: str) -> list[Memory]:
        check_user(user)
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM memories WHERE user_id = %s ORDER BY time, seq", (user,)
            ).fetchall()
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
        """Hybrid retrieval as SqliteMemoryStore.search: nearest embeddings and full-text
        matches, fused (ranking.py); `since`/`until` keep it to event times in [since, until)."""
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
        with self._user_lock(user), self._reading() as conn:
            index = self._current_index(conn, user)
            matched = [
                key
                for key in self._text_matches(conn, user, query, plan.pool, since, until)
                if key in index
            ]
            return fused_hits(
                index,
                plan,
                matched,
                self.weights,
                lambda keys: self._memories_by_seq(conn, user, keys),
            )

    # -- internals: connections, versions and the per-user cache -------------

    def _stamp(self) -> datetime:
        """Now, at the microsecond precision both stores keep."""
        return to_utc(self._clock(), "clock")

    def _user_lock(self, user: str) -> threading.RLock:
        with self._lock:
            lock = self._user_locks.get(user)
            if lock is None:
                lock = self._user_locks[user] = threading.RLock()
            return lock

    def _drop(self, user: str) -> None:
        with self._lock:
            self._indexes.pop(user, None)

    @contextmanager
    def _reading(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise self._read_error(exc) from exc

    def _read_error(self, exc: psycopg.Error) -> MemoryStoreError:
        return MemoryStoreError(f"could not read the memory store at {shown_dsn(self.dsn)}: {exc}")

    @contextmanager
    def _writing(self, user: str) -> Iterator[tuple[psycopg.Connection[Any], VectorIndex]]:
        """One transaction holding the user's version row; yields the user's current matrix.

        Bumping the version first locks the row, so another worker's write to
        this user waits for our commit, and ours waits for theirs. The matrix
        is kept in step by the caller; it becomes the cache (at the new
        version) only once the transaction committed, and is dropped otherwise.
        """
        with self._user_lock(user):
            committed = False
            try:
                with self._pool.connection() as conn:
                    with conn.transaction():
                        row = conn.execute(
                            "INSERT INTO memory_versions (user_id, version) VALUES (%s, 1)"
                            " ON CONFLICT (user_id) DO UPDATE"
                            " SET version = memory_versions.version + 1 RETURNING version",
                            (user,),
                        ).fetchone()
                        assert row is not None
                        version = int(row[0])
                        with self._lock:
                            cached = self._indexes.pop(user, None)
                        if cached is not None and cached[0] == version - 1:
                            index = cached[1]
                        else:
                            index = self._load_index(conn, user)
                        yield conn, index
                    committed = True
            except psycopg.Error as exc:
                raise self._write_error(exc) from exc
            finally:
                if committed:
                    with self._lock:
                        self._indexes[user] = (version, index)

    def _analyze(self) -> None:
        """Refresh the planner's statistics of the memories table (after a bulk write)."""
        try:
            with self._pool.connection() as conn:
                conn.execute("ANALYZE memories")
        except psycopg.Error as exc:
            raise self._write_error(exc) from exc

    def _write_error(self, exc: psycopg.Error) -> MemoryStoreError:
        return MemoryStoreError(
            f"could not write to the memory store at {shown_dsn(self.dsn)}: {exc}; nothing was changed"
        )

    def _current_index(self, conn: psycopg.Connection[Any], user: str) -> VectorIndex:
        """The user's matrix, reloaded if any worker wrote to the user since it was cached."""
        row = conn.execute(
            "SELECT version FROM memory_versions WHERE user_id = %s", (user,)
        ).fetchone()
        version = 0 if row is None else int(row[0])
        with self._lock:
            cached = self._indexes.get(user)
        if cached is not None and cached[0] == version:
            return cached[1]
        index = self._load_index(conn, user)
        with self._lock:
            self._indexes[user] = (version, index)
        return index

    def _load_index(self, conn: psycopg.Connection[Any], user: str) -> VectorIndex:
        """The user's current memories' vectors, fetched in binary in one query.

        `array_send` gives each float4[] in PostgreSQL's binary array format: a
        20-byte header (dimensions, flags, element type, length, lower bound),
        then a 4-byte length and a big-endian float4 per element; the floats
        are every other 32-bit word after the header.
        """
        with conn.cursor(binary=True) as cursor:
            rows = cursor.execute(
                "SELECT seq, kind, extract(epoch FROM time)::float8, importance,"
                " array_send(embedding) FROM memories"
                " WHERE user_id = %s AND replaced_by IS NULL",
                (user,),
            ).fetchall()
        dimension = self._embedder.dimension
        words_per_row = 5 + 2 * dimension
        blob = b"".join(bytes(row[4]) for row in rows)
        if len(blob) != len(rows) * words_per_row * 4:
            raise MemoryStoreError(
                f"the embeddings of {user!r} at {shown_dsn(self.dsn)} are not all {dimension}-d; "
                "the store was written by another embedder: reopen it to re-embed"
            )
        vectors = (
            np.frombuffer(blob, dtype=">f4").reshape(len(rows), words_per_row)[:, 6::2]
            if rows
            else np.zeros((0, dimension), dtype=np.float32)
        )
        return VectorIndex.from_arrays(
            keys=np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)),
            vectors=np.ascontiguousarray(vectors, dtype=np.float32),
            kinds=np.fromiter(
                (KIND_CODE[MemoryKind(row[1])] for row in rows), dtype=np.int8, count=len(rows)
            ),
            times_s=np.fromiter((row[2] for row in rows), dtype=np.float64, count=len(rows)),
            importance=np.fromiter((row[3] for row in rows), dtype=np.float32, count=len(rows)),
        )

    # -- internals: queries --------------------------------------------------

    def _embed_with_context(self, items: Sequence[tuple[str, str | None]]) -> FloatArray:
        return embed_with_context(self._embedder, items)

    def _text_matches(
        self,
        conn: psycopg.Connection[Any],
        user: str,
        query: str,
        limit: int,
        since: datetime | None,
        until: datetime | None,
    ) -> list[int]:
        """Row ids of the user's best current full-text matches in the window, best first."""
        terms = tsquery_text(query)
        if terms is None:
            return []
        window = ""
        params: list[Any] = [terms, user]
        if since is not None:
            window += " AND time >= %s"
            params.append(since)
        if until is not None:
            window += " AND time < %s"
            params.append(until)
        # Never prepared: a generic plan cannot see how common the words are, and scans
        # and ranks every row where the index would find a handful (22 ms against 2 ms).
        rows = conn.execute(
            "SELECT seq FROM memories, to_tsquery('english', %s) AS q"
            " WHERE user_id = %s AND replaced_by IS NULL AND tsv @@ q" + window + ""
            f" ORDER BY ts_rank('{_TEXT_WEIGHTS}', tsv, q, 1) DESC, seq LIMIT %s",
            (*params, limit),
            prepare=False,
        ).fetchall()
        return [int(row[0]) for row in rows]

    def _memories_by_seq(
        self, conn: psycopg.Connection[Any], user: str, seqs: list[int]
    ) -> dict[int, Memory]:
        if not seqs:
            return {}
        rows = conn.execute(
            f"SELECT seq, {_COLUMNS} FROM memories WHERE seq = ANY(%s) AND user_id = %s",
            (seqs, user),
        ).fetchall()
        return {int(row[0]): _memory(row[1:]) for row in rows}

    def _row(self, conn: psycopg.Connection[Any], user: str, memory_id: str) -> tuple[int, Memory]:
        row = conn.execute(
            f"SELECT seq, {_COLUMNS} FROM memories WHERE id = %s AND user_id = %s",
            (memory_id, user),
        ).fetchone()
        if row is None:
            raise MemoryNotFoundError(
                f"no memory {memory_id!r} for user {user!r}; list the user's memories to find its id"
            )
        return int(row[0]), _memory(row[1:])

    def _insert(
        self,
        conn: psycopg.Connection[Any],
        user: str,
        memory: NewMemory,
        vector: FloatArray,
        stamp: datetime,
        index: VectorIndex,
    ) -> Memory:
        stored = new_row(user, uuid.uuid4().hex, memory, stamp)
        row = conn.execute(
            f"INSERT INTO memories ({_COLUMNS}, embedding) VALUES"
            " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING seq",
            (*_values(stored), vector.tolist()),
        ).fetchone()
        assert row is not None
        seq = int(row[0])
        index.add(seq, vector, KIND_CODE[memory.kind], memory.time.timestamp(), memory.importance)
        return stored

    def _adopt_embedder(self) -> None:
        """Record which embedder built the vectors; re-embed everything if it changed."""
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute("LOCK TABLE memory_meta IN EXCLUSIVE MODE")
                row = conn.execute(
                    "SELECT value FROM memory_meta WHERE key = 'embedder'"
                ).fetchone()
                if row is not None and row[0] == self._embedder_id:
                    return
                rows = conn.execute("SELECT seq, text, context FROM memories").fetchall()
                for start in range(0, len(rows), _EMBED_BATCH):
                    chunk = rows[start : start + _EMBED_BATCH]
                    vectors = self._embed_with_context(
                        [(str(text), context) for _, text, context in chunk]
                    )
                    with conn.cursor() as cursor:
                        cursor.executemany(
                            "UPDATE memories SET embedding = %s WHERE seq = %s",
                            [
                                (vector.tolist(), row[0])
                                for row, vector in zip(chunk, vectors, strict=True)
                            ],
                        )
                conn.execute(
                    "INSERT INTO memory_meta (key, value) VALUES ('embedder', %s)"
                    " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    (self._embedder_id,),
                )
                conn.execute("UPDATE memory_versions SET version = version + 1")
        except psycopg.Error as exc:
            raise self._write_error(exc) from exc
        with self._lock:
            self._indexes.clear()


class _Rows:
    """One user's rows inside an open write transaction, as revisions.py asks for them."""

    def __init__(
        self,
        store: PostgresMemoryStore,
        conn: psycopg.Connection[Any],
        user: str,
        index: VectorIndex,
        stamp: datetime,
    ) -> None:
        self.index = index
        self._store = store
        self._conn = conn
        self._user = user
        self._stamp = stamp

    def fetch(self, keys: list[int]) -> dict[int, Memory]:
        return self._store._memories_by_seq(self._conn, self._user, keys)

    def of_slot(self, slot: str, *, facts_only: bool) -> list[tuple[int, Memory]]:
        kinds = " AND kind IN ('fact', 'explicit')" if facts_only else ""
        rows = self._conn.execute(
            f"SELECT seq, {_COLUMNS} FROM memories WHERE user_id = %s AND slot = %s"
            " AND replaced_by IS NULL" + kinds + " ORDER BY seq",
            (self._user, slot),
        ).fetchall()
        return [(int(row[0]), _memory(row[1:])) for row in rows]

    def of_source(self, source_id: str) -> list[tuple[int, Memory]]:
        rows = self._conn.execute(
            f"SELECT seq, {_COLUMNS} FROM memories WHERE user_id = %s AND source_id = %s"
            " ORDER BY seq",
            (self._user, source_id),
        ).fetchall()
        return [(int(row[0]), _memory(row[1:])) for row in rows]

    def insert(self, memory: NewMemory, vector: FloatArray) -> Memory:
        return self._store._insert(self._conn, self._user, memory, vector, self._stamp, self.index)

    def mark_replaced(self, key: int, newest: Memory) -> None:
        self._conn.execute(
            "UPDATE memories SET replaced_by = %s, superseded_at = %s WHERE seq = %s",
            (newest.id, newest.time, key),
        )

    def refresh(self, key: int, memory: Memory) -> None:
        self._conn.execute(
            "UPDATE memories SET time = %s, importance = %s, updated = %s WHERE seq = %s",
            (memory.time, memory.importance, memory.updated, key),
        )


def _values(memory: Memory) -> tuple[Any, ...]:
    """A memory's columns in `_COLUMNS` order."""
    return (
        memory.id,
        memory.user,
        memory.kind.value,
        memory.text,
        memory.source,
        memory.source_id,
        memory.time,
        memory.place,
        memory.importance,
        memory.created,
        memory.updated,
        memory.slot,
        memory.replaced_by,
        memory.superseded_at,
        memory.context,
    )


def _memory(row: Sequence[Any]) -> Memory:
    return memory_from_row(row, _read_time)


def _read_time(value: datetime) -> datetime:
    return value.astimezone(UTC)
