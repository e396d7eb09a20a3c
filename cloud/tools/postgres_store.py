"""The tools' data (reminders, notes, lists, prices, trips) in PostgreSQL, for many workers.

Every user's rows sit in one set of tables keyed by user, beside the memories
in the same database; `PostgresTools` owns the connection pool and the schema,
and hands each user a `PostgresToolStore` over it. The queries are ToolStore's
own (tools/store.py): this module supplies connections, transactions and
`timestamptz` times. Each write is one transaction, so a worker killed
mid-write leaves nothing half done, and `claim_due_reminders` is one UPDATE …
RETURNING, so a reminder is claimed by exactly one of the workers polling it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg

from cloud.memory.errors import MemoryStoreError
from cloud.memory.postgres_pool import open_pool, shown_dsn
from cloud.tools.store import ToolStore, Writer

_SCHEMA_LOCK = 0x746F6F6C  # pg_advisory_xact_lock key: one worker creates the tables at a time
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS reminders (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        text TEXT NOT NULL,
        category TEXT NOT NULL CHECK (category IN ('reminder', 'timer')),
        due TIMESTAMPTZ NOT NULL,
        created TIMESTAMPTZ NOT NULL,
        delivered TIMESTAMPTZ
    )""",
    "CREATE INDEX IF NOT EXISTS reminders_due ON reminders (user_id, due) WHERE delivered IS NULL",
    """CREATE TABLE IF NOT EXISTS notes (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id TEXT NOT NULL,
        text TEXT NOT NULL,
        created TIMESTAMPTZ NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS notes_by_user ON notes (user_id, seq)",
    """CREATE TABLE IF NOT EXISTS shopping (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id TEXT NOT NULL,
        item TEXT NOT NULL,
        created TIMESTAMPTZ NOT NULL,
        UNIQUE (user_id, item)
    )""",
    """CREATE TABLE IF NOT EXISTS prices (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id TEXT NOT NULL,
        product TEXT NOT NULL,
        barcode TEXT NOT NULL DEFAULT '',
        price DOUBLE PRECISION NOT NULL,
        shown TEXT NOT NULL,
        shop TEXT NOT NULL DEFAULT '',
        seen TIMESTAMPTZ NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS prices_seen ON prices (user_id, seen)",
    """CREATE TABLE IF NOT EXISTS trips (
        user_id TEXT PRIMARY KEY,
        started TIMESTAMPTZ NOT NULL,
        shop TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE IF NOT EXISTS basket (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id TEXT NOT NULL,
        product TEXT NOT NULL,
        price DOUBLE PRECISION,
        taken TIMESTAMPTZ NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS basket_by_user ON basket (user_id, taken)",
)


def postgres_sql(sql: str) -> str:
    """ToolStore's `?` placeholders as psycopg's `%s` (the queries hold no other `?` or `%`)."""
    return sql.replace("?", "%s")


class PostgresTools:
    """The process's connection pool to the tools' tables; `store(user)` is one user's view."""

    def __init__(self, dsn: str, *, pool_size: int = 4, connect_timeout_s: float = 10.0) -> None:
        self.dsn = dsn
        self.pool = open_pool(
            dsn,
            what="the tools' store",
            name="companion-tools",
            schema=_SCHEMA,
            schema_lock=_SCHEMA_LOCK,
            pool_size=pool_size,
            connect_timeout_s=connect_timeout_s,
        )

    def store(self, user: str) -> PostgresToolStore:
        return PostgresToolStore(self, user)

    def close(self) -> None:
        self.pool.close()


class PostgresToolStore(ToolStore):
    """One user's tools' data over `PostgresTools`' pool; closing it leaves the pool open."""

    def __init__(self, tools: PostgresTools, user: str) -> None:  # no SQLite file: no super()
        self.user = user
        self._tools = tools
        self._lock = threading.Lock()

    def close(self) -> None:
        """Nothing to close: the pool belongs to `PostgresTools`."""

    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            with self._tools.pool.connection() as conn:
                return conn.execute(postgres_sql(sql), params).fetchall()
        except psycopg.Error as exc:
            raise MemoryStoreError(
                f"could not read the tools' store at {shown_dsn(self._tools.dsn)}: {exc}"
            ) from exc

    @contextmanager
    def _writing(self) -> Iterator[Writer]:
        try:
            with self._tools.pool.connection() as conn, conn.transaction():
                yield _PostgresWriter(conn)
        except psycopg.Error as exc:
            raise MemoryStoreError(
                f"could not write to the tools' store at {shown_dsn(self._tools.dsn)}: {exc};"
                " nothing was changed"
            ) from exc

    def _stored_time(self, moment: datetime) -> Any:
        return moment.astimezone(UTC)

    def _read_time(self, value: Any, name: str) -> datetime:
        if not isinstance(value, datetime):
            raise MemoryStoreError(f"{name} in the tools' store is not a timestamp: {value!r}")
        return value.astimezone(UTC)


class _PostgresWriter:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any]) -> int:
        return self._conn.execute(postgres_sql(sql), params).rowcount

    def returning(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self._conn.execute(postgres_sql(sql), params).fetchall()
