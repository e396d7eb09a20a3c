"""`companion memory add|search|export|delete`: JSON lines in, JSON lines out, bad input loses nothing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from cloud.memory.user_data import user_file
from companion.cli import main

LINES = [
    {"text": "My car is on level 3.", "time": "2026-03-01T09:30:00Z", "source_id": "park-1"},
    {
        "text": "I'm allergic to peanuts.",
        "time": "2026-02-01T12:00:00Z",
        "source_id": "diet-1",
        "kind": "fact",
    },
    {
        "text": "My sister's name is Ana.",
        "time": "2026-01-05T18:00:00+01:00",
        "source_id": "family-1",
    },
]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, [line for line in out.splitlines() if line], err


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("companion-data")


def test_add_search_export_delete_round_trip(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    memories = _write(tmp_path / "add.jsonl", [json.dumps(line) for line in LINES])
    queries = _write(
        tmp_path / "q.jsonl",
        [
            json.dumps({"id": "q1", "query": "where did I park"}),
            json.dumps({"id": 2, "query": "what can't I eat"}),
        ],
    )
    common = ["--user", "alice", "--data-dir", str(data_dir)]

    code, out, _ = _run(capsys, "memory", "add", *common, "--jsonl", str(memories))
    assert code == 0 and json.loads(out[0]) == {"user": "alice", "added": 3}

    code, out, _ = _run(capsys, "memory", "search", *common, "--k", "2", "--jsonl", str(queries))
    assert code == 0
    first, second = (json.loads(line) for line in out)
    assert first["id"] == "q1" and first["results"][0]["source_id"] == "park-1"
    assert second["id"] == 2 and second["results"][0]["source_id"] == "diet-1"
    assert len(first["results"]) <= 2 and {"source_id", "score", "text"} <= set(first["results"][0])

    code, out, _ = _run(capsys, "memory", "export", *common)
    exported = [json.loads(line) for line in out]
    assert [m["source_id"] for m in exported] == ["family-1", "diet-1", "park-1"]  # oldest first
    assert exported[0]["time"] == "2026-01-05T17:00:00.000000Z"
    assert {m["kind"] for m in exported} == {"explicit", "fact"}

    code, out, _ = _run(capsys, "memory", "export", "--user", "bob", "--data-dir", str(data_dir))
    assert code == 0 and out == []  # another user sees nothing

    code, out, _ = _run(capsys, "memory", "delete", *common)
    assert code == 0 and json.loads(out[0]) == {"user": "alice", "deleted": 3}
    assert _run(capsys, "memory", "export", *common)[1] == []
    raw = user_file(data_dir, "alice").read_bytes()
    assert b"level 3" not in raw and b"peanuts" not in raw  # gone from the disk too


def test_a_bad_line_is_a_usage_error_naming_it_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--user", "carol", "--data-dir", str(tmp_path)]
    good = _write(tmp_path / "good.jsonl", [json.dumps(LINES[0])])
    assert _run(capsys, "memory", "add", *common, "--jsonl", str(good))[0] == 0
    bad = _write(tmp_path / "bad.jsonl", [json.dumps(LINES[1]), '{"text": "half a line'])

    code, out, err = _run(capsys, "memory", "add", *common, "--jsonl", str(bad))

    assert code == 2 and out == []
    assert err.count("\n") == 1 and "line 2" in err and "nothing from the file was written" in err
    kept = [json.loads(line) for line in _run(capsys, "memory", "export", *common)[1]]
    assert [m["source_id"] for m in kept] == ["park-1"]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"text": "x", "time": "yesterday", "source_id": "a"}', "not ISO 8601"),
        ('{"text": "x", "time": "2026-03-01T09:30:00", "source_id": "a"}', "no timezone"),
        ('{"text": "x", "time": "2026-03-01T09:30:00Z"}', "missing source_id"),
        ('["a list"]', "expected a JSON object"),
    ],
)
def test_each_kind_of_bad_line_says_what_is_wrong(
    line: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "in.jsonl", [line])
    code, _, err = _run(
        capsys,
        "memory",
        "add",
        "--user",
        "dan",
        "--data-dir",
        str(tmp_path),
        "--jsonl",
        str(source),
    )
    assert code == 2 and problem in err


def test_a_corrupt_store_is_one_clear_line_and_is_left_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = user_file(tmp_path, "erin")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00garbage" * 512)

    code, out, err = _run(capsys, "memory", "export", "--user", "erin", "--data-dir", str(tmp_path))

    assert code == 1 and out == []
    assert err.startswith("companion: cannot open the memory store") and err.count("\n") == 1
    assert path.read_bytes() == b"\x00garbage" * 512


def test_missing_input_file_and_bad_k_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--user", "fay", "--data-dir", str(tmp_path)]
    assert _run(capsys, "memory", "add", *common, "--jsonl", str(tmp_path / "nope.jsonl"))[0] == 2
    queries = _write(tmp_path / "q.jsonl", [json.dumps({"id": 1, "query": "x"})])
    assert _run(capsys, "memory", "search", *common, "--k", "0", "--jsonl", str(queries))[0] == 2


def test_the_cloud_and_the_cli_share_the_users_file(tmp_path: Path) -> None:
    from cloud.memory import HashingEmbedder
    from cloud.memory.user_data import UserDirectory

    directory = UserDirectory(tmp_path, HashingEmbedder())
    directory.open("gus").tools.add_items(
        ["milk"], __import__("datetime").datetime.now().astimezone()
    )
    directory.close()
    with sqlite3.connect(user_file(tmp_path, "gus")) as db:
        tables = {
            row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    assert {"memories", "reminders", "notes", "shopping"} <= tables
