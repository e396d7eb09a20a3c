"""The app's History kept right by both backends: the gateway's SQLite file and a real
PostgreSQL 15 (tests/postgres.py) that several gateways share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.history import History, StoredTurn, open_history
from gateway.history_postgres import HistoryStoreError, PostgresHistory

T0 = 1_760_000_000.0
OpenHistory = Callable[..., History]


def by_turn(turn: StoredTurn) -> tuple[str, int]:
    return turn.session_id, turn.turn_id


@pytest.fixture(params=["sqlite", "postgresql"])
def open_one(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenHistory]:
    """Opens a History of the test's backend; all it opens in one test share their turns."""
    opened: list[History] = []

    def make(clock: Callable[[], float] = lambda: T0) -> History:
        if request.param == "sqlite":
            made = History(tmp_path / "history.sqlite", clock=clock)
        else:
            made = PostgresHistory(request.getfixturevalue("postgres_dsn"), clock=clock)
        opened.append(made)
        return made

    yield make
    for made in opened:
        made.close()


def test_a_turn_is_built_from_its_question_keyframe_and_answer(open_one: OpenHistory) -> None:
    history = open_one()
    history.record_question("alice", "s1", 1, "what does this say?")
    history.record_keyframe("alice", "s1", 1, b"\xff\xd8jpeg")
    history.record_answer("alice", "s1", 1, "It says EXIT.", "fast", 812.5)
    history.record_question("alice", "s1", 2, "and this?")

    second, first = history.turns("alice")
    assert (first.question, first.answer, first.mode, first.latency_ms) == (
        "what does this say?",
        "It says EXIT.",
        "fast",
        812.5,
    )
    assert first.has_keyframe and not second.has_keyframe and second.turn_id == 2
    assert history.keyframe("alice", first.id) == b"\xff\xd8jpeg"
    assert history.keyframe("alice", second.id) is None


def test_no_user_reads_or_deletes_another_users_turns(open_one: OpenHistory) -> None:
    history = open_one()
    history.record_question("alice", "s1", 1, "my locker code?")
    history.record_keyframe("alice", "s1", 1, b"jpeg")
    (turn,) = history.turns("alice")

    assert history.turns("bob") == []
    assert history.keyframe("bob", turn.id) is None
    assert history.delete_all("bob") == 0
    assert history.delete_all("alice") == 1
    assert history.turns("alice") == []


def test_retention_forgets_only_the_users_old_turns(open_one: OpenHistory) -> None:
    back_then = open_one(clock=lambda: T0 - 10 * 86_400)
    back_then.record_question("alice", "s1", 1, "old question")
    back_then.record_question("bob", "s1", 1, "bob's old question")
    history = open_one()
    history.record_question("alice", "s2", 1, "new question")

    assert history.enforce_retention("alice", 7 * 86_400) == 1
    assert [t.question for t in history.turns("alice")] == ["new question"]
    assert [t.question for t in history.turns("bob")] == ["bob's old question"]


def test_turns_copy_into_either_backend_and_a_rerun_adds_nothing(
    open_one: OpenHistory, tmp_path: Path
) -> None:
    source = History(tmp_path / "source.sqlite", clock=lambda: T0)
    source.record_question("alice", "s1", 1, "what does this say?")
    source.record_keyframe("alice", "s1", 1, b"jpeg bytes")
    source.record_answer("alice", "s1", 1, "EXIT", "fast", None)
    source.record_question("alice", "s2", 7, "where are my keys?")
    source.record_question("bob", "s3", 1, "not alice's")
    turns = source.export_turns("alice")
    source.close()
    target = open_one()
    target.record_question("alice", "s2", 7, "where are my keys?")  # already there

    assert target.import_turns("alice", turns) == 1
    assert target.import_turns("alice", turns) == 0
    assert sorted(target.export_turns("alice"), key=by_turn) == sorted(turns, key=by_turn)
    assert turns[0] == StoredTurn(
        "s1", 1, T0, "what does this say?", "EXIT", "fast", None, b"jpeg bytes"
    )
    assert target.turns("bob") == []


def test_two_gateways_on_one_database_show_one_history(postgres_dsn: str, tmp_path: Path) -> None:
    first = open_history(tmp_path / "a.sqlite", store=postgres_dsn)
    second = open_history(tmp_path / "b.sqlite", store=postgres_dsn)
    try:
        first.record_question("alice", "s1", 1, "asked through the first gateway")
        second.record_answer("alice", "s1", 1, "answered through the second", "fast", 5.0)
        (turn,) = second.turns("alice")
        assert (turn.question, turn.answer) == (
            "asked through the first gateway",
            "answered through the second",
        )
        assert not (tmp_path / "a.sqlite").exists()
    finally:
        first.close()
        second.close()


def test_an_unreachable_history_database_is_one_clear_error() -> None:
    with pytest.raises(HistoryStoreError, match="cannot open History in PostgreSQL"):
        PostgresHistory("postgresql://nobody@127.0.0.1:1/none", connect_timeout_s=1.0)
