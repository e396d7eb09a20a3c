"""A crash or an error in the middle of a write leaves the memory store as it was.

Every promise is kept by both stores: the SQLite file, and a real PostgreSQL 15
(tests/postgres.py) that other workers share; the few about SQLite's own files
say so in their name.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloud.memory import Embedder, HashingEmbedder, MemoryStoreError, NewMemory, SqliteMemoryStore
from cloud.memory.postgres_store import PostgresMemoryStore

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
STORES: dict[str, type[SqliteMemoryStore] | type[PostgresMemoryStore]] = {
    "sqlite": SqliteMemoryStore,
    "postgresql": PostgresMemoryStore,
}

# Writes one memory, then a batch of 100 in one transaction and stops for good
# after the 50th row, so the parent can kill it mid-transaction.
_CHILD = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from cloud.memory import HashingEmbedder, NewMemory, SqliteMemoryStore
    from cloud.memory.postgres_store import PostgresMemoryStore

    Store = SqliteMemoryStore if sys.argv[1] == "sqlite" else PostgresMemoryStore

    class StallingStore(Store):
        inserted = 0

        def _insert(self, *args, **kwargs):
            memory = super()._insert(*args, **kwargs)
            self.inserted += 1
            if self.inserted == 51:
                print("mid-write", flush=True)
                time.sleep(600)  # stalls mid-write until the test kills the process
            return memory

    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    store = StallingStore(sys.argv[2], HashingEmbedder())
    store.add("ann", NewMemory("Committed before the crash.", time=now))
    store.add_many("ann", [NewMemory(f"Batch memory number {n}.", time=now) for n in range(100)])
    """
)


@pytest.fixture(params=list(STORES))
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def location(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The SQLite file, or the DSN of a PostgreSQL schema of the test's own."""
    if backend == "sqlite":
        return str(tmp_path / "m.db")
    return str(request.getfixturevalue("postgres_dsn"))


def failing_store(backend: str, location: str) -> SqliteMemoryStore | PostgresMemoryStore:
    """The backend's store, raising inside the write transaction after `fail_after` rows."""

    class FailingStore(STORES[backend]):  # type: ignore[misc,valid-type]
        fail_after = 100

        def _insert(self, *args, **kwargs):
            if self.fail_after == 0:
                raise RuntimeError("disk on fire")
            self.fail_after -= 1
            return super()._insert(*args, **kwargs)

    return FailingStore(location, HashingEmbedder())


def check_integrity(store: SqliteMemoryStore | PostgresMemoryStore) -> None:
    if isinstance(store, SqliteMemoryStore):  # PostgreSQL keeps its own pages consistent
        store.check_integrity()


def test_sqlite_store_uses_write_ahead_logging(tmp_path):
    with SqliteMemoryStore(tmp_path / "m.db", HashingEmbedder()) as store:
        store.add("ann", NewMemory("Anything at all.", time=T0))
    raw = sqlite3.connect(tmp_path / "m.db")
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


def test_killed_mid_transaction_the_store_keeps_only_committed_memories(backend, location):
    with STORES[backend](location, HashingEmbedder()) as other_worker:
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, backend, location],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "mid-write"
            # Uncommitted rows are invisible to every other reader meanwhile.
            assert other_worker.count("ann") == 1
            if backend == "sqlite":
                assert Path(f"{location}-wal").exists()  # the half transaction is in the log
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)

        # The dead writer's transaction is rolled back and its lock freed.
        check_integrity(other_worker)
        assert [m.text for m in other_worker.export("ann")] == ["Committed before the crash."]
        assert other_worker.search("ann", "batch memory number", now=T0) == []
        other_worker.add("ann", NewMemory("Written after the crash.", time=T0))
        assert other_worker.count("ann") == 2
        check_integrity(other_worker)
    with STORES[backend](location, HashingEmbedder()) as reopened:
        assert [m.text for m in reopened.export("ann")] == [
            "Committed before the crash.",
            "Written after the crash.",
        ]


def test_an_error_inside_the_transaction_writes_nothing_and_search_stays_consistent(
    backend, location
):
    with failing_store(backend, location) as store:
        store.add("ann", NewMemory("Committed first.", time=T0))
        store.search("ann", "committed", now=T0)  # the in-memory matrix is loaded
        store.fail_after = 2
        with pytest.raises(RuntimeError, match="disk on fire"):
            store.add_many("ann", [NewMemory(f"Doomed memory {n}.", time=T0) for n in range(5)])
        assert store.count("ann") == 1
        assert store.search("ann", "doomed memory", now=T0) == []
        store.fail_after = 100
        store.add("ann", NewMemory("Written after the error.", time=T0))
        assert {m.text for m in store.export("ann")} == {
            "Committed first.",
            "Written after the error.",
        }
        check_integrity(store)


def test_an_embedder_returning_the_wrong_shape_is_refused_before_writing(backend, location):
    class BrokenEmbedder(HashingEmbedder):
        def embed(self, texts):
            return super().embed([*texts, "extra"])

    embedder: Embedder = BrokenEmbedder()
    with STORES[backend](location, embedder) as store:
        with pytest.raises(MemoryStoreError, match="returned shape"):
            store.add("ann", NewMemory("Never stored.", time=T0))
        assert store.count("ann") == 0
