"""Retrieval over long conversations: is the turn that holds the evidence among the first ten?

`simulators/data/memory_conversations.json` holds two conversations of the
wearer over two months (five sessions each), every turn with its speaker and
its session's date, and questions labelled with their evidence turns, in four
kinds (single-hop, multi-hop, temporal, open-domain). Each conversation is
loaded into its own store, one memory per turn, and every question is searched
as a wearer's would be, in variants that add one idea at a time:

- `plain`: the turn's words ("Ben: Yes, on Saturday.") and the plain search;
- `neighbours`: the turns before and after it and the session's date are
  indexed with it (`NewMemory.context`), since a turn's meaning often lives
  in the question before it;
- `neighbours_and_time`: as `neighbours`, and a question's time phrase
  ("on Tuesday", "in February", "two weeks ago") becomes a window on event
  times (cloud/memory/time_query.py).

Recall@k is the share of a question's evidence turns in its first k results,
averaged; MRR the mean of 1 / rank of its first evidence turn.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from cloud.memory.embedder import Embedder
from cloud.memory.records import MemoryKind, NewMemory, SearchHit, parse_iso
from cloud.memory.sqlite_store import SqliteMemoryStore
from cloud.memory.time_query import search_in_time

CONVERSATION_SET = Path(__file__).resolve().parent / "data" / "memory_conversations.json"
KINDS = ("single-hop", "multi-hop", "temporal", "open-domain")
VARIANTS = ("plain", "neighbours", "neighbours_and_time")


@dataclass(frozen=True)
class Turn:
    id: str
    conversation: str
    speaker: str
    text: str
    time: datetime
    before: str | None  # the previous turn of the session, "Speaker: words"
    after: str | None  # the next turn of the session


@dataclass(frozen=True)
class Question:
    id: str
    conversation: str
    kind: str
    question: str
    evidence: tuple[str, ...]


def load_conversation_set(
    path: Path = CONVERSATION_SET,
) -> tuple[datetime, list[Turn], list[Question]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    turns: list[Turn] = []
    for session in data["sessions"]:
        conversation = session["id"].split("-")[0]
        said = [f"{turn['speaker']}: {turn['text']}" for turn in session["turns"]]
        start = parse_iso(session["date"], "date")
        for number, turn in enumerate(session["turns"]):
            turns.append(
                Turn(
                    id=turn["id"],
                    conversation=conversation,
                    speaker=turn["speaker"],
                    text=turn["text"],
                    time=start.replace(minute=min(59, start.minute + number)),
                    before=said[number - 1] if number > 0 else None,
                    after=said[number + 1] if number + 1 < len(said) else None,
                )
            )
    questions = [
        Question(q["id"], q["conversation"], q["kind"], q["question"], tuple(q["evidence"]))
        for q in data["questions"]
    ]
    return parse_iso(data["now"], "now"), turns, questions


def turn_memory(turn: Turn, *, neighbours: bool) -> NewMemory:
    """One turn as a memory; with `neighbours`, the turns around it and the date as context."""
    context = None
    if neighbours:
        parts = [f"{turn.time:%A %d %B %Y}."]
        if turn.before:
            parts.append(turn.before)
        if turn.after:
            parts.append(turn.after)
        context = " ".join(parts)
    return NewMemory(
        text=f"{turn.speaker}: {turn.text}",
        time=turn.time,
        kind=MemoryKind.EPISODIC,
        source="conversation-set",
        source_id=turn.id,
        context=context,
    )


def _scores(found: list[str | None], evidence: tuple[str, ...]) -> tuple[float, float]:
    recall = sum(turn in found for turn in evidence) / len(evidence)
    ranks = [found.index(turn) + 1 for turn in evidence if turn in found]
    return recall, (1.0 / min(ranks) if ranks else 0.0)


def conversation_quality(
    embedder: Embedder,
    *,
    k: int = 10,
    path: Path = CONVERSATION_SET,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Recall@k and MRR per question kind, for each variant (see the module docstring)."""
    now, turns, questions = load_conversation_set(path)
    report: dict[str, Any] = {
        "set": path.name,
        "turns": len(turns),
        "questions": len(questions),
        "k": k,
    }
    for variant in VARIANTS:
        progress(f"conversation set: {variant}")
        rows: list[dict[str, Any]] = []
        with tempfile.TemporaryDirectory(prefix="bench-conversations-") as folder:
            with SqliteMemoryStore(Path(folder) / "turns.db", embedder) as store:
                for conversation in sorted({turn.conversation for turn in turns}):
                    store.add_many(
                        conversation,
                        [
                            turn_memory(turn, neighbours=variant != "plain")
                            for turn in turns
                            if turn.conversation == conversation
                        ],
                        deduplicate=False,
                    )
                for question in questions:
                    hits: list[SearchHit]
                    if variant == "neighbours_and_time":
                        hits = search_in_time(
                            store, question.conversation, question.question, now=now, k=k
                        )
                    else:
                        hits = store.search(question.conversation, question.question, now=now, k=k)
                    found = [hit.memory.source_id for hit in hits]
                    recall, reciprocal = _scores(found, question.evidence)
                    rows.append(
                        {
                            "id": question.id,
                            "kind": question.kind,
                            "recall": recall,
                            "rr": reciprocal,
                        }
                    )
        report[variant] = _summary(rows, k)
    return report


def _summary(rows: list[dict[str, Any]], k: int) -> dict[str, Any]:
    def figures(subset: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "questions": len(subset),
            f"recall_at_{k}": round(float(np.mean([r["recall"] for r in subset])), 3),
            "mrr": round(float(np.mean([r["rr"] for r in subset])), 3),
        }

    return {
        **figures(rows),
        "by_kind": {kind: figures([r for r in rows if r["kind"] == kind]) for kind in KINDS},
        "misses": [r["id"] for r in rows if r["recall"] < 1.0],
    }
