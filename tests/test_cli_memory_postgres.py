"""`companion memory … --store postgresql://…` and `companion memory migrate`: the same
commands on a real PostgreSQL, answering as the SQLite file does (MiniLM, loaded once)."""

from __future__ import annotations

import json
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud.memory import Embedder, MemoryKind, NewMemory, SqliteMemoryStore
from cloud.memory.user_data import user_file
from cloud.tools.postgres_store import PostgresTools
from cloud.tools.store import PriceSeen, ToolStore
from companion.cli import main
from gateway.history import History
from gateway.history_postgres import PostgresHistory

NOW = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)

MEMORIES = [
    {"text": "My car is on level 3.", "time": "2026-03-01T09:30:00Z", "source_id": "park-1"},
    {
        "text": "I'm allergic to peanuts.",
        "time": "2026-02-01T12:00:00Z",
        "source_id": "diet-1",
        "kind": "fact",
    },
    {"text": "My shoe size is 43.", "time": "2026-01-01T10:00:00Z", "source_id": "shoe-1"},
    {"text": "My shoe size is 44.", "time": "2026-02-10T10:00:00Z", "source_id": "shoe-2"},
    {"text": "Dinner with Ana on Friday.", "time": "2026-03-02T19:00:00Z", "source_id": "ana-1"},
]
QUERIES = [
    {"id": "park", "query": "where did I leave the automobile", "now": "2026-03-05T09:00:00Z"},
    {"id": "food", "query": "what can't I eat", "now": "2026-03-05T09:00:00Z"},
    {"id": "shoes", "query": "what is my shoe size", "now": "2026-03-05T09:00:00Z"},
]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return [line for line in out.splitlines() if line]


def _ranked(lines: list[str]) -> dict[str, list[str]]:
    return {
        (row := json.loads(line))["id"]: [hit["source_id"] for hit in row["results"]]
        for line in lines
    }


def test_search_with_store_and_after_migrate_ranks_as_the_sqlite_file_does(
    tmp_path: Path, postgres_dsn: str, capsys: pytest.CaptureFixture[str], minilm: Embedder
) -> None:
    memories = tmp_path / "add.jsonl"
    memories.write_text("\n".join(json.dumps(m) for m in MEMORIES) + "\n", encoding="utf-8")
    queries = tmp_path / "q.jsonl"
    queries.write_text("\n".join(json.dumps(q) for q in QUERIES) + "\n", encoding="utf-8")
    local = ["--data-dir", str(tmp_path / "data")]
    shared = ["--store", postgres_dsn]

    _run(capsys, "memory", "add", "--user", "cleo", *local, "--jsonl", str(memories))
    _run(capsys, "memory", "add", "--user", "dan", *shared, "--jsonl", str(memories))
    search = ["memory", "search", "--k", "3", "--jsonl", str(queries)]
    in_sqlite = _ranked(_run(capsys, *search, "--user", "cleo", *local))
    in_postgres = _ranked(_run(capsys, *search, "--user", "dan", *shared))
    assert in_sqlite["park"][0] == "park-1" and in_sqlite["food"][0] == "diet-1"
    assert in_postgres == in_sqlite

    _keep_everything_else(tmp_path / "data", "cleo", minilm)
    in_sqlite = _ranked(_run(capsys, *search, "--user", "cleo", *local))
    (report,) = _run(
        capsys, "memory", "migrate", "--user", "cleo", *local, "--to", postgres_dsn, "--json"
    )
    copied = json.loads(report)
    assert (copied["memories"], copied["copied"], copied["stored_at_target"]) == (7, 7, 7)
    assert copied["replaced_facts"] == 1
    assert (copied["tools_copied"], copied["history_copied"]) == (7, 2)
    _assert_tools_and_history_arrived(postgres_dsn, "cleo")
    migrated = _ranked(_run(capsys, *search, "--user", "cleo", *shared))
    assert migrated == in_sqlite

    exported = [
        json.loads(line) for line in _run(capsys, "memory", "export", "--user", "cleo", *local)
    ]
    again = [
        json.loads(line) for line in _run(capsys, "memory", "export", "--user", "cleo", *shared)
    ]
    assert again == exported  # ids, times and history copied as they were
    (rerun,) = _run(
        capsys, "memory", "migrate", "--user", "cleo", *local, "--to", postgres_dsn, "--json"
    )
    assert [json.loads(rerun)[key] for key in ("copied", "tools_copied", "history_copied")] == [
        0,
        0,
        0,
    ]
    _assert_tools_and_history_arrived(postgres_dsn, "cleo")


def _keep_everything_else(data_dir: Path, user: str, embedder: Embedder) -> None:
    """A fact and the fact that replaced it, one of every kind of the user's tools' data,
    and two History turns (one with its keyframe)."""
    path = user_file(data_dir, user)
    with SqliteMemoryStore(path, embedder) as memory:
        for number, hours in ((12, 0), (31, 5)):
            memory.add(
                user,
                NewMemory(
                    f"My locker is number {number}.",
                    time=NOW - timedelta(days=2, hours=-hours),
                    kind=MemoryKind.FACT,
                    slot="my locker",
                ),
            )
    tools = ToolStore(path, user)
    try:
        tools.add_note("buy stamps", NOW)
        tools.add_items(["oat milk", "bread"], NOW)
        tools.add_reminder("call the dentist", NOW + timedelta(days=1), NOW, "reminder")
        tools.add_price(PriceSeen("oat milk", "5000000000001", 1.8, "£1.80", "Corner Shop", NOW))
        tools.start_trip(NOW, "Corner Shop")
        tools.take("oat milk", 1.8, NOW)
    finally:
        tools.close()
    (data_dir / "gateway").mkdir()
    history = History(data_dir / "gateway" / "history.sqlite", clock=NOW.timestamp)
    history.record_question(user, "s1", 1, "what does this say?")
    history.record_keyframe(user, "s1", 1, b"jpeg bytes")
    history.record_answer(user, "s1", 1, "It says EXIT.", "fast", 640.0)
    history.record_question(user, "s1", 2, "how much was this last time?")
    history.close()


def _assert_tools_and_history_arrived(dsn: str, user: str) -> None:
    with closing(PostgresTools(dsn)) as shared:
        tools = shared.store(user)
        assert tools.notes() == ["buy stamps"]
        assert tools.items() == ["oat milk", "bread"]
        assert [r.text for r in tools.pending_reminders()] == ["call the dentist"]
        assert [(p.product, p.price, p.seen) for p in tools.prices()] == [("oat milk", 1.8, NOW)]
        assert tools.trip() == (NOW, "Corner Shop")
        assert [t.product for t in tools.basket(NOW)] == ["oat milk"]
    history = PostgresHistory(dsn)
    try:
        newest, first = history.turns(user)
        assert (first.question, first.answer, newest.question) == (
            "what does this say?",
            "It says EXIT.",
            "how much was this last time?",
        )
        assert history.keyframe(user, first.id) == b"jpeg bytes"
    finally:
        history.close()


def test_migrate_refuses_a_user_without_memories_and_a_non_postgresql_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "memory",
                "migrate",
                "--user",
                "nobody",
                "--data-dir",
                str(tmp_path),
                "--to",
                "postgresql://127.0.0.1/x",
            ]
        )
        == 2
    )
    assert "no memories" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["memory", "migrate", "--user", "x", "--to", "/tmp/file.sqlite"])
    assert refused.value.code == 2
