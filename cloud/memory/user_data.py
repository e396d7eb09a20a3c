"""Each user's memories, notes and reminders: one SQLite file per user, opened once per process.

With a `store` URL (the `store` setting, postgresql://…) every user's memories
and tools' data (notes, lists, reminders, prices) are in that PostgreSQL
database instead, through one memory store and one tools' pool shared by the
process, and no file is made for the user.

Every session of a user shares the same open stores, so what one session
writes the next one reads at once, and the reminder scheduler sees what any
session set. The file name is derived from the user name (readable part plus
a hash), so no user name can reach another user's file or leave the folder.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cloud.memory.embedder import Embedder
from cloud.memory.errors import MemoryStoreError
from cloud.memory.records import check_user
from cloud.memory.sqlite_store import SqliteMemoryStore
from cloud.memory.store import MemoryStore
from cloud.tools.store import ToolStore

if TYPE_CHECKING:
    from cloud.tools.postgres_store import PostgresTools
from protocol.secret_file import private_dir, private_file

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class UserData:
    user: str
    memory: MemoryStore
    tools: ToolStore


def user_file(data_dir: Path, user: str) -> Path:
    """Where the user's SQLite file lives: `<data_dir>/users/<name>-<hash>.sqlite`."""
    check_user(user)
    readable = _UNSAFE.sub("_", user)[:40].strip("_") or "user"
    digest = hashlib.sha256(user.encode("utf-8")).hexdigest()[:16]
    return data_dir / "users" / f"{readable}-{digest}.sqlite"


class UserDirectory:
    """Opens each user's stores on first use and keeps them open until `close`."""

    def __init__(self, data_dir: Path, embedder: Embedder, *, store: str = "") -> None:
        self.data_dir = data_dir
        self.store = store
        self._embedder = embedder
        self._shared: MemoryStore | None = None
        self._shared_tools: PostgresTools | None = None
        self._open: dict[str, UserData] = {}
        self._lock = threading.Lock()

    def open(self, user: str) -> UserData:
        with self._lock:
            data = self._open.get(user)
            if data is not None:
                return data
            if self.store:
                memory, tools = self._shared_stores(user)
            else:
                memory, tools = self._own_file(user)
            data = UserData(user=user, memory=memory, tools=tools)
            self._open[user] = data
            return data

    def _own_file(self, user: str) -> tuple[MemoryStore, ToolStore]:
        """The user's SQLite file, created owner-only on first use."""
        path = user_file(self.data_dir, user)
        try:
            # Owner-only: the folders 0700 and the file 0600 (its -wal and -shm follow it).
            private_dir(self.data_dir)
            private_dir(path.parent)
            private_file(path)
        except OSError as exc:
            raise MemoryStoreError(
                f"cannot create {path.parent} for personal memory: {exc}; "
                "set COMPANION_DATA to a writable folder"
            ) from exc
        memory = SqliteMemoryStore(path, self._embedder)
        try:
            return memory, ToolStore(path, user)
        except MemoryStoreError:
            memory.close()
            raise

    def _shared_stores(self, user: str) -> tuple[MemoryStore, ToolStore]:
        """The process's one PostgreSQL memory store and tools' pool, opened on first use."""
        check_user(user)
        if self._shared is None:
            from cloud.memory.postgres_store import PostgresMemoryStore

            self._shared = PostgresMemoryStore(self.store, self._embedder)
        if self._shared_tools is None:
            from cloud.tools.postgres_store import PostgresTools

            self._shared_tools = PostgresTools(self.store)
        return self._shared, self._shared_tools.store(user)

    def users(self) -> list[str]:
        """The users whose stores are open (someone connected since the process started)."""
        with self._lock:
            return list(self._open)

    def close(self) -> None:
        with self._lock:
            for data in self._open.values():
                data.tools.close()
                if data.memory is not self._shared:
                    data.memory.close()
            self._open.clear()
            if self._shared is not None:
                self._shared.close()
                self._shared = None
            if self._shared_tools is not None:
                self._shared_tools.close()
                self._shared_tools = None
