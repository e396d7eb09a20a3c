"""Facts that stay right: nothing of a request is lost, newer facts replace older ones,
and a fact stays about whoever it is about (hashing embedder, real SQLite)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from cloud.memory import (
    HashingEmbedder,
    MemoryChanges,
    SqliteMemoryStore,
    extract_facts,
)
from cloud.memory.facts import fact_slot

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def texts(utterance: str) -> list[str]:
    return [fact.text for fact in extract_facts(utterance)]


@pytest.fixture
def store(tmp_path):
    with SqliteMemoryStore(tmp_path / "memory.db", HashingEmbedder()) as opened:
        yield opened


def tell(store, utterance, *, days=0.0, user="ann"):
    memories = [fact.to_memory(time=T0 + timedelta(days=days)) for fact in extract_facts(utterance)]
    assert memories, f"no fact in {utterance!r}"
    return store.add_many(user, memories)


def current_texts(store, query, user="ann"):
    return [hit.memory.text for hit in store.search(user, query, now=T0 + timedelta(days=30))]


# -- extraction ---------------------------------------------------------------


def test_a_remember_request_with_an_abbreviation_is_stored_whole():
    assert texts("Remember that my doctor is Dr. Okafor at the Elm Street clinic.") == [
        "My doctor is Dr. Okafor at the Elm Street clinic."
    ]


def test_a_remember_request_no_rule_can_shorten_is_kept_whole_not_cut_at_a_clause():
    assert texts(
        "Remember that I can't have citrus, e.g. lemons and oranges, because of my reflux."
    ) == ["I can't have citrus, e.g. lemons and oranges, because of my reflux."]


def test_sentences_after_a_remember_request_join_it_instead_of_being_dropped():
    assert texts("Remember that my vet is Dr. Bianchi. She's at the Mill Road surgery.") == [
        "My vet is Dr. Bianchi. She's at the Mill Road surgery."
    ]


@pytest.mark.parametrize(
    ("utterance", "fact"),
    [
        ("My favourite author is J. R. R. Tolkien.", "My favourite author is J. R. R. Tolkien."),
        ("My landlord's name is Mr. Okafor.", "My landlord's name is Mr. Okafor."),
        (
            "My office is at 120 Park Ave. in Manhattan.",
            "My office is at 120 Park Ave. in Manhattan.",
        ),
        ("Remember that my dose is 3.5 mg a day.", "My dose is 3.5 mg a day."),
        (
            "Remember that my dentist appointment is at 9.30 a.m. on Friday.",
            "My dentist appointment is at 9.30 a.m. on Friday.",
        ),
    ],
)
def test_abbreviations_decimals_and_initials_survive_extraction(utterance, fact):
    assert texts(utterance) == [fact]


@pytest.mark.parametrize(
    ("utterance", "fact"),
    [
        ("Amelia prefers red Rioja.", "Amelia prefers red Rioja."),
        ("My husband is allergic to shellfish.", "My husband is allergic to shellfish."),
        ("My son's shoe size is 34.", "My son's shoe size is 34."),
        ("Tom's birthday is on 3 May.", "Tom's birthday is on 3 May."),
        ("My mum lives in Cardiff.", "My mum lives in Cardiff."),
        ("Priya takes her coffee black.", "Priya takes her coffee black."),
    ],
)
def test_facts_about_other_people_keep_their_subject(utterance, fact):
    assert texts(utterance) == [fact]


@pytest.mark.parametrize(
    ("utterance", "fact"),
    [
        ("my shoe size is now 44", "My shoe size is 44."),
        ("I moved to Leeds last month.", "I live in Leeds."),
        ("They reset it, my gym locker code is now 5170.", "My gym locker code is 5170."),
        ("I've changed dentists, my dentist is now Dr Lindqvist.", "My dentist is Dr Lindqvist."),
        ("My manager is now called Tomasz.", "My manager's name is Tomasz."),
        ("The wifi password is BlueHarbor77.", "The wifi password is BlueHarbor77."),
    ],
)
def test_updates_are_stated_as_the_fact_as_it_now_stands(utterance, fact):
    assert texts(utterance) == [fact]


@pytest.mark.parametrize(
    "utterance",
    [
        "The weather is nice.",
        "The code is wrong.",
        "My phone is dead.",
        "My PIN for the bank card is not something I'll tell you.",
        "The plan is to go.",
        "They love it.",
        "If my shoe size is 44, these won't fit.",
    ],
)
def test_sentences_that_only_look_like_attributes_are_not_facts(utterance):
    assert texts(utterance) == []


def test_two_phrasings_of_one_thing_share_a_slot_and_different_things_do_not():
    assert fact_slot("My shoe size is 43.") == fact_slot("My shoe size is 44.") == "my shoe size"
    assert fact_slot("I live in York.") == fact_slot(texts("I moved to Leeds.")[0]) == "i live"
    assert fact_slot("I left my keys on the counter.") == fact_slot("My keys are in the drawer.")
    assert fact_slot("My shirt size is medium.") != fact_slot("My shoe size is 43.")
    assert fact_slot("My son's shoe size is 34.") != fact_slot("My shoe size is 43.")
    assert fact_slot("I'm allergic to peanuts.") is None  # allergies add up


# -- supersession in the store -------------------------------------------------


def test_a_new_fact_replaces_the_old_one_which_stays_as_history(store):
    (old,) = tell(store, "My shoe size is 43.")
    (new,) = tell(store, "Actually my shoe size is now 44.", days=10)

    assert current_texts(store, "shoe size") == ["My shoe size is 44."]
    history = store.get("ann", old.id)
    assert history.replaced_by == new.id
    assert history.superseded_at == new.time
    exported = {m["text"]: m for m in (m.to_json() for m in store.export("ann"))}
    assert exported["My shoe size is 43."]["replaced_by"] == new.id
    assert exported["My shoe size is 44."]["replaced_by"] is None


def test_moving_replaces_where_the_wearer_lives(store):
    tell(store, "I live in York.")
    tell(store, "I moved to Leeds last month.", days=200)
    assert current_texts(store, "where do I live") == ["I live in Leeds."]


def test_a_fact_about_another_slot_or_person_is_not_replaced(store):
    tell(store, "My shoe size is 43.")
    tell(store, "My shirt size is medium.", days=1)
    tell(store, "My son's shoe size is 34.", days=2)
    assert sorted(current_texts(store, "size")) == [
        "My shirt size is medium.",
        "My shoe size is 43.",
        "My son's shoe size is 34.",
    ]


def test_a_fact_told_about_an_earlier_time_does_not_replace_a_newer_one(store):
    tell(store, "My gym locker code is 5170.", days=10)
    (late,) = tell(store, "My gym locker code is 4815.", days=1)
    assert late.replaced
    assert current_texts(store, "gym locker code") == ["My gym locker code is 5170."]


def test_the_same_fact_told_again_merges_with_the_first(store):
    (first,) = tell(store, "My shoe size is 44.")
    (again,) = tell(store, "Remember that my shoe size is 44.", days=5)
    assert again.id == first.id
    assert again.time == T0 + timedelta(days=5)
    assert store.count("ann") == 1


def test_supersession_stays_inside_one_user(store):
    tell(store, "My shoe size is 43.", user="ann")
    tell(store, "My shoe size is 39.", user="bob", days=3)
    assert current_texts(store, "shoe size", user="ann") == ["My shoe size is 43."]


def test_a_replaced_fact_can_still_be_edited_and_deleted_by_its_owner(store):
    (old,) = tell(store, "My shoe size is 43.")
    tell(store, "My shoe size is 44.", days=1)
    edited = store.edit("ann", old.id, MemoryChanges(text="My shoe size was 43."))
    assert edited.replaced_by is not None
    store.delete("ann", old.id)
    assert current_texts(store, "shoe size") == ["My shoe size is 44."]


_OLD_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE memories (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, user_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('episodic', 'observation', 'fact', 'explicit')),
    text TEXT NOT NULL, source TEXT NOT NULL, source_id TEXT, time TEXT NOT NULL, place TEXT,
    importance REAL NOT NULL CHECK (importance BETWEEN 0.0 AND 1.0),
    created TEXT NOT NULL, updated TEXT NOT NULL, embedding BLOB NOT NULL
);
CREATE VIRTUAL TABLE memories_fts USING fts5(
    text, place, content = 'memories', content_rowid = 'seq',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, text, place) VALUES (new.seq, new.text, new.place);
END;
"""


def test_a_store_from_before_slots_is_migrated_and_its_facts_can_be_replaced(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(_OLD_SCHEMA)
        conn.execute(
            "INSERT INTO memories VALUES (1, 'old-id', 'ann', 'fact', 'My shoe size is 43.',"
            " 'conversation', NULL, '2026-01-01T09:00:00.000000Z', NULL, 0.6,"
            " '2026-01-01T09:00:00.000000Z', '2026-01-01T09:00:00.000000Z', x'00')"
        )
    with SqliteMemoryStore(path, HashingEmbedder()) as store:
        assert store.get("ann", "old-id").slot == "my shoe size"
        tell(store, "My shoe size is 44.")
        assert store.get("ann", "old-id").replaced_by is not None
        assert current_texts(store, "shoe size") == ["My shoe size is 44."]
        store.check_integrity()
    with SqliteMemoryStore(path, HashingEmbedder()) as reopened:  # migrating twice is harmless
        assert reopened.count("ann") == 2


@pytest.mark.parametrize(
    ("utterance", "fact", "slot"),
    [
        (
            "Changed it: my PIN for the gym app is 9090.",
            "My PIN for the gym app is 9090.",
            "my pin for the gym app",
        ),
        (
            "My flight leaves at 6.45 a.m. on Thursday.",
            "My flight leaves at 6.45 a.m. on Thursday.",
            "when:my flight leaves",
        ),
        ("Moved the car, it's on level 4 now.", "My car is on level 4 now.", "where:my car"),
        (
            "My blood pressure target is 130 over 80.",
            "My blood pressure target is 130 over 80.",
            "my blood pressure target",
        ),
        ("My new manager is Mr. Banks.", "My new manager is Mr. Banks.", "my manager"),
    ],
)
def test_phrasings_found_by_the_held_out_cases_are_facts_with_their_slot(utterance, fact, slot):
    (found,) = extract_facts(utterance)
    assert (found.text, found.slot) == (fact, slot)


def test_a_new_manager_replaces_the_old_one(store):
    tell(store, "My manager is Mrs. Cole.")
    tell(store, "My new manager is Mr. Banks.", days=30)
    assert current_texts(store, "manager") == ["My new manager is Mr. Banks."]


def test_a_thing_of_any_name_is_a_fact_only_when_its_value_is_a_number_or_a_name():
    assert texts("My cholesterol is 4.2.") == ["My cholesterol is 4.2."]
    assert texts("My head is killing me.") == []
    assert texts("My day is going well.") == []
