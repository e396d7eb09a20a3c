"""Remember-then-ask: does the assistant answer with the fact asked about, as it now stands?

Each case in `simulators/data/memory_facts_set.json` is a fresh wearer who
tells the assistant a few things over several days (similar facts that
distract, updates that replace an older fact, sentences with abbreviations,
facts about other people) and then asks one question. Every turn goes
through the real `Conversation`: fact extraction, the user's SQLite store
with the given embedder, recall, the prompt and the reasoner, so what is
measured is what a wearer would hear.

`simulators/data/memory_facts_heldout.json` is a second part of the same
shape, written in one sitting before any of its results were seen and not
tuned on; the report gives both parts apart (`dev`: the set the rules were
built on; `held_out`) and together.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cloud.config import CloudConfig
from cloud.conversation import Conversation, Models
from cloud.memory.embedder import Embedder
from cloud.memory.records import parse_iso
from cloud.memory.user_data import UserDirectory
from cloud.reasoning.reasoner import Reasoner
from cloud.speech.asr import Transcriber
from protocol import AnswerDone, Message, Query, Sequencer

FACTS_SET = Path(__file__).resolve().parent / "data" / "memory_facts_set.json"
HELD_OUT_FACTS_SET = Path(__file__).resolve().parent / "data" / "memory_facts_heldout.json"
_TURN_TIMEOUT_S = 300.0
_POLL_S = 0.01


@dataclass(frozen=True)
class FactsCase:
    id: str
    kind: str
    told: tuple[tuple[str, float], ...]  # (what the wearer said, days before the question)
    ask: str
    expect: tuple[str, ...]  # each must be in the answer; "a|b" accepts either
    reject: tuple[str, ...]  # none may be in the answer


def load_facts_set(path: Path = FACTS_SET) -> tuple[datetime, list[FactsCase]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    cases = [
        FactsCase(
            id=case["id"],
            kind=case["kind"],
            told=tuple((item["said"], float(item["days_ago"])) for item in case["told"]),
            ask=case["ask"],
            expect=tuple(case["expect"]),
            reject=tuple(case.get("reject", ())),
        )
        for case in data["cases"]
    ]
    return parse_iso(data["now"], "now"), cases


def _says(answer: str, phrase: str) -> bool:
    """Whole-word, case-insensitive: "N" must not match the n of "and"."""
    return any(
        re.search(rf"(?<!\w){re.escape(option.strip())}(?!\w)", answer, re.IGNORECASE)
        for option in phrase.split("|")
    )


def judge(answer: str, case: FactsCase) -> str | None:
    """Why the answer is wrong, or None when it is right."""
    missing = [phrase for phrase in case.expect if not _says(answer, phrase)]
    if missing:
        return f"missing {missing}"
    wrong = [phrase for phrase in case.reject if _says(answer, phrase)]
    if wrong:
        return f"says {wrong}"
    return None


class _HearsNothing:
    """Every turn here is typed (a Query), so no audio is ever transcribed."""

    def transcribe(self, samples: object, sample_rate: int) -> str:
        return ""


async def _turn(models: Models, user: str, session: str, text: str, now: datetime) -> str:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    conversation = Conversation(
        session, models, send, config=CloudConfig(), user=user, wall_clock=lambda: now
    )
    task = asyncio.create_task(conversation.run())
    try:
        conversation.receive(Sequencer(session).make(Query, turn_id=1, text=text))
        # The turn's memories are written after AnswerDone; the turn leaves the
        # conversation's table only once that is done.
        for _ in range(int(_TURN_TIMEOUT_S / _POLL_S)):
            if conversation.answered >= 1 and 1 not in conversation._turns:
                break
            await asyncio.sleep(_POLL_S)
        else:
            raise TimeoutError(f"no answer to {text!r} within {_TURN_TIMEOUT_S:.0f} s")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return next(m.text for m in sent if isinstance(m, AnswerDone))


async def run_facts_set(
    reasoner: Reasoner,
    embedder: Embedder,
    *,
    cases: Sequence[FactsCase] | None = None,
    now: datetime | None = None,
    transcriber: Transcriber | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Every case through the real conversation; % right overall and per kind."""
    if cases is None or now is None:
        loaded_now, loaded = load_facts_set()
        cases = loaded if cases is None else cases
        now = loaded_now if now is None else now
    outcomes: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-facts-") as folder:
        users = UserDirectory(Path(folder), embedder)
        models = Models(
            transcriber=transcriber or _HearsNothing(),
            reasoner=reasoner,
            users=users,
        )
        try:
            for number, case in enumerate(cases, 1):
                user = f"wearer-{number}"
                for turn, (said, days_ago) in enumerate(case.told):
                    await _turn(
                        models, user, f"{case.id}-{turn}", said, now - timedelta(days=days_ago)
                    )
                answer = await _turn(models, user, f"{case.id}-ask", case.ask, now)
                why = judge(answer, case)
                outcomes.append({"id": case.id, "kind": case.kind, "answer": answer, "why": why})
                progress(f"{number}/{len(cases)} {case.id}: {'right' if why is None else why}")
        finally:
            users.close()
    return summarise(outcomes)


def summarise(outcomes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    def share(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        right = sum(row["why"] is None for row in rows)
        return {
            "cases": len(rows),
            "right": right,
            "percent_right": round(100.0 * right / len(rows), 1) if rows else 0.0,
        }

    kinds = sorted({row["kind"] for row in outcomes})
    return {
        **share(outcomes),
        "by_kind": {kind: share([r for r in outcomes if r["kind"] == kind]) for kind in kinds},
        "wrong": [
            {"id": r["id"], "why": r["why"], "answer": r["answer"]}
            for r in outcomes
            if r["why"] is not None
        ],
    }


def bench_memory_facts(progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """The remember-then-ask set with the bundled models (Qwen 0.5B, MiniLM)."""
    from cloud.memory.embedder import MiniLmEmbedder
    from cloud.reasoning.reasoner import QwenReasoner

    progress("loading the reasoner and the embedder…")
    reasoner = QwenReasoner(progress=progress)
    embedder = MiniLmEmbedder()
    parts: dict[str, dict[str, Any]] = {}
    for part, path in (("dev", FACTS_SET), ("held_out", HELD_OUT_FACTS_SET)):
        now, cases = load_facts_set(path)
        parts[part] = asyncio.run(
            run_facts_set(reasoner, embedder, cases=cases, now=now, progress=progress)
        )
    cases_in_all = sum(part["cases"] for part in parts.values())
    right_in_all = sum(part["right"] for part in parts.values())
    return {
        "sets": {"dev": FACTS_SET.name, "held_out": HELD_OUT_FACTS_SET.name},
        "reasoner": "Qwen2.5-Coder-0.5B-Instruct",
        "embedder": embedder.name,
        "cases": cases_in_all,
        "right": right_in_all,
        "percent_right": round(100.0 * right_in_all / cases_in_all, 1),
        **parts,
    }


def main() -> None:
    """`python -m simulators.bench_memory_facts`: print the figures as JSON."""
    import sys

    report = bench_memory_facts(progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
