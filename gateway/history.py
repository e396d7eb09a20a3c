"""Each user's past conversations as the app shows them: question, answer, keyframe.

The keyframe is stored exactly as it left the edge (faces already blurred
there), so History never shows more than the cloud saw. Every read and write
names its user; another user's turn id behaves like one that does not exist.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from protocol.secret_file import private_file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    turn_id INTEGER NOT NULL,
    time REAL NOT NULL,
    question TEXT NOT NULL DEFAULT '',
    answer TEXT NOT NULL DEFAULT '',
    mode TEXT NOT NULL DEFAULT '',
    latency_ms REAL,
    keyframe BLOB,
    UNIQUE (user_id, session_id, turn_id)
);
CREATE INDEX IF NOT EXISTS turns_by_user ON turns (user_id, time DESC);
"""


@dataclass(frozen=True, slots=True)
class HistoryTurn:
    id: int
    session_id: str
    turn_id: int
    time: float
    question: str
    answer: str
    mode: str
    latency_ms: float | None
    has_keyframe: bool


class History:
    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        # Owner-only (0600; its -wal and -shm follow): it holds what the wearer asked and saw.
        self._db = sqlite3.connect(
            str(private_file(Path(path))), isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _upsert(self, user: str, session_id: str, turn_id: int, column: str, value: object) -> None:
        assert column in {"question", "answer", "keyframe", "mode", "latency_ms"}
        with self._lock:
            self._db.execute(
                "INSERT INTO turns (user_id, session_id, turn_id, time) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (user_id, session_id, turn_id) DO NOTHING",
                (user, session_id, turn_id, self._clock()),
            )
            self._db.execute(
                f"UPDATE turns SET {column} = ? WHERE user_id = ? AND session_id = ? AND turn_id = ?",
                (value, user, session_id, turn_id),
            )

    def record_question(self, user: str, session_id: str, turn_id: int, text: str) -> None:
        self._upsert(user, session_id, turn_id, "question", text)

    def record_keyframe(self, user: str, session_id: str, turn_id: int, jpeg: bytes) -> None:
        self._upsert(user, session_id, turn_id, "keyframe", jpeg)

    def record_answer(
        self,
        user: str,
        session_id: str,
        turn_id: int,
        text: str,
        mode: str,
        latency_ms: float | None,
    ) -> None:
        self._upsert(user, session_id, turn_id, "answer", text)
        self._upsert(user, session_id, turn_id, "mode", mode)
        self._upsert(user, session_id, turn_id, "latency_ms", latency_ms)

    def turns(self, user: str, *, limit: int = 50) -> list[HistoryTurn]:
        """The user's latest turns, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, session_id, turn_id, time, question, answer, mode, latency_ms, "
                "keyframe IS NOT NULL FROM turns WHERE user_id = ? ORDER BY time DESC, id DESC "
                "LIMIT ?",
                (user, limit),
            ).fetchall()
        return [
            HistoryTurn(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8])) for r in rows
        ]

    def keyframe(self, user: str, turn: int) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                "SELECT keyframe FROM turns WHERE id = ? AND user_id = ?", (turn, user)
            ).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def delete_all(self, user: str) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM turns WHERE user_id = ?", (user,)).rowcount

    def enforce_retention(self, user: str, max_age_s: float) -> int:
        """Forget the user's turns older than `max_age_s`; returns how many went."""
        with self._lock:
            return self._db.execute(
                "DELETE FROM turns WHERE user_id = ? AND time < ?",
                (user, self._clock() - max_age_s),
            ).rowcount
