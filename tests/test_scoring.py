"""Scoring functions: each expectation read off what a replay returned."""

from __future__ import annotations

from edge.runtime import EdgeStats
from edge.session import SessionSummary, TurnRecord
from protocol import AnswerDone
from simulators.scenarios import Expectation
from simulators.scoring import SCORERS, StepOutcome, score_step


def _done(text: str, *, mode: str = "fast", interrupted: bool = False) -> AnswerDone:
    return AnswerDone(
        session_id="s", seq=1, sent_at=0.0, turn_id=1, text=text, mode=mode, interrupted=interrupted
    )


def _outcome(
    transcript: str | None = "what does this sign say",
    answer: str | None = "It says Platform 9.",
    *,
    mode: str = "fast",
    interrupted: bool = False,
    errors: list[str] | None = None,
    stats: EdgeStats | None = None,
    **fields: object,
) -> StepOutcome:
    turns = []
    if transcript is not None or answer is not None:
        turn = TurnRecord(1, transcript=transcript)
        if answer is not None:
            turn.answer = answer
            turn.done = _done(answer, mode=mode, interrupted=interrupted)
        turns.append(turn)
    summary = SessionSummary(
        turns=turns,
        stats=stats or EdgeStats(),
        bytes_upstream=12_345,
        messages_upstream=9,
        errors=errors or [],
    )
    return StepOutcome(summary=summary, **fields)  # type: ignore[arg-type]


def _check(exp: Expectation, out: StepOutcome) -> tuple[bool, str]:
    (check,) = score_step(exp, out)
    return check.passed, check.detail


def test_transcript_must_hold_every_word_case_insensitively() -> None:
    assert _check(Expectation(transcript_contains=("SIGN", "say")), _outcome())[0]
    passed, detail = _check(Expectation(transcript_contains=("sign", "platform")), _outcome())
    assert not passed and "platform" in detail


def test_answer_needs_any_one_of_the_words() -> None:
    assert _check(Expectation(answer_contains_any=("brighton", "9")), _outcome())[0]
    assert not _check(Expectation(answer_contains_any=("brighton",)), _outcome())[0]
    assert not _check(Expectation(answer_contains_any=("9",)), _outcome(answer=None))[0]


def test_no_answer_passes_only_when_nothing_was_answered() -> None:
    assert _check(Expectation(no_answer=True), _outcome(transcript=None, answer=None))[0]
    assert not _check(Expectation(no_answer=True), _outcome())[0]
    assert _check(Expectation(no_answer=False), _outcome())[0]


def test_uploaded_faces_over_the_limit_fail() -> None:
    assert _check(Expectation(max_uploaded_faces=0), _outcome(uploaded_faces=0))[0]
    passed, detail = _check(Expectation(max_uploaded_faces=0), _outcome(uploaded_faces=2))
    assert not passed and "2 face" in detail


def test_keyframes_and_bytes_have_ceilings() -> None:
    sent = EdgeStats(keyframes_sent=1)
    assert not _check(Expectation(max_keyframes=0), _outcome(stats=sent))[0]
    assert _check(Expectation(max_keyframes=1), _outcome(stats=sent))[0]
    assert _check(Expectation(max_bytes_upstream=20_000), _outcome())[0]
    assert not _check(Expectation(max_bytes_upstream=1_000), _outcome())[0]


def test_interrupted_reads_the_answer_done_flag() -> None:
    assert _check(Expectation(interrupted=True), _outcome(interrupted=True))[0]
    assert not _check(Expectation(interrupted=True), _outcome())[0]
    assert _check(Expectation(interrupted=False), _outcome())[0]


def test_tool_and_memory_read_what_the_harness_looked_up() -> None:
    used = _outcome(tools_used=frozenset({"reminder"}), memories=("Parked on level 3",))
    assert _check(Expectation(tool="reminder"), used)[0]
    assert not _check(Expectation(tool="shopping_list"), used)[0]
    assert _check(Expectation(memory_contains=("LEVEL 3",)), used)[0]
    assert not _check(Expectation(memory_contains=("garage",)), used)[0]


def test_answer_mode_must_match_every_answer() -> None:
    assert _check(Expectation(answer_mode="local"), _outcome(mode="local"))[0]
    assert not _check(Expectation(answer_mode="reasoning"), _outcome())[0]
    assert not _check(Expectation(answer_mode="fast"), _outcome(answer=None))[0]


def test_word_error_rate_uses_the_normalised_reference() -> None:
    out = _outcome(transcript="Go forward 10 metres.", reference="go forward ten meters")
    assert out.wer() == (0, 4)
    assert _check(Expectation(max_wer=0.0), out)[0]
    wrong = _outcome(transcript="go backward ten meters", reference="go forward ten meters")
    passed, detail = _check(Expectation(max_wer=0.2), wrong)
    assert not passed and "0.25" in detail


def test_segment_count_is_vad_accuracy() -> None:
    assert _check(Expectation(segments=1), _outcome(stats=EdgeStats(segments=1)))[0]
    assert not _check(Expectation(segments=1), _outcome(stats=EdgeStats(segments=2)))[0]


def test_session_errors_fail_a_step_that_wanted_an_answer() -> None:
    checks = score_step(Expectation(), _outcome(errors=["no answer within 90 s"]))
    assert [c.name for c in checks] == ["no_errors"] and not checks[0].passed


def test_every_expectation_field_has_a_scorer() -> None:
    assert set(SCORERS) == set(Expectation.__dataclass_fields__)
