"""`companion eval` on bad input, and its progress bar: no models needed."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from companion.cli import main
from companion.cli_eval import ProgressBar


def test_a_missing_suite_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--suite", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nowhere: no such directory" in err[0]


def test_an_empty_suite_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--suite", str(tmp_path)]) == 2
    assert "no *.json scenario files" in capsys.readouterr().err


def test_a_suite_of_invalid_files_names_each_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"name": "a", "steps": [{"audio": "gone.wav"}]}))
    (tmp_path / "b.json").write_text("{not json")
    report = tmp_path / "report.html"
    assert main(["eval", "--suite", str(tmp_path), "--json", "--report", str(report)]) == 1
    captured = capsys.readouterr()
    assert "a.json: steps[0].audio: media file not found: gone.wav" in captured.err
    assert "b.json: not valid JSON" in captured.err
    data = json.loads(captured.out)
    assert not data["passed"] and data["scenarios"] == 2 and data["scenarios_passed"] == 0
    assert "gone.wav" in report.read_text()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_on_a_terminal_only() -> None:
    terminal = _Terminal()
    bar = ProgressBar(terminal, width=10)
    bar(1, 2, "read-a-sign", True)
    bar(2, 2, "no-speech", False)
    drawn = terminal.getvalue()
    assert "[█████·····] 1/2  failed 0" in drawn
    assert "[██████████] 2/2  failed 1" in drawn and drawn.endswith("\n")
    piped = io.StringIO()
    ProgressBar(piped)(1, 1, "x", True)
    assert piped.getvalue() == ""
