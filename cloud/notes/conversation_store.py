"""Each user's conversation records (the app's Conversations page), in their SQLite file.

A record is what notes made of one conversation: its timed lines with speaker
labels, its summary and its action items, as JSON, with when it began and
ended. No audio is ever stored. The summary and action items are also
memories (cloud/notes/memories.py) carrying the conversation's id as their
source, so deleting a conversation deletes them too (the caller does both).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cloud.memory.errors import MemoryStoreError
from cloud.memory.user_data import user_file
from cloud.notes.live import FinishedConversation
from protocol.secret_file import private_dir, private_file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    ended_at TEXT NOT NULL,
    summary TEXT NOT NULL,
    notes TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_started ON conversations (started_at);
"""

ConversationJson = dict[str, Any]


class ConversationStore:
    """One user's conversation records; thread-safe (the gateway reads it off its loop)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=10.0
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise MemoryStoreError(f"cannot open {self.path} for conversations: {exc}") from exc

    @classmethod
    def of_user(cls, data_dir: Path, user: str) -> ConversationStore:
        """The store in `user`'s own SQLite file (under the cloud's data folder), created
        owner-only if it is not there yet."""
        path = user_file(data_dir, user)
        try:
            private_dir(data_dir)
            private_dir(path.parent)
            private_file(path)
        except OSError as exc:
            raise MemoryStoreError(f"cannot create {path} for conversations: {exc}") from exc
        return cls(path)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def add(self, finished: FinishedConversation) -> None:
        body = json.dumps(finished.notes.to_json(), ensure_ascii=False)
        with self._lock:
            self._conn.execute(
                "INSERT INTO conversations (id, started_at, ended_at, summary, notes) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    finished.conversation_id,
                    _stamp(finished.started_at),
                    _stamp(finished.ended_at),
                    finished.notes.summary,
                    body,
                ),
            )

    def recent(self, limit: int = 100) -> list[ConversationJson]:
        """Newest first: id, times, summary and counts (no transcript)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, started_at, ended_at, summary, notes FROM conversations "
                "ORDER BY started_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        listed = []
        for row in rows:
            whole = _record(row)
            whole["lines"] = len(whole.pop("notes")["lines"])
            listed.append(whole)
        return listed

    def get(self, conversation_id: str) -> ConversationJson | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT id, started_at, ended_at, summary, notes FROM conversations WHERE id = ?",
                (conversation_id,),
            ).fetchone()
        if row is None:
            return None
        record = _record(row)
        notes = record.pop("notes")
        return record | {k: notes[k] for k in ("lines", "speakers", "action_items")}

    def delete(self, conversation_id: str) -> bool:
        with self._lock:
            cursor = self._conn.execute(
                "DELETE FROM conversations WHERE id = ?", (conversation_id,)
            )
        return cursor.rowcount > 0

    def forget_older_than(self, cutoff: datetime) -> list[str]:
        """Retention: delete records that began before `cutoff`; returns their ids."""
        with self._lock:
            rows = self._conn.execute(
                "DELETE FROM conversations WHERE started_at < ? RETURNING id", (_stamp(cutoff),)
            ).fetchall()
        return [row[0] for row in rows]


def older_than(max_age_s: float, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(seconds=max_age_s)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _record(row: tuple[Any, ...]) -> ConversationJson:
    conversation_id, started, ended, summary, notes = row
    return {
        "id": conversation_id,
        "started_at": started,
        "ended_at": ended,
        "summary": summary,
        "notes": json.loads(notes),
    }


def keep_record(data_dir: Path, user: str, finished: FinishedConversation) -> None:
    """Store one finished conversation in `user`'s file (opened for this write only)."""
    store = ConversationStore.of_user(data_dir, user)
    try:
        store.add(finished)
    finally:
        store.close()
