"""test_memory_durability.py's promises, kept by the PostgreSQL store: a worker killed or
failing mid-write leaves the shared store as it was, and the other workers' caches right."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloud.memory import HashingEmbedder, MemoryStoreError, NewMemory
from cloud.memory.postgres_store import PostgresMemoryStore

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

# Writes one memory, then a batch of 100 in one transaction and stops for good
# after the 50th row, so the parent can kill the worker mid-transaction.
_CHILD = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from cloud.memory import HashingEmbedder, NewMemory
    from cloud.memory.postgres_store import PostgresMemoryStore

    class StallingStore(PostgresMemoryStore):
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


class FailingStore(PostgresMemoryStore):
    """Raises inside the write transaction after `fail_after` rows."""

    fail_after = 2

    def _insert(self, *args, **kwargs):
        if self.fail_after == 0:
            raise RuntimeError("disk on fire")
        self.fail_after -= 1
        return super()._insert(*args, **kwargs)


def test_a_worker_killed_mid_transaction_leaves_only_committed_memories(postgres_dsn):
    with PostgresMemoryStore(postgres_dsn, HashingEmbedder()) as other_worker:
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, postgres_dsn],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "mid-write"
            # Uncommitted rows are invisible to every other worker meanwhile.
            assert other_worker.count("ann") == 1
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)

        # The server rolls the dead worker's transaction back and frees its lock.
        other_worker.add("ann", NewMemory("Written after the crash.", time=T0))
        assert [m.text for m in other_worker.export("ann")] == [
            "Committed before the crash.",
            "Written after the crash.",
        ]
        assert other_worker.search("ann", "batch memory number", now=T0) == []


def test_an_error_inside_the_transaction_writes_nothing_and_search_stays_consistent(
    postgres_dsn,
):
    with FailingStore(postgres_dsn, HashingEmbedder()) as store:
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


def test_an_embedder_returning_the_wrong_shape_is_refused_before_writing(postgres_dsn):
    class BrokenEmbedder(HashingEmbedder):
        def embed(self, texts):
            return super().embed([*texts, "extra"])

    with PostgresMemoryStore(postgres_dsn, BrokenEmbedder()) as store:
        with pytest.raises(MemoryStoreError, match="returned shape"):
            store.add("ann", NewMemory("Never stored.", time=T0))
        assert store.count("ann") == 0
