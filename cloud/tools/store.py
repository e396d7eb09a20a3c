"""Reminders, timers, notes, the shopping list and prices seen: one user's tools' data.

By default the tables live in the user's own SQLite file beside the memories
(same file, own connection, WAL), so a user's data is one file to export or
delete; with a `store` URL they live in that PostgreSQL database instead
(tools/postgres_store.py). Both run the same SQL below: this class holds every
query, and a backend supplies only connections, transactions and how a time is
stored. Reminders outlive the session that set them: the cloud's scheduler
reads due ones from here, and a reminder is marked delivered once a session
has been sent it, or claimed (`claim_due_reminders`) by exactly one worker.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cloud.memory.errors import MemoryStoreError
from cloud.memory.records import iso_utc, parse_iso

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reminders (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    text TEXT NOT NULL,
    category TEXT NOT NULL CHECK (category IN ('reminder', 'timer')),
    due TEXT NOT NULL,
    created TEXT NOT NULL,
    delivered TEXT
);
CREATE INDEX IF NOT EXISTS reminders_due ON reminders (user_id, delivered, due);
CREATE TABLE IF NOT EXISTS notes (
    seq INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    text TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS shopping (
    seq INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    item TEXT NOT NULL,
    created TEXT NOT NULL,
    UNIQUE (user_id, item)
);
"""
# Later tables, each applied once in order. `tool_migrations` counts those applied (not
# PRAGMA user_version: the memory store shares the file), so a file made before a
# table existed gets it on first open.
_MIGRATIONS = (
    # 1: shopping mode. Every price seen in a shop; what was taken on each trip.
    """
    CREATE TABLE IF NOT EXISTS prices (
        seq INTEGER PRIMARY KEY,
        user_id TEXT NOT NULL,
        product TEXT NOT NULL,
        barcode TEXT NOT NULL DEFAULT '',
        price REAL NOT NULL,
        shown TEXT NOT NULL,
        shop TEXT NOT NULL DEFAULT '',
        seen TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS prices_seen ON prices (user_id, seen);
    CREATE TABLE IF NOT EXISTS trips (
        user_id TEXT PRIMARY KEY,
        started TEXT NOT NULL,
        shop TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE IF NOT EXISTS basket (
        seq INTEGER PRIMARY KEY,
        user_id TEXT NOT NULL,
        product TEXT NOT NULL,
        price REAL,
        taken TEXT NOT NULL
    );
    """,
)


@dataclass(frozen=True)
class Reminder:
    id: str
    text: str
    category: str
    due: datetime


@dataclass(frozen=True)
class PriceSeen:
    """A price the glasses read in a shop: for which product, where and when."""

    product: str
    barcode: str
    price: float
    shown: str  # as printed: "£1.80"
    shop: str
    seen: datetime


@dataclass(frozen=True)
class Taken:
    """Something the wearer took on this trip, and its price where one was seen."""

    product: str
    price: float | None
    taken: datetime


@dataclass(frozen=True)
class TableRows:
    """One table's rows of one user, as `export_tables` gives them to `import_tables`:
    values in `columns` order, times as aware UTC datetimes."""

    table: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class _Table:
    name: str
    columns: tuple[str, ...]
    times: frozenset[str]
    order: str


# Every table a user's tools' data spans, in the order an export lists them.
_TABLES = (
    _Table(
        "reminders",
        ("id", "text", "category", "due", "created", "delivered"),
        frozenset({"due", "created", "delivered"}),
        "due, id",
    ),
    _Table("notes", ("text", "created"), frozenset({"created"}), "seq"),
    _Table("shopping", ("item", "created"), frozenset({"created"}), "seq"),
    _Table(
        "prices",
        ("product", "barcode", "price", "shown", "shop", "seen"),
        frozenset({"seen"}),
        "seq",
    ),
    _Table("trips", ("started", "shop"), frozenset({"started"}), "user_id"),
    _Table("basket", ("product", "price", "taken"), frozenset({"taken"}), "seq"),
)


class Writer(Protocol):
    """Statements inside one write transaction (SQL with `?` placeholders)."""

    def execute(self, sql: str, params: Sequence[Any]) -> int:
        """Run one statement; how many rows it changed."""
        ...

    def returning(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run one statement with a RETURNING clause; the rows it returned."""
        ...


class ToolStore:
    """One user's reminders, notes and shopping list; safe to share between sessions.

    Constructed with a path it is the SQLite backend; `PostgresToolStore`
    overrides only `_rows`, `_writing`, `_stored_time` and `_read_time`.
    """

    def __init__(self, path: str | Path, user: str) -> None:
        self.path = Path(path)
        self.user = user
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=10.0
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")
            self._migrate()
        except sqlite3.Error as exc:
            raise MemoryStoreError(
                f"cannot open {self.path} for reminders and notes: {exc}; "
                "it may be damaged (restore it from an export) or the disk may be full"
            ) from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- reminders and timers ---------------------------------------------

    def add_reminder(self, text: str, due: datetime, now: datetime, category: str) -> Reminder:
        reminder = Reminder(id=uuid.uuid4().hex, text=text, category=category, due=due)
        with self._writing() as write:
            write.execute(
                "INSERT INTO reminders (id, user_id, text, category, due, created)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    reminder.id,
                    self.user,
                    text,
                    category,
                    self._stored_time(due),
                    self._stored_time(now),
                ),
            )
        return reminder

    def due_reminders(self, now: datetime) -> list[Reminder]:
        """Undelivered reminders whose time has come, oldest first."""
        rows = self._rows(
            "SELECT id, text, category, due FROM reminders WHERE user_id = ?"
            " AND delivered IS NULL AND due <= ? ORDER BY due",
            (self.user, self._stored_time(now)),
        )
        return [self._reminder(row) for row in rows]

    def claim_due_reminders(self, now: datetime) -> list[Reminder]:
        """Mark the due, undelivered reminders delivered and return them, in one statement.

        However many workers call this at once, each reminder is returned to exactly
        one of them (the row's update is atomic: a second claim finds it delivered).
        The claimer must then send it: a worker that dies between claiming and
        sending loses that one notification rather than risk sending it twice.
        """
        with self._writing() as write:
            rows = write.returning(
                "UPDATE reminders SET delivered = ? WHERE user_id = ?"
                " AND delivered IS NULL AND due <= ? RETURNING id, text, category, due",
                (self._stored_time(now), self.user, self._stored_time(now)),
            )
        return sorted((self._reminder(row) for row in rows), key=lambda r: (r.due, r.id))

    def pending_reminders(self) -> list[Reminder]:
        rows = self._rows(
            "SELECT id, text, category, due FROM reminders WHERE user_id = ?"
            " AND delivered IS NULL ORDER BY due",
            (self.user,),
        )
        return [self._reminder(row) for row in rows]

    def mark_delivered(self, reminder_id: str, now: datetime) -> None:
        with self._writing() as write:
            write.execute(
                "UPDATE reminders SET delivered = ? WHERE id = ? AND user_id = ?",
                (self._stored_time(now), reminder_id, self.user),
            )

    # -- notes -------------------------------------------------------------

    def add_note(self, text: str, now: datetime) -> None:
        with self._writing() as write:
            write.execute(
                "INSERT INTO notes (user_id, text, created) VALUES (?, ?, ?)",
                (self.user, text, self._stored_time(now)),
            )

    def notes(self) -> list[str]:
        rows = self._rows("SELECT text FROM notes WHERE user_id = ? ORDER BY seq", (self.user,))
        return [str(row[0]) for row in rows]

    # -- shopping list ----------------------------------------------------

    def add_items(self, items: list[str], now: datetime) -> None:
        with self._writing() as write:
            for item in items:
                write.execute(
                    "INSERT INTO shopping (user_id, item, created) VALUES (?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    (self.user, item, self._stored_time(now)),
                )

    def remove_items(self, items: list[str]) -> int:
        with self._writing() as write:
            return sum(
                write.execute(
                    "DELETE FROM shopping WHERE user_id = ? AND item = ?", (self.user, item)
                )
                for item in items
            )

    def clear_items(self) -> int:
        with self._writing() as write:
            return write.execute("DELETE FROM shopping WHERE user_id = ?", (self.user,))

    def items(self) -> list[str]:
        rows = self._rows("SELECT item FROM shopping WHERE user_id = ? ORDER BY seq", (self.user,))
        return [str(row[0]) for row in rows]

    # -- shopping: prices seen, the trip and its basket ----------------------

    def add_price(self, seen: PriceSeen) -> None:
        with self._writing() as write:
            write.execute(
                "INSERT INTO prices (user_id, product, barcode, price, shown, shop, seen)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    self.user,
                    seen.product,
                    seen.barcode,
                    seen.price,
                    seen.shown,
                    seen.shop,
                    self._stored_time(seen.seen),
                ),
            )

    def prices(self, limit: int = 500) -> list[PriceSeen]:
        """Prices seen, newest first."""
        rows = self._rows(
            "SELECT product, barcode, price, shown, shop, seen FROM prices WHERE user_id = ?"
            " ORDER BY seen DESC, seq DESC LIMIT ?",
            (self.user, limit),
        )
        return [self._price_seen(row) for row in rows]

    def prices_since(self, since: datetime) -> list[PriceSeen]:
        """Prices seen at or after `since`, newest first: what a new sighting is checked
        against, so a label read in many frames and scene notes is kept once."""
        rows = self._rows(
            "SELECT product, barcode, price, shown, shop, seen FROM prices WHERE user_id = ?"
            " AND seen >= ? ORDER BY seen DESC, seq DESC",
            (self.user, self._stored_time(since)),
        )
        return [self._price_seen(row) for row in rows]

    def start_trip(self, now: datetime, shop: str = "") -> None:
        """A new shopping trip: its basket starts empty."""
        with self._writing() as write:
            write.execute(
                "INSERT INTO trips (user_id, started, shop) VALUES (?, ?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET started = excluded.started,"
                " shop = excluded.shop",
                (self.user, self._stored_time(now), shop),
            )

    def trip(self) -> tuple[datetime, str] | None:
        """When the current trip started and in which shop, or None before the first."""
        rows = self._rows("SELECT started, shop FROM trips WHERE user_id = ?", (self.user,))
        return None if not rows else (self._read_time(rows[0][0], "started"), str(rows[0][1]))

    def end_trip(self) -> None:
        """Shopping mode turned off: no trip is under way (what was taken stays)."""
        with self._writing() as write:
            write.execute("DELETE FROM trips WHERE user_id = ?", (self.user,))

    def take(self, product: str, price: float | None, now: datetime) -> None:
        with self._writing() as write:
            write.execute(
                "INSERT INTO basket (user_id, product, price, taken) VALUES (?, ?, ?, ?)",
                (self.user, product, price, self._stored_time(now)),
            )

    def basket(self, since: datetime) -> list[Taken]:
        """What was taken since `since` (the trip's start), in order."""
        rows = self._rows(
            "SELECT product, price, taken FROM basket WHERE user_id = ? AND taken >= ?"
            " ORDER BY seq",
            (self.user, self._stored_time(since)),
        )
        return [
            Taken(
                product=str(row[0]),
                price=None if row[1] is None else float(row[1]),
                taken=self._read_time(row[2], "taken"),
            )
            for row in rows
        ]

    # -- retention and copying -------------------------------------------------

    def forget_older_than(self, cutoff: datetime) -> int:
        """Retention: notes, delivered reminders, prices seen and what was taken on trips
        from before `cutoff` go; reminders still to come and the shopping list (what is
        still to buy) stay. Returns how many rows went."""
        before = self._stored_time(cutoff)
        with self._writing() as write:
            return sum(
                write.execute(sql, (self.user, before))
                for sql in (
                    "DELETE FROM notes WHERE user_id = ? AND created < ?",
                    "DELETE FROM reminders WHERE user_id = ? AND delivered IS NOT NULL AND due < ?",
                    "DELETE FROM prices WHERE user_id = ? AND seen < ?",
                    "DELETE FROM basket WHERE user_id = ? AND taken < ?",
                    "DELETE FROM trips WHERE user_id = ? AND started < ?",
                )
            )

    def export_tables(self) -> list[TableRows]:
        """Every row of the user's tools' data, table by table, for another store."""
        exported = []
        for table in _TABLES:
            rows = self._rows(
                f"SELECT {', '.join(table.columns)} FROM {table.name} WHERE user_id = ?"
                f" ORDER BY {table.order}",
                (self.user,),
            )
            exported.append(
                TableRows(
                    table.name, table.columns, tuple(self._portable(table, row) for row in rows)
                )
            )
        return exported

    def import_tables(self, tables: Sequence[TableRows]) -> int:
        """Add the rows of another store's `export_tables` that are not here yet; returns
        how many were added. A row counts as here when an equal one is (as many times as
        the source has it), or when its key is (a reminder's id, a listed item, the trip),
        so a copy can be rerun and adds only what is missing. One transaction."""
        known = {table.name: table for table in _TABLES}
        added = 0
        with self._writing() as write:
            for given in tables:
                table = known.get(given.table)
                if table is None or given.columns != table.columns:
                    raise MemoryStoreError(
                        f"cannot import table {given.table!r} with columns {given.columns}: "
                        "export it with the same release"
                    )
                here = Counter(
                    self._portable(table, row)
                    for row in write.returning(
                        f"SELECT {', '.join(table.columns)} FROM {table.name} WHERE user_id = ?",
                        (self.user,),
                    )
                )
                marks = ", ".join("?" * (len(table.columns) + 1))
                for row in given.rows:
                    if here[row] > 0:
                        here[row] -= 1
                        continue
                    added += write.execute(
                        f"INSERT INTO {table.name} (user_id, {', '.join(table.columns)})"
                        f" VALUES ({marks}) ON CONFLICT DO NOTHING",
                        (self.user, *self._storable(table, row)),
                    )
        return added

    # -- the backend: SQLite here, PostgreSQL in tools/postgres_store.py ----------

    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    @contextmanager
    def _writing(self) -> Iterator[Writer]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield _SqliteWriter(self._conn)
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise MemoryStoreError(
                    f"could not write to {self.path}: {exc}; nothing was changed"
                ) from exc

    def _stored_time(self, moment: datetime) -> Any:
        """A time as a column holds it: here fixed-width ISO text, whose order is time order."""
        return iso_utc(moment)

    def _read_time(self, value: Any, name: str) -> datetime:
        return parse_iso(value, name)

    def _migrate(self) -> None:
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS tool_migrations (number INTEGER PRIMARY KEY)"
        )
        done = self._conn.execute("SELECT COALESCE(MAX(number), 0) FROM tool_migrations")
        applied = int(done.fetchone()[0])
        for number, script in enumerate(_MIGRATIONS[applied:], start=applied + 1):
            self._conn.executescript(
                f"BEGIN IMMEDIATE; {script}"
                f" INSERT OR IGNORE INTO tool_migrations (number) VALUES ({number}); COMMIT;"
            )

    # -- rows to values and back ---------------------------------------------------

    def _reminder(self, row: Sequence[Any]) -> Reminder:
        return Reminder(
            id=str(row[0]),
            text=str(row[1]),
            category=str(row[2]),
            due=self._read_time(row[3], "due"),
        )

    def _price_seen(self, row: Sequence[Any]) -> PriceSeen:
        return PriceSeen(
            product=str(row[0]),
            barcode=str(row[1]),
            price=float(row[2]),
            shown=str(row[3]),
            shop=str(row[4]),
            seen=self._read_time(row[5], "seen"),
        )

    def _portable(self, table: _Table, row: Sequence[Any]) -> tuple[Any, ...]:
        """A row with its times as UTC datetimes and its numbers as floats, whichever store."""
        return tuple(
            None
            if value is None
            else self._read_time(value, name).astimezone(UTC)
            if name in table.times
            else float(value)
            if name == "price"
            else value
            for name, value in zip(table.columns, row, strict=True)
        )

    def _storable(self, table: _Table, row: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(
            self._stored_time(value) if name in table.times and value is not None else value
            for name, value in zip(table.columns, row, strict=True)
        )


class _SqliteWriter:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any]) -> int:
        return self._conn.execute(sql, params).rowcount

    def returning(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()
