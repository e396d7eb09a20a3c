"""Opening PostgreSQL for the cloud's stores: a connection pool, its tables, clear errors.

The memory store and the tools' store each keep a small pool to one database;
both open it, create their tables under an advisory lock (so workers starting
together do not race on `CREATE … IF NOT EXISTS`), and name the server in an
error without its password.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from cloud.memory.errors import MemoryStoreError


def open_pool(
    dsn: str,
    *,
    what: str,
    name: str,
    schema: Sequence[str],
    schema_lock: int,
    pool_size: int = 4,
    connect_timeout_s: float = 10.0,
) -> ConnectionPool:
    """An open pool of autocommit UTC connections whose database has `schema`'s tables.

    `what` names the store in errors ("the memory store"); the pool is closed
    again when either step fails.
    """
    pool = ConnectionPool(
        dsn,
        min_size=1,
        max_size=max(1, pool_size),
        kwargs={"autocommit": True},
        configure=_configure,
        open=False,
        name=name,
    )
    try:
        pool.open(wait=True, timeout=connect_timeout_s)
    except (PoolTimeout, psycopg.Error) as exc:
        pool.close()
        raise MemoryStoreError(
            f"cannot connect to {what} at {shown_dsn(dsn)}: {exc}; "
            "check that PostgreSQL runs there and the user may log in"
        ) from exc
    try:
        with pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (schema_lock,))
            for statement in schema:
                conn.execute(statement)
    except psycopg.Error as exc:
        pool.close()
        raise MemoryStoreError(
            f"cannot create the tables of {what} at {shown_dsn(dsn)}: {exc}; "
            "the user needs CREATE on the database's schema"
        ) from exc
    return pool


def shown_dsn(dsn: str) -> str:
    """The DSN for a message, without its password."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "the configured server"
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


def _configure(conn: psycopg.Connection[Any]) -> None:
    """Every pooled connection speaks UTC, so times come back as the instants written."""
    conn.execute("SET TIME ZONE 'UTC'")
