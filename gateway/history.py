"""Each user's past conversations as the app shows them: question, answer, keyframe.

The keyframe is stored exactly as it left the edge (faces already blurred
there), so History never shows more than the cloud saw. Every read and write
names its user; another user's turn id behaves like one that does not exist.

By default the turns are one SQLite file beside the gateway's accounts; with a
`store` URL (postgresql://…) every gateway writes them to that database
(gateway/history_postgres.py), so a wearer whose session moves to another
gateway sees one History. Both run the queries below: a backend supplies only
its connection (`_rows`, `_run`).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
# A turn's columns as `export_turns` gives them and `import_turns` takes them.
TURN_COLUMNS = (
    "session_id",
    "turn_id",
    "time",
    "question",
    "answer",
    "mode",
    "latency_ms",
    "keyframe",
)
Statement = tuple[str, Sequence[Any]]


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


@dataclass(frozen=True, slots=True)
class StoredTurn:
    """A whole turn, keyframe included, as it moves from one History to another."""

    session_id: str
    turn_id: int
    time: float
    question: str
    answer: str
    mode: str
    latency_ms: float | None
    keyframe: bytes | None


class History:
    """The SQLite History; `PostgresHistory` is the same over a shared database."""

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
        self._run(
            (
                "INSERT INTO turns (user_id, session_id, turn_id, time) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (user_id, session_id, turn_id) DO NOTHING",
                (user, session_id, turn_id, self._clock()),
            ),
            (
                f"UPDATE turns SET {column} = ? WHERE user_id = ? AND session_id = ? AND turn_id = ?",
                (value, user, session_id, turn_id),
            ),
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
        rows = self._rows(
            "SELECT id, session_id, turn_id, time, question, answer, mode, latency_ms, "
            "keyframe IS NOT NULL FROM turns WHERE user_id = ? ORDER BY time DESC, id DESC "
            "LIMIT ?",
            (user, limit),
        )
        return [
            HistoryTurn(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8])) for r in rows
        ]

    def keyframe(self, user: str, turn: int) -> bytes | None:
        rows = self._rows("SELECT keyframe FROM turns WHERE id = ? AND user_id = ?", (turn, user))
        return None if not rows or rows[0][0] is None else bytes(rows[0][0])

    def delete_all(self, user: str) -> int:
        return self._run(("DELETE FROM turns WHERE user_id = ?", (user,)))

    def enforce_retention(self, user: str, max_age_s: float) -> int:
        """Forget the user's turns older than `max_age_s`; returns how many went."""
        return self._run(
            ("DELETE FROM turns WHERE user_id = ? AND time < ?", (user, self._clock() - max_age_s))
        )

    def export_turns(self, user: str) -> list[StoredTurn]:
        """Every turn of the user, oldest first, keyframes included (for another History)."""
        rows = self._rows(
            f"SELECT {', '.join(TURN_COLUMNS)} FROM turns WHERE user_id = ? ORDER BY time, id",
            (user,),
        )
        return [
            StoredTurn(
                str(r[0]),
                int(r[1]),
                float(r[2]),
                str(r[3]),
                str(r[4]),
                str(r[5]),
                None if r[6] is None else float(r[6]),
                None if r[7] is None else bytes(r[7]),
            )
            for r in rows
        ]

    def import_turns(self, user: str, turns: Sequence[StoredTurn]) -> int:
        """Add the turns not here yet (by session and turn id), in one transaction;
        returns how many were added, so a copy can be rerun."""
        marks = ", ".join("?" * (len(TURN_COLUMNS) + 1))
        return self._run(
            *(
                (
                    f"INSERT INTO turns (user_id, {', '.join(TURN_COLUMNS)}) VALUES ({marks})"
                    " ON CONFLICT (user_id, session_id, turn_id) DO NOTHING",
                    (
                        user,
                        turn.session_id,
                        turn.turn_id,
                        turn.time,
                        turn.question,
                        turn.answer,
                        turn.mode,
                        turn.latency_ms,
                        turn.keyframe,
                    ),
                )
                for turn in turns
            )
        )

    # -- the backend: SQLite here, PostgreSQL in gateway/history_postgres.py ----------

    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _run(self, *statements: Statement) -> int:
        """The statements in one transaction; how many rows they changed in all."""
        changed = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    changed += self._db.execute(sql, params).rowcount
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return changed


def open_history(path: Path, *, store: str = "") -> History:
    """The deployment's History: the SQLite file at `path`, or the `store` database."""
    if store:
        from gateway.history_postgres import PostgresHistory

        return PostgresHistory(store)
    return History(path)
