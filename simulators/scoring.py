"""Scoring a scenario step: one small function per expectation, over what a replay returned.

Each function reads a `StepOutcome` (the session summary plus what the
harness looked up afterwards: faces in the uploaded frames, the user's
memories and tool lists) and returns a `Check`. Adding an expectation is
adding one function to `SCORERS` and one field to `Expectation`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from edge.session import SessionSummary
from simulators.scenarios import Expectation
from simulators.wer import word_error_rate


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True, kw_only=True)
class StepOutcome:
    summary: SessionSummary
    # Faces an independent detector (OpenCV's Haar cascade, not the edge's own model)
    # still finds in the keyframes that left the device.
    uploaded_faces: int = 0
    memories: tuple[str, ...] = ()
    # Tool lists that grew during this step: "reminder", "shopping_list", "note".
    tools_used: frozenset[str] = field(default_factory=frozenset)
    reference: str | None = None

    @property
    def transcript(self) -> str:
        return " ".join(t.transcript for t in self.summary.turns if t.transcript)

    @property
    def answers(self) -> list[str]:
        return [t.answer for t in self.summary.turns if t.done is not None]

    @property
    def modes(self) -> list[str]:
        return [t.done.mode for t in self.summary.turns if t.done is not None]

    def wer(self) -> tuple[int, int] | None:
        """(word errors, reference words) when the step has a reference transcript."""
        if self.reference is None:
            return None
        return word_error_rate(self.reference, self.transcript)


Scorer = Callable[[Expectation, StepOutcome], Check]


def _found(haystack: str, needle: str) -> bool:
    return needle.lower() in haystack.lower()


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def transcript_contains(exp: Expectation, out: StepOutcome) -> Check:
    missing = [w for w in exp.transcript_contains if not _found(out.transcript, w)]
    heard = _short(out.transcript) or "(nothing)"
    detail = f"heard {heard!r}" + (f"; missing {missing}" if missing else "")
    return Check("transcript_contains", not missing, detail)


def answer_contains_any(exp: Expectation, out: StepOutcome) -> Check:
    answer = " ".join(out.answers)
    hit = [w for w in exp.answer_contains_any if _found(answer, w)]
    detail = f"answer {_short(answer) or '(none)'!r}" + (
        f" has {hit[0]!r}" if hit else f" has none of {list(exp.answer_contains_any)}"
    )
    return Check("answer_contains_any", bool(hit), detail)


def answer_mode(exp: Expectation, out: StepOutcome) -> Check:
    return Check(
        "answer_mode",
        bool(out.modes) and all(m == exp.answer_mode for m in out.modes),
        f"answered in {out.modes or 'no'} mode, wanted {exp.answer_mode}",
    )


def max_uploaded_faces(exp: Expectation, out: StepOutcome) -> Check:
    limit = exp.max_uploaded_faces or 0
    return Check(
        "max_uploaded_faces",
        out.uploaded_faces <= limit,
        f"{out.uploaded_faces} face(s) an independent detector finds in uploaded frames "
        f"(at most {limit}); "
        f"{out.summary.stats.faces_hidden} hidden on the device",
    )


def max_keyframes(exp: Expectation, out: StepOutcome) -> Check:
    sent = out.summary.stats.keyframes_sent
    limit = exp.max_keyframes or 0
    return Check("max_keyframes", sent <= limit, f"{sent} keyframe(s) sent (at most {limit})")


def max_bytes_upstream(exp: Expectation, out: StepOutcome) -> Check:
    sent = out.summary.bytes_upstream
    limit = exp.max_bytes_upstream or 0
    return Check(
        "max_bytes_upstream", sent <= limit, f"{sent:,} bytes upstream (at most {limit:,})"
    )


def no_answer(exp: Expectation, out: StepOutcome) -> Check:
    answered = bool(out.answers)
    return Check(
        "no_answer",
        answered != exp.no_answer,
        f"{len(out.answers)} answer(s)"
        + (f": {_short(out.answers[0])!r}" if answered else "")
        + f"; wanted {'none' if exp.no_answer else 'one'}",
    )


def interrupted(exp: Expectation, out: StepOutcome) -> Check:
    cut = any(t.done is not None and t.done.interrupted for t in out.summary.turns)
    sent = out.summary.stats.interrupts_sent
    return Check(
        "interrupted",
        cut == exp.interrupted,
        f"answer {'was' if cut else 'was not'} cut short ({sent} interrupt(s) sent)",
    )


def tool(exp: Expectation, out: StepOutcome) -> Check:
    used = exp.tool in out.tools_used
    return Check(
        "tool",
        used,
        f"{exp.tool} {'set' if used else 'not set'}; lists changed: {sorted(out.tools_used) or 'none'}",
    )


def memory_contains(exp: Expectation, out: StepOutcome) -> Check:
    missing = [w for w in exp.memory_contains if not any(_found(m, w) for m in out.memories)]
    return Check(
        "memory_contains",
        not missing,
        f"{len(out.memories)} memories" + (f"; none mention {missing}" if missing else ""),
    )


def max_wer(exp: Expectation, out: StepOutcome) -> Check:
    counted = out.wer()
    if counted is None or counted[1] == 0:
        return Check("max_wer", False, "no reference transcript to score against")
    rate = counted[0] / counted[1]
    limit = exp.max_wer or 0.0
    return Check("max_wer", rate <= limit, f"WER {rate:.2f} (at most {limit:.2f})")


def segments(exp: Expectation, out: StepOutcome) -> Check:
    cut = out.summary.stats.segments
    return Check("segments", cut == exp.segments, f"{cut} speech segment(s), wanted {exp.segments}")


SCORERS: dict[str, Scorer] = {
    "transcript_contains": transcript_contains,
    "answer_contains_any": answer_contains_any,
    "answer_mode": answer_mode,
    "max_uploaded_faces": max_uploaded_faces,
    "max_keyframes": max_keyframes,
    "max_bytes_upstream": max_bytes_upstream,
    "no_answer": no_answer,
    "interrupted": interrupted,
    "tool": tool,
    "memory_contains": memory_contains,
    "max_wer": max_wer,
    "segments": segments,
}


def score_step(exp: Expectation, out: StepOutcome) -> list[Check]:
    """Every expectation the step sets, plus the errors the session reported."""
    checks = [SCORERS[name](exp, out) for name in exp.checks()]
    errors = out.summary.errors + [e for t in out.summary.turns for e in t.errors]
    if errors and not exp.no_answer:
        checks.append(Check("no_errors", False, "; ".join(errors)))
    return checks
