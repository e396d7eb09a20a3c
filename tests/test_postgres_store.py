"""What only the PostgreSQL store has to get right: many workers on one database, the
per-user cache, copying a user across from SQLite, and its setting.

The behaviour both stores share is tested against both in test_memory_store.py.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from cloud.memory import (
    HashingEmbedder,
    MemoryKind,
    MemoryStoreError,
    NewMemory,
    SqliteMemoryStore,
)
from cloud.memory.postgres_store import PostgresMemoryStore, tsquery_text
from cloud.memory.user_data import UserDirectory
from companion.settings import SettingsError, load_settings
from tests.postgres import _free_port

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def fact(text: str, *, hours: int = 0, slot: str | None = None) -> NewMemory:
    return NewMemory(text, time=T0 + timedelta(hours=hours), kind=MemoryKind.FACT, slot=slot)


def test_two_workers_writing_one_slot_leave_exactly_one_current_fact(postgres_dsn: str) -> None:
    embedder = HashingEmbedder()
    with (
        PostgresMemoryStore(postgres_dsn, embedder) as first,
        PostgresMemoryStore(postgres_dsn, embedder) as second,
    ):
        errors: list[BaseException] = []

        def write(store: PostgresMemoryStore, offset: int) -> None:
            try:
                for n in range(10):
                    hours = 2 * n + offset
                    store.add(
                        "ann", fact(f"My locker is number {hours}.", hours=hours, slot="locker")
                    )
            except BaseException as exc:  # reported by the assert below
                errors.append(exc)

        threads = [
            threading.Thread(target=write, args=(s, o)) for s, o in ((first, 0), (second, 1))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        history = first.export("ann")
        current = [memory for memory in history if not memory.replaced]
        assert len(history) == 20
        assert [memory.text for memory in current] == ["My locker is number 19."]
        by_id = {memory.id: memory for memory in history}
        for memory in history:  # each replaced fact points at a later one of its slot
            if memory.replaced_by is not None:
                assert by_id[memory.replaced_by].time > memory.time
        for store in (first, second):
            hits = store.search("ann", "locker number", now=T0, k=20)
            assert [hit.memory.id for hit in hits] == [current[0].id]


def test_a_worker_sees_another_workers_delete_without_reopening(postgres_dsn: str) -> None:
    embedder = HashingEmbedder()
    with (
        PostgresMemoryStore(postgres_dsn, embedder) as reader,
        PostgresMemoryStore(postgres_dsn, embedder) as writer,
    ):
        gone = reader.add("ann", fact("The safe combination is zanzibar."))
        assert len(reader.search("ann", "zanzibar", now=T0)) == 1  # cached
        writer.delete("ann", gone.id)
        assert reader.search("ann", "safe combination zanzibar", now=T0) == []


def test_full_text_queries_cannot_inject_tsquery_syntax(postgres_dsn: str) -> None:
    assert tsquery_text("peanuts & !(x | y):* <-> 'z'") == "peanuts | x | z"
    assert tsquery_text("where is it?") is None
    with PostgresMemoryStore(postgres_dsn, HashingEmbedder()) as store:
        store.add("ann", fact("I'm allergic to peanuts."))
        hits = store.search("ann", "peanuts & !(x | y):* <-> 'z'", now=T0)
        assert [hit.memory.text for hit in hits] == ["I'm allergic to peanuts."]
        assert hits[0].text_rank == 1


def test_the_place_is_searchable_and_the_index_is_a_generated_gin_column(
    postgres_dsn: str,
) -> None:
    with PostgresMemoryStore(postgres_dsn, HashingEmbedder()) as store:
        store.add("ann", NewMemory("Bought shoes.", time=T0, place="Westfield Mall"))
        assert [h.memory.text for h in store.search("ann", "westfield", now=T0)] == [
            "Bought shoes."
        ]
    with psycopg.connect(postgres_dsn) as conn:
        generated = conn.execute(
            "SELECT is_generated, data_type FROM information_schema.columns"
            " WHERE table_name = 'memories' AND column_name = 'tsv'"
            " AND table_schema = current_schema()"
        ).fetchone()
        method = conn.execute(
            "SELECT am.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " JOIN pg_am am ON am.oid = c.relam WHERE c.relname = 'memories_tsv'"
            " AND c.relnamespace = current_schema()::regnamespace"
        ).fetchone()
        embedding = conn.execute(
            "SELECT udt_name FROM information_schema.columns WHERE table_name = 'memories'"
            " AND column_name = 'embedding' AND table_schema = current_schema()"
        ).fetchone()
    assert generated == ("ALWAYS", "tsvector")
    assert method == ("gin",)
    assert embedding == ("_float4",)


def test_compaction_rewrites_the_table_without_the_deleted_rows(postgres_dsn: str) -> None:
    with PostgresMemoryStore(postgres_dsn, HashingEmbedder()) as store:
        gone = store.add("ann", fact("The safe combination is zanzibar."))
        store.add("ann", fact("I'm allergic to peanuts."))
        with psycopg.connect(postgres_dsn) as conn:
            before = conn.execute("SELECT pg_relation_filenode('memories')").fetchone()
        store.delete("ann", gone.id)
        store.compact()
        with psycopg.connect(postgres_dsn) as conn:
            after = conn.execute("SELECT pg_relation_filenode('memories')").fetchone()
            rows = conn.execute("SELECT count(*) FROM memories WHERE text LIKE '%zanzibar%'")
            assert rows.fetchone() == (0,)
        assert before != after  # VACUUM FULL wrote a new file: the old pages are gone
        assert [h.memory.text for h in store.search("ann", "peanuts", now=T0)] == [
            "I'm allergic to peanuts."
        ]


def test_an_unreachable_server_is_one_clear_error() -> None:
    port = _free_port()
    with pytest.raises(MemoryStoreError, match=f"127.0.0.1:{port}"):
        PostgresMemoryStore(
            f"postgresql://nobody@127.0.0.1:{port}/none", HashingEmbedder(), connect_timeout_s=1
        )


def test_import_copies_history_ids_and_times_and_can_be_rerun(tmp_path, postgres_dsn) -> None:
    embedder = HashingEmbedder()
    with SqliteMemoryStore(tmp_path / "m.db", embedder) as source:
        source.add("ann", fact("My shoe size is 43.", slot="my shoe size"))
        source.add("ann", fact("My shoe size is 44.", hours=5, slot="my shoe size"))
        source.add(
            "ann",
            NewMemory("Yes, on Saturday.", time=T0, context="Are you free this weekend?"),
        )
        source.add("bob", fact("Bob's note."))
        memories = source.export("ann")
        expected = [hit.memory.id for hit in source.search("ann", "shoe size", now=T0)]
    with PostgresMemoryStore(postgres_dsn, embedder) as target:
        assert target.import_memories("ann", memories) == 3
        assert target.import_memories("ann", memories) == 0
        assert target.export("ann") == memories
        assert target.count("bob") == 0
        found = [hit.memory.id for hit in target.search("ann", "shoe size", now=T0)]
        assert found == expected and len(found) == 1


def test_the_user_directory_opens_one_shared_store_for_a_postgresql_url(
    tmp_path, postgres_dsn
) -> None:
    worker_a = UserDirectory(tmp_path / "a", HashingEmbedder(), store=postgres_dsn)
    worker_b = UserDirectory(tmp_path / "b", HashingEmbedder(), store=postgres_dsn)
    try:
        ann, bob = worker_a.open("ann"), worker_a.open("bob")
        assert isinstance(ann.memory, PostgresMemoryStore) and ann.memory is bob.memory
        ann.memory.add("ann", fact("My car is on level 3."))
        hits = worker_b.open("ann").memory.search("ann", "car level", now=T0)
        assert [hit.memory.text for hit in hits] == ["My car is on level 3."]
    finally:
        worker_a.close()
        worker_b.close()


def test_with_a_postgresql_url_tools_data_is_shared_by_workers_and_no_file_is_written(
    tmp_path, postgres_dsn
) -> None:
    worker_a = UserDirectory(tmp_path / "a", HashingEmbedder(), store=postgres_dsn)
    worker_b = UserDirectory(tmp_path / "b", HashingEmbedder(), store=postgres_dsn)
    try:
        worker_a.open("ann").tools.add_items(["oat milk"], T0)
        reminder = worker_a.open("ann").tools.add_reminder("call Bo", T0, T0, "reminder")
        assert worker_b.open("ann").tools.items() == ["oat milk"]
        assert worker_b.open("ann").tools.claim_due_reminders(T0) == [reminder]
        assert worker_a.open("ann").tools.claim_due_reminders(T0) == []
        assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    finally:
        worker_a.close()
        worker_b.close()


def test_the_store_setting_takes_a_postgresql_url_and_nothing_else() -> None:
    assert load_settings(environ={}).store == ""
    url = "postgresql://companion@db.internal:5432/companion"
    settings = load_settings(environ={"COMPANION_STORE": url})
    assert settings.store == url and settings.cloud_config().store == url
    with pytest.raises(SettingsError, match="COMPANION_STORE"):
        load_settings(environ={"COMPANION_STORE": "/var/lib/companion.sqlite"})
    with pytest.raises(SettingsError, match="without a password"):
        load_settings(environ={"COMPANION_STORE": "postgresql://u:secret@db/companion"})


def test_a_bulk_write_refreshes_the_planners_statistics(postgres_dsn: str) -> None:
    def planned_rows() -> float:
        with psycopg.connect(postgres_dsn) as conn:
            row = conn.execute(
                "SELECT reltuples FROM pg_class WHERE relname = 'memories'"
                " AND relnamespace = current_schema()::regnamespace"
            ).fetchone()
        assert row is not None
        return float(row[0])

    with PostgresMemoryStore(postgres_dsn, HashingEmbedder()) as store:
        store.add("ann", fact("One memory."))
        assert planned_rows() == -1  # never analysed: the planner guesses
        many = [NewMemory(f"Note number {n}.", time=T0) for n in range(1000)]
        store.add_many("ann", many, deduplicate=False)
        assert planned_rows() == 1001
