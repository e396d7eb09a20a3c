"""`companion bench e2e --compare-modes`: first-token figures per mode from the turns' stages."""

from __future__ import annotations

import pytest

from companion.cli import main
from edge.session import TurnRecord
from protocol import AnswerDone, Sequencer, Stage
from simulators.bench_e2e import first_token_ms


def _turn(end_of_speech: float, prompt_ready: float, first_token: float) -> TurnRecord:
    stages = (
        Stage(name="end_of_speech", at=end_of_speech),
        Stage(name="prompt_ready", at=prompt_ready),
        Stage(name="first_token", at=first_token),
    )
    done = Sequencer("s").make(AnswerDone, turn_id=1, text="x", stages=stages)
    return TurnRecord(turn_id=1, done=done, answered_at=first_token + 1.0)


def test_first_token_is_measured_from_end_of_speech_and_from_the_prompt() -> None:
    turns = [_turn(0.0, 0.5, 0.75), _turn(10.0, 10.25, 11.0), _turn(20.0, 20.5, 21.0)]
    figures = first_token_ms(turns)
    assert figures["from_end_of_speech"] == {"p50": 1000.0, "p95": 1000.0}
    assert figures["from_prompt_ready"] == {"p50": 500.0, "p95": 750.0}


def test_turns_without_a_first_token_are_left_out() -> None:
    unanswered = TurnRecord(turn_id=2)
    assert first_token_ms([unanswered])["from_end_of_speech"] == {"p50": None, "p95": None}


def test_compare_modes_refuses_zero_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "e2e", "--compare-modes", "--runs", "0"]) == 2
    assert "--runs 0" in capsys.readouterr().err
