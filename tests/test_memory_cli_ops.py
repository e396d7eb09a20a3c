"""The JSON-lines operations behind `companion memory`: validation first, then one transaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from cloud.memory import HashingEmbedder, InvalidMemoryError, MemoryKind, SqliteMemoryStore
from cloud.memory.cli_ops import add_jsonl, delete_user, export, search_jsonl

NOW = datetime(2025, 3, 21, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    with SqliteMemoryStore(tmp_path / "memory.db", HashingEmbedder()) as opened:
        yield opened


def line(**fields):
    return json.dumps(fields)


GOOD = [
    line(text="My car is on level 3.", time="2025-03-08T10:05:00Z", source_id="s3-01"),
    line(
        text="I'm allergic to peanuts.",
        time="2025-03-03T07:10:00+01:00",
        source_id="s1-01",
        kind="fact",
        place="home",
        importance=0.9,
    ),
    "",
    line(
        text="Saw a red bicycle outside the bakery.",
        time="2025-03-18T11:15:00Z",
        source_id="s7-01",
        kind="observation",
    ),
]


def test_add_jsonl_stores_every_line_with_its_fields(store):
    assert add_jsonl(store, "ann", GOOD) == 3
    by_source = {m.source_id: m for m in store.export("ann")}
    allergy = by_source["s1-01"]
    assert (allergy.kind, allergy.place, allergy.importance, allergy.source) == (
        MemoryKind.FACT,
        "home",
        0.9,
        "cli",
    )
    assert allergy.time == datetime(2025, 3, 3, 6, 10, tzinfo=UTC)  # the offset is applied
    assert by_source["s3-01"].kind is MemoryKind.EXPLICIT  # the owner added it by hand


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "line 3: not valid JSON"),
        ("[1, 2]", "line 3: expected a JSON object"),
        (line(time="2025-03-01T00:00:00Z", source_id="x"), "line 3: missing text"),
        (
            line(text="t", time="yesterday", source_id="x"),
            "line 3: time 'yesterday' is not ISO 8601",
        ),
        (
            line(text="t", time="2025-03-01T09:00:00", source_id="x"),
            "line 3: time .* has no timezone",
        ),
        (
            line(text="t", time="2025-03-01T09:00:00Z", source_id="x", importance=2),
            "line 3: importance",
        ),
        (
            line(text="t", time="2025-03-01T09:00:00Z", source_id="x", kind="dream"),
            "line 3: kind 'dream'",
        ),
        (
            line(text="t", time="2025-03-01T09:00:00Z", source_id="x", palce="home"),
            "line 3: unknown field.* palce",
        ),
        (
            line(text="t", time="2025-03-01T09:00:00Z", source_id=7),
            "line 3: source_id must be a string",
        ),
    ],
)
def test_a_bad_line_is_named_and_nothing_from_the_file_is_written(store, bad, message):
    lines = [GOOD[0], GOOD[1], bad, GOOD[3]]
    with pytest.raises(InvalidMemoryError, match=message) as error:
        add_jsonl(store, "ann", lines)
    assert "nothing from the file was written" in str(error.value)
    assert store.count("ann") == 0


def test_search_jsonl_returns_ranked_results_per_query(store):
    add_jsonl(store, "ann", GOOD)
    queries = [line(id="q1", query="peanuts allergy"), line(id=2, query="red bicycle bakery")]
    results = list(search_jsonl(store, "ann", 2, queries, now=NOW))
    assert [r["id"] for r in results] == ["q1", 2]
    first = results[0]["results"]
    assert first[0] == {
        "source_id": "s1-01",
        "score": first[0]["score"],
        "text": "I'm allergic to peanuts.",
        "time": first[0]["time"],
    }
    assert len(first) <= 2 and [r["score"] for r in first] == sorted(
        (r["score"] for r in first), reverse=True
    )
    assert results[1]["results"][0]["source_id"] == "s7-01"


def test_search_jsonl_validates_every_line_before_searching(store):
    add_jsonl(store, "ann", GOOD)
    with pytest.raises(InvalidMemoryError, match="line 2: query must be a non-empty string"):
        search_jsonl(store, "ann", 5, [line(id="q1", query="car"), line(id="q2", query="")])


def test_export_is_json_ready_and_has_no_embedding(store):
    add_jsonl(store, "ann", GOOD)
    exported = export(store, "ann")
    json.dumps(exported)
    assert [m["source_id"] for m in exported] == ["s1-01", "s3-01", "s7-01"]  # oldest first
    assert all("embedding" not in m for m in exported)


def test_delete_user_forgets_that_user_only(store):
    add_jsonl(store, "ann", GOOD)
    add_jsonl(store, "bob", GOOD[:1])
    assert delete_user(store, "ann") == 3
    assert export(store, "ann") == [] and len(export(store, "bob")) == 1


def test_a_question_about_a_past_day_searches_only_that_day(store):
    add_jsonl(
        store,
        "ann",
        [
            line(
                text="Fixed the bike's brakes with Omar.",
                time="2025-03-11T10:00:00Z",
                source_id="tue",
            ),
            line(
                text="Fixed the garden gate with Omar.",
                time="2025-03-08T10:00:00Z",
                source_id="sat",
            ),
        ],
    )
    asked = [line(id="q", query="what did I fix last Tuesday?", now="2025-03-12T09:00:00Z")]
    (result,) = search_jsonl(store, "ann", 5, asked)
    assert [r["source_id"] for r in result["results"]] == ["tue"]
