"""A crash or an error in the middle of a write leaves the memory store as it was."""

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

from cloud.memory import HashingEmbedder, MemoryStoreError, NewMemory, SqliteMemoryStore

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

# Writes one memory, then a batch of 100 in one transaction and stops for good
# after the 50th row, so the parent can kill it mid-transaction.
_CHILD = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from cloud.memory import HashingEmbedder, NewMemory, SqliteMemoryStore

    class StallingStore(SqliteMemoryStore):
        inserted = 0

        def _insert(self, *args, **kwargs):
            memory = super()._insert(*args, **kwargs)
            self.inserted += 1
            if self.inserted == 51:
                print("mid-write", flush=True)
                time.sleep(600)  # stalls mid-write until the test kills the process
            return memory

    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    store = StallingStore(sys.argv[1], HashingEmbedder())
    store.add("ann", NewMemory("Committed before the crash.", time=now))
    store.add_many("ann", [NewMemory(f"Batch memory number {n}.", time=now) for n in range(100)])
    """
)


class FailingStore(SqliteMemoryStore):
    """Raises inside the write transaction after `fail_after` rows."""

    fail_after = 2

    def _insert(self, *args, **kwargs):
        if self.fail_after == 0:
            raise RuntimeError("disk on fire")
        self.fail_after -= 1
        return super()._insert(*args, **kwargs)


def test_store_uses_write_ahead_logging(tmp_path):
    with SqliteMemoryStore(tmp_path / "m.db", HashingEmbedder()) as store:
        store.add("ann", NewMemory("Anything at all.", time=T0))
    raw = sqlite3.connect(tmp_path / "m.db")
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


def test_killed_mid_transaction_the_store_keeps_only_committed_memories(tmp_path):
    path = tmp_path / "m.db"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "mid-write"
        assert Path(f"{path}-wal").exists()  # the half transaction is in the log
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)

    with SqliteMemoryStore(path, HashingEmbedder()) as store:
        store.check_integrity()
        assert [m.text for m in store.export("ann")] == ["Committed before the crash."]
        assert store.search("ann", "batch memory number", now=T0) == []
        store.add("ann", NewMemory("Written after the crash.", time=T0))
        assert store.count("ann") == 2
        store.check_integrity()


def test_an_error_inside_the_transaction_writes_nothing_and_search_stays_consistent(tmp_path):
    with FailingStore(tmp_path / "m.db", HashingEmbedder()) as store:
        store.fail_after = 100
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
        store.check_integrity()


def test_an_embedder_returning_the_wrong_shape_is_refused_before_writing(tmp_path):
    class BrokenEmbedder(HashingEmbedder):
        def embed(self, texts):
            return super().embed([*texts, "extra"])

    with SqliteMemoryStore(tmp_path / "m.db", BrokenEmbedder()) as store:
        with pytest.raises(MemoryStoreError, match="returned shape"):
            store.add("ann", NewMemory("Never stored.", time=T0))
        assert store.count("ann") == 0
