"""Reminders, timers, notes and the shopping list, in the user's own SQLite file.

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


@dataclass(frozen=True)
class Reminder:
    id: str
    text: str
    category: str
    due: datetime


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
