"""Reminders, timers, notes, the shopping list and prices seen, in the user's own SQLite file.

The tables live beside the memories (same file, own connection, WAL), so a
user's data is one file to export or delete. Reminders outlive the session
that set them: the cloud's scheduler reads due ones from here, and a reminder
is marked delivered only once a session has been sent it.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

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


class ToolStore:
    """One user's reminders, notes and shopping list; safe to share between sessions."""

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
        with self._writing():
            self._conn.execute(
                "INSERT INTO reminders (id, user_id, text, category, due, created)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (reminder.id, self.user, text, category, iso_utc(due), iso_utc(now)),
            )
        return reminder

    def due_reminders(self, now: datetime) -> list[Reminder]:
        """Undelivered reminders whose time has come, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, text, category, due FROM reminders WHERE user_id = ?"
                " AND delivered IS NULL AND due <= ? ORDER BY due",
                (self.user, iso_utc(now)),
            ).fetchall()
        return [_reminder(row) for row in rows]

    def pending_reminders(self) -> list[Reminder]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, text, category, due FROM reminders WHERE user_id = ?"
                " AND delivered IS NULL ORDER BY due",
                (self.user,),
            ).fetchall()
        return [_reminder(row) for row in rows]

    def mark_delivered(self, reminder_id: str, now: datetime) -> None:
        with self._writing():
            self._conn.execute(
                "UPDATE reminders SET delivered = ? WHERE id = ? AND user_id = ?",
                (iso_utc(now), reminder_id, self.user),
            )

    # -- notes -------------------------------------------------------------

    def add_note(self, text: str, now: datetime) -> None:
        with self._writing():
            self._conn.execute(
                "INSERT INTO notes (user_id, text, created) VALUES (?, ?, ?)",
                (self.user, text, iso_utc(now)),
            )

    def notes(self) -> list[str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT text FROM notes WHERE user_id = ? ORDER BY seq", (self.user,)
            ).fetchall()
        return [str(row[0]) for row in rows]

    # -- shopping list ----------------------------------------------------

    def add_items(self, items: list[str], now: datetime) -> None:
        with self._writing():
            self._conn.executemany(
                "INSERT OR IGNORE INTO shopping (user_id, item, created) VALUES (?, ?, ?)",
                [(self.user, item, iso_utc(now)) for item in items],
            )

    def remove_items(self, items: list[str]) -> int:
        with self._writing():
            removed = 0
            for item in items:
                removed += self._conn.execute(
                    "DELETE FROM shopping WHERE user_id = ? AND item = ?", (self.user, item)
                ).rowcount
        return removed

    def clear_items(self) -> int:
        with self._writing():
            return self._conn.execute(
                "DELETE FROM shopping WHERE user_id = ?", (self.user,)
            ).rowcount

    def items(self) -> list[str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT item FROM shopping WHERE user_id = ? ORDER BY seq", (self.user,)
            ).fetchall()
        return [str(row[0]) for row in rows]

    # -- shopping: prices seen, the trip and its basket ----------------------

    def add_price(self, seen: PriceSeen) -> None:
        with self._writing():
            self._conn.execute(
                "INSERT INTO prices (user_id, product, barcode, price, shown, shop, seen)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    self.user,
                    seen.product,
                    seen.barcode,
                    seen.price,
                    seen.shown,
                    seen.shop,
                    iso_utc(seen.seen),
                ),
            )

    def prices(self, limit: int = 500) -> list[PriceSeen]:
        """Prices seen, newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT product, barcode, price, shown, shop, seen FROM prices WHERE user_id = ?"
                " ORDER BY seen DESC, seq DESC LIMIT ?",
                (self.user, limit),
            ).fetchall()
        return [
            PriceSeen(
                product=str(row[0]),
                barcode=str(row[1]),
                price=float(row[2]),
                shown=str(row[3]),
                shop=str(row[4]),
                seen=parse_iso(row[5], "seen"),
            )
            for row in rows
        ]

    def start_trip(self, now: datetime, shop: str = "") -> None:
        """A new shopping trip: its basket starts empty."""
        with self._writing():
            self._conn.execute(
                "INSERT INTO trips (user_id, started, shop) VALUES (?, ?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET started = excluded.started,"
                " shop = excluded.shop",
                (self.user, iso_utc(now), shop),
            )

    def trip(self) -> tuple[datetime, str] | None:
        """When the current trip started and in which shop, or None before the first."""
        with self._lock:
            row = self._conn.execute(
                "SELECT started, shop FROM trips WHERE user_id = ?", (self.user,)
            ).fetchone()
        return None if row is None else (parse_iso(row[0], "started"), str(row[1]))

    def take(self, product: str, price: float | None, now: datetime) -> None:
        with self._writing():
            self._conn.execute(
                "INSERT INTO basket (user_id, product, price, taken) VALUES (?, ?, ?, ?)",
                (self.user, product, price, iso_utc(now)),
            )

    def basket(self, since: datetime) -> list[Taken]:
        """What was taken since `since` (the trip's start), in order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT product, price, taken FROM basket WHERE user_id = ? AND taken >= ?"
                " ORDER BY seq",
                (self.user, iso_utc(since)),
            ).fetchall()
        return [
            Taken(
                product=str(row[0]),
                price=None if row[1] is None else float(row[1]),
                taken=parse_iso(row[2], "taken"),
            )
            for row in rows
        ]

    def forget_older_than(self, cutoff: datetime) -> int:
        """Retention: notes, delivered reminders, prices seen and what was taken on trips
        from before `cutoff` go; reminders still to come and the shopping list (what is
        still to buy) stay. Returns how many rows went."""
        before = iso_utc(cutoff)
        with self._writing():
            deleted = 0
            for sql in (
                "DELETE FROM notes WHERE user_id = ? AND created < ?",
                "DELETE FROM reminders WHERE user_id = ? AND delivered IS NOT NULL AND due < ?",
                "DELETE FROM prices WHERE user_id = ? AND seen < ?",
                "DELETE FROM basket WHERE user_id = ? AND taken < ?",
                "DELETE FROM trips WHERE user_id = ? AND started < ?",
            ):
                deleted += self._conn.execute(sql, (self.user, before)).rowcount
        return deleted

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

    @contextmanager
    def _writing(self) -> Iterator[None]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise MemoryStoreError(
                    f"could not write to {self.path}: {exc}; nothing was changed"
                ) from exc


def _reminder(row: tuple[str, str, str, str]) -> Reminder:
    return Reminder(id=row[0], text=row[1], category=row[2], due=parse_iso(row[3], "due"))
