"""The app's History in PostgreSQL, so every gateway of a deployment shows one History.

The queries are History's own (gateway/history.py); this supplies a pool of
autocommit connections, the table, and psycopg's `%s` for SQLite's `?`. Every
write (a turn's row and its column, or a whole import) is one transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from gateway.errors import GatewayError
from gateway.history import History, Statement

_SCHEMA_LOCK = 0x68697374  # pg_advisory_xact_lock key: one gateway creates the table at a time
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS turns (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        turn_id BIGINT NOT NULL,
        time DOUBLE PRECISION NOT NULL,
        question TEXT NOT NULL DEFAULT '',
        answer TEXT NOT NULL DEFAULT '',
        mode TEXT NOT NULL DEFAULT '',
        latency_ms DOUBLE PRECISION,
        keyframe BYTEA,
        UNIQUE (user_id, session_id, turn_id)
    )""",
    "CREATE INDEX IF NOT EXISTS turns_by_user ON turns (user_id, time DESC)",
)


class HistoryStoreError(GatewayError):
    """The History database cannot be reached or written; the message says what to check."""


class PostgresHistory(History):
    def __init__(
        self,
        dsn: str,
        *,
        clock: Callable[[], float] = time.time,
        pool_size: int = 2,
        connect_timeout_s: float = 10.0,
    ) -> None:  # no SQLite file: no super()
        self._clock = clock
        self._pool = ConnectionPool(
            dsn, min_size=1, max_size=pool_size, kwargs={"autocommit": True}, open=False
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout_s)
            with self._pool.connection() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                for statement in _SCHEMA:
                    conn.execute(statement)
        except (PoolTimeout, psycopg.Error) as exc:
            self._pool.close()
            raise HistoryStoreError(
                f"cannot open History in PostgreSQL: {exc}; check that the server runs, "
                "the user may log in and may CREATE in the database's schema"
            ) from exc

    def close(self) -> None:
        self._pool.close()

    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._pool.connection() as conn:
            return conn.execute(sql.replace("?", "%s"), params).fetchall()

    def _run(self, *statements: Statement) -> int:
        with self._pool.connection() as conn, conn.transaction():
            return sum(
                conn.execute(sql.replace("?", "%s"), params).rowcount for sql, params in statements
            )
