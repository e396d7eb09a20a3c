"""The memory stores with the deterministic hashing embedder: behaviour, isolation, deletion.

Every test that takes `store` or `open_store` runs against SQLite and against a
real PostgreSQL 15 (tests/postgres.py); the few about SQLite's own files take
`sqlite_store`.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from cloud.memory import (
    Embedder,
    HashingEmbedder,
    InvalidMemoryError,
    MemoryChanges,
    MemoryKind,
    MemoryNotFoundError,
    NewMemory,
    RetentionPolicy,
    SqliteMemoryStore,
)
from cloud.memory.postgres_store import PostgresMemoryStore

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CLOCK_TIME = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def embedder():
    return HashingEmbedder()


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request, tmp_path):
    """Opens a store of the test's backend; every store it opens in one test shares its data
    (one file, or one PostgreSQL schema), as two processes on one store would."""
    if request.param == "sqlite":
        location = tmp_path / "memory.db"
    else:
        location = request.getfixturevalue("postgres_dsn")
    opened = []

    def open_one(embedder: Embedder, **options):
        if request.param == "sqlite":
            made = SqliteMemoryStore(location, embedder, **options)
        else:
            made = PostgresMemoryStore(location, embedder, **options)
        opened.append(made)
        return made

    yield open_one
    for made in opened:
        made.close()


@pytest.fixture
def store(open_store, embedder):
    return open_store(embedder, clock=lambda: CLOCK_TIME)


@pytest.fixture
def sqlite_store(tmp_path, embedder):
    with SqliteMemoryStore(tmp_path / "memory.db", embedder, clock=lambda: CLOCK_TIME) as opened:
        yield opened


def memory(text, *, hours=0, kind=MemoryKind.FACT, **fields):
    return NewMemory(text=text, time=T0 + timedelta(hours=hours), kind=kind, **fields)


def top_texts(store, user, query, k=3):
    return [hit.memory.text for hit in store.search(user, query, now=T0, k=k)]


def test_added_memory_is_returned_with_every_field(store):
    stored = store.add(
        "ann",
        memory(
            "My car is on level 3.",
            source="session",
            source_id="s1/t4",
            place="Mall",
            importance=0.7,
        ),
    )
    assert stored == store.get("ann", stored.id)
    assert (stored.user, stored.kind, stored.source, stored.source_id) == (
        "ann",
        MemoryKind.FACT,
        "session",
        "s1/t4",
    )
    assert (stored.time, stored.place, stored.importance) == (T0, "Mall", 0.7)
    assert stored.created == stored.updated == CLOCK_TIME


def test_search_finds_by_words_and_ranks_the_match_first(store):
    store.add_many(
        "ann",
        [
            memory("My car is on level 3."),
            memory("I'm allergic to peanuts."),
            memory("The wifi password is BlueHeron."),
        ],
    )
    assert top_texts(store, "ann", "peanuts allergy", k=1) == ["I'm allergic to peanuts."]
    assert top_texts(store, "ann", "BlueHeron", k=1) == ["The wifi password is BlueHeron."]


def test_search_explains_each_hit(store):
    store.add("ann", memory("I'm allergic to peanuts."))
    hit = store.search("ann", "peanuts", now=T0, k=1)[0]
    assert hit.text_rank == 1 and hit.vector_rank == 1
    assert hit.score > 1.0 and 0.0 < hit.cosine <= 1.0


def test_search_of_an_empty_store_returns_nothing(store):
    assert store.search("ann", "anything", now=T0) == []


def test_near_identical_memory_of_same_kind_refreshes_time_instead_of_adding(store):
    first = store.add("ann", memory("My car is on level 3.", importance=0.4))
    again = store.add("ann", memory("my car is on level 3", hours=5, importance=0.9))
    assert again.id == first.id and store.count("ann") == 1
    assert store.get("ann", first.id).time == T0 + timedelta(hours=5)
    assert store.get("ann", first.id).importance == 0.9


def test_an_older_duplicate_does_not_move_the_time_back(store):
    first = store.add("ann", memory("My car is on level 3.", hours=5))
    store.add("ann", memory("My car is on level 3.", hours=1))
    assert store.get("ann", first.id).time == T0 + timedelta(hours=5)


def test_a_changed_detail_is_not_a_duplicate(store):
    store.add("ann", memory("My car is on level 3."))
    store.add("ann", memory("My car is on level 4."))
    assert store.count("ann") == 2


def test_same_text_of_another_kind_is_kept_apart(store):
    store.add("ann", memory("Saw a red bicycle.", kind=MemoryKind.OBSERVATION))
    store.add("ann", memory("Saw a red bicycle.", kind=MemoryKind.EPISODIC))
    assert store.count("ann") == 2


def test_duplicates_within_one_batch_are_merged(store):
    stored = store.add_many(
        "ann",
        [
            memory("I left my keys on the counter."),
            memory("I left my keys on the counter!", hours=2),
        ],
    )
    assert stored[0].id == stored[1].id and store.count("ann") == 1


def test_bulk_import_can_skip_deduplication(store):
    store.add_many("ann", [memory("Same text."), memory("Same text.")], deduplicate=False)
    assert store.count("ann") == 2


def test_one_user_can_never_read_edit_or_delete_anothers_memory(store):
    secret = store.add("ann", memory("Ann's bank PIN is 9981."))
    store.add("bob", memory("Bob's car is on level 2."))
    assert {
        hit.memory.user for hit in store.search("bob", "Ann bank PIN 9981 car", now=T0, k=10)
    } == {"bob"}
    with pytest.raises(MemoryNotFoundError):
        store.get("bob", secret.id)
    with pytest.raises(MemoryNotFoundError):
        store.edit("bob", secret.id, MemoryChanges(text="hacked"))
    with pytest.raises(MemoryNotFoundError):
        store.delete("bob", secret.id)
    assert store.delete_all("bob") == 1
    assert store.get("ann", secret.id).text == "Ann's bank PIN is 9981."
    assert [m.id for m in store.list_memories("bob")] == [] and store.export("bob") == []


def test_search_never_returns_another_users_memory(store):
    store.add_many(
        "ann", [memory(f"Ann note {n} about peanuts.") for n in range(20)], deduplicate=False
    )
    store.add("bob", memory("Bob likes tea."))
    assert {hit.memory.user for hit in store.search("bob", "Ann peanuts tea", now=T0, k=50)} == {
        "bob"
    }


def test_full_text_finds_a_users_match_when_other_users_have_many_more(store):
    store.add_many(
        "ann", [memory(f"Ann bought oolong number {n}.") for n in range(80)], deduplicate=False
    )
    mine = store.add("bob", memory("Bob bought oolong."))
    hits = store.search("bob", "oolong", now=T0)
    assert [hit.memory.id for hit in hits] == [mine.id]
    assert hits[0].text_rank == 1


def test_missing_and_foreign_ids_raise_the_same_error(store):
    secret = store.add("ann", memory("Secret."))
    with pytest.raises(MemoryNotFoundError) as foreign:
        store.get("bob", secret.id)
    with pytest.raises(MemoryNotFoundError) as missing:
        store.get("bob", "no-such-id")
    assert str(foreign.value).replace(secret.id, "X") == str(missing.value).replace(
        "no-such-id", "X"
    )


def test_list_is_paged_newest_event_first(store):
    for hour in range(5):
        store.add("ann", memory(f"Event number {hour} happened.", hours=hour))
    first = store.list_memories("ann", limit=2)
    second = store.list_memories("ann", offset=2, limit=2)
    assert [m.text for m in first + second] == [f"Event number {h} happened." for h in (4, 3, 2, 1)]
    assert len(store.list_memories("ann", offset=4, limit=2)) == 1


def test_edit_reembeds_and_reindexes_the_text(store):
    stored = store.add("ann", memory("My car is on level 3."))
    edited = store.edit(
        "ann", stored.id, MemoryChanges(text="My scooter is by the fountain.", importance=0.9)
    )
    assert edited == store.get("ann", stored.id)
    assert (edited.text, edited.importance, edited.created) == (
        "My scooter is by the fountain.",
        0.9,
        stored.created,
    )
    assert top_texts(store, "ann", "scooter fountain", k=1) == ["My scooter is by the fountain."]
    assert store.search("ann", "car level", now=T0) == []


def test_edit_can_move_the_time_change_the_kind_and_clear_the_place(store):
    stored = store.add("ann", memory("Dentist on Tuesday.", place="Clinic"))
    edited = store.edit(
        "ann",
        stored.id,
        MemoryChanges(time=T0 + timedelta(days=2), kind=MemoryKind.EXPLICIT, clear_place=True),
    )
    assert (edited.time, edited.kind, edited.place) == (
        T0 + timedelta(days=2),
        MemoryKind.EXPLICIT,
        None,
    )
    assert store.get("ann", stored.id) == edited


def test_deleted_memory_is_gone_from_get_list_and_search(store):
    keep = store.add("ann", memory("I'm allergic to peanuts."))
    gone = store.add("ann", memory("The safe combination is zanzibar."))
    store.delete("ann", gone.id)
    with pytest.raises(MemoryNotFoundError):
        store.get("ann", gone.id)
    assert [m.id for m in store.list_memories("ann")] == [keep.id]
    assert store.search("ann", "safe combination zanzibar", now=T0) == []


def test_deleted_text_is_gone_from_the_fts_index(sqlite_store):
    store = sqlite_store
    gone = store.add("ann", memory("The safe combination is zanzibar."))
    store.delete("ann", gone.id)
    raw = sqlite3.connect(store.path)
    try:
        matches = raw.execute(
            "SELECT rowid FROM memories_fts WHERE memories_fts MATCH 'zanzibar'"
        ).fetchall()
    finally:
        raw.close()
    assert matches == []


def test_deleted_text_is_not_in_the_files_after_compaction(sqlite_store):
    store = sqlite_store
    secret = "The safe combination is quixotic-zanzibar-7731."
    gone = store.add("ann", memory(secret))
    store.add("ann", memory("I'm allergic to peanuts."))
    store.compact()
    assert secret.encode() in store.path.read_bytes()  # the check below can see text
    store.delete("ann", gone.id)
    store.compact()
    for path in store.path.parent.iterdir():
        data = path.read_bytes()
        assert secret.encode() not in data, path.name
        assert b"zanzibar" not in data, path.name
    assert top_texts(store, "ann", "peanuts") == ["I'm allergic to peanuts."]
    store.check_integrity()


def test_delete_all_forgets_only_that_user(store):
    store.add_many("ann", [memory("One."), memory("Two things."), memory("Three items.")])
    store.add("bob", memory("Bob's note."))
    assert store.delete_all("ann") == 3
    assert store.count("ann") == 0 and store.search("ann", "things", now=T0) == []
    assert store.count("bob") == 1


def test_retention_deletes_memories_older_than_max_age(open_store, embedder):
    with open_store(embedder, retention=RetentionPolicy(max_age=timedelta(days=30))) as store:
        old = store.add("ann", memory("Old thing.", hours=-24 * 40))
        new = store.add("ann", memory("New thing.", hours=-24 * 10))
        store.add("bob", memory("Bob's old thing.", hours=-24 * 40))
        assert store.enforce_retention(T0) == 2
        assert [m.id for m in store.export("ann")] == [new.id]
        assert store.count("bob") == 0
        assert all(hit.memory.id != old.id for hit in store.search("ann", "thing", now=T0))


def test_retention_keeps_only_the_newest_per_user(open_store, embedder):
    with open_store(embedder, retention=RetentionPolicy(max_count=2)) as store:
        for hour in range(4):
            store.add("ann", memory(f"Ann event {hour} passed.", hours=hour))
        store.add("bob", memory("Bob event."))
        assert store.enforce_retention(T0) == 2
        assert [m.text for m in store.list_memories("ann")] == [
            "Ann event 3 passed.",
            "Ann event 2 passed.",
        ]
        assert store.count("bob") == 1


def test_export_has_every_field_but_the_embedding(store):
    store.add("ann", memory("My car is on level 3.", source_id="s1", place="Mall"))
    (exported,) = [m.to_json() for m in store.export("ann")]
    assert set(exported) == {
        "id",
        "user",
        "kind",
        "text",
        "source",
        "source_id",
        "time",
        "place",
        "importance",
        "created",
        "updated",
        "slot",
        "replaced_by",
        "superseded_at",
        "context",
    }
    assert exported["time"] == "2025-03-01T12:00:00.000000Z"
    assert exported["created"] == "2025-06-01T08:00:00.000000Z"


def test_naive_times_and_bad_fields_are_refused():
    with pytest.raises(InvalidMemoryError, match="timezone"):
        NewMemory("text", time=datetime(2025, 1, 1))
    with pytest.raises(InvalidMemoryError, match="importance"):
        NewMemory("text", time=T0, importance=1.5)
    with pytest.raises(InvalidMemoryError, match="non-empty"):
        NewMemory("   ", time=T0)


def test_every_method_refuses_an_empty_user(store):
    with pytest.raises(InvalidMemoryError):
        store.add("", memory("x y"))
    with pytest.raises(InvalidMemoryError):
        store.search(" ", "x", now=T0)


def test_a_store_reopened_from_disk_finds_what_was_written(open_store, embedder):
    with open_store(embedder) as store:
        stored = store.add("ann", memory("I'm allergic to peanuts."))
    with open_store(embedder) as reopened:
        assert reopened.get("ann", stored.id) == stored
        assert top_texts(reopened, "ann", "peanuts") == ["I'm allergic to peanuts."]


def test_writes_by_another_connection_are_seen_by_search(open_store, embedder):
    with (
        open_store(embedder) as reader,
        open_store(embedder) as writer,
    ):
        reader.add("ann", memory("First note about tea."))
        assert len(reader.search("ann", "tea", now=T0)) == 1  # the reader's matrix is loaded
        extra = writer.add("ann", memory("Second note about tea leaves."))
        writer.delete("ann", reader.list_memories("ann")[-1].id)
        assert [hit.memory.id for hit in reader.search("ann", "tea", now=T0)] == [extra.id]


def test_opening_with_another_embedder_reembeds_the_store(open_store):
    with open_store(HashingEmbedder(dimension=32)) as store:
        store.add("ann", memory("I'm allergic to peanuts."))
    with open_store(HashingEmbedder(dimension=48)) as reopened:
        hits = reopened.search("ann", "peanuts", now=T0)
        assert [hit.memory.text for hit in hits] == ["I'm allergic to peanuts."]
        assert hits[0].vector_rank == 1
