"""Retrieval over long conversations: is the turn that holds the evidence among the first ten?

`simulators/data/memory_conversations.json` holds two conversations of the
wearer over two months (five sessions each), every turn with its speaker and
its session's date, and questions labelled with their evidence turns, in four
kinds (single-hop, multi-hop, temporal, open-domain). Each conversation is
loaded into its own store, one memory per turn, and every question is searched
as a wearer's would be, in variants that add one idea at a time:

- `plain`: the turn's words ("Ben: Yes, on Saturday.") and the plain search;
- `neighbours`: the two turns before it, the one after it and the session's date are
  indexed with it (`NewMemory.context`), since a turn's meaning often lives
  in the question before it;
- `neighbours_and_time`: as `neighbours`, and a question's time phrase
  ("on Tuesday", "in February", "two weeks ago") becomes a window on event
  times (cloud/memory/time_query.py).

Recall@k is the share of a question's evidence turns in its first k results,
averaged; MRR the mean of 1 / rank of its first evidence turn.

`simulators/data/memory_conversations_long.json` is the larger set: six
conversations of fifteen or more sessions each, 165 questions, split into a
`dev` part (retrieval may be tuned on it) and a `held-out` part (never tuned
on), reported apart. Each turn is written as a `companion memory add` JSON
line and stored through the same function that command uses (`add_jsonl`,
near-duplicates merged as for any wearer), and it adds the variant

- `multi_hop`: as `neighbours_and_time`, then a second search seeded by the
  first one's top hits, merged by rank fusion (cloud/memory/multi_hop.py).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from cloud.memory.cli_ops import add_jsonl
from cloud.memory.embedder import Embedder
from cloud.memory.multi_hop import search_with_hops
from cloud.memory.records import MemoryKind, NewMemory, SearchHit, iso_utc, parse_iso
from cloud.memory.sqlite_store import SqliteMemoryStore
from cloud.memory.store import MemoryStore
from cloud.memory.time_query import search_in_time

CONVERSATION_SET = Path(__file__).resolve().parent / "data" / "memory_conversations.json"
LONG_CONVERSATION_SET = Path(__file__).resolve().parent / "data" / "memory_conversations_long.json"
PARTS = ("dev", "held-out")
KINDS = ("single-hop", "multi-hop", "temporal", "open-domain")
VARIANTS = ("plain", "neighbours", "neighbours_and_time")
# Turns before a turn that go into its context: an answer often replies to a question
# whose subject was named a turn earlier still ("Ollie sent the invitations." "When is
# it?" "The eleventh of July, in Bath."). Two rather than one: recall@10 0.762 → 0.815
# on the dev part of the long set.
BEFORE = 2


@dataclass(frozen=True)
class Turn:
    id: str
    conversation: str
    speaker: str
    text: str
    time: datetime
    before: str | None  # the previous BEFORE turns of the session, "Speaker: words …"
    after: str | None  # the next turn of the session


@dataclass(frozen=True)
class Question:
    id: str
    conversation: str
    kind: str
    question: str
    evidence: tuple[str, ...]
    part: str = "dev"


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
                    before=" ".join(said[max(0, number - BEFORE) : number]) or None,
                    after=said[number + 1] if number + 1 < len(said) else None,
                )
            )
    parts = {item["id"]: item["part"] for item in data.get("conversations", [])}
    questions = [
        Question(
            q["id"],
            q["conversation"],
            q["kind"],
            q["question"],
            tuple(q["evidence"]),
            parts.get(q["conversation"], "dev"),
        )
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


def turn_line(turn: Turn, *, neighbours: bool) -> str:
    """One turn as a `companion memory add` JSON line (what a wearer's import would hold)."""
    memory = turn_memory(turn, neighbours=neighbours)
    line: dict[str, Any] = {
        "text": memory.text,
        "time": iso_utc(memory.time),
        "source_id": memory.source_id,
        "kind": memory.kind.value,
    }
    if memory.context is not None:
        line["context"] = memory.context
    return json.dumps(line)


Retriever = Callable[[MemoryStore, str, str, datetime, int], list[SearchHit]]
RETRIEVERS: dict[str, Retriever] = {
    "plain": lambda store, user, question, now, k: store.search(user, question, now=now, k=k),
    "neighbours": lambda store, user, question, now, k: store.search(user, question, now=now, k=k),
    "neighbours_and_time": lambda store, user, question, now, k: search_in_time(
        store, user, question, now=now, k=k
    ),
    "multi_hop": lambda store, user, question, now, k: search_with_hops(
        store, user, question, now=now, k=k
    ),
}
LONG_VARIANTS = tuple(RETRIEVERS)


def long_conversation_quality(
    embedder: Embedder,
    *,
    k: int = 10,
    path: Path = LONG_CONVERSATION_SET,
    variants: tuple[str, ...] = LONG_VARIANTS,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Recall@k and MRR per part (dev, held-out) and question kind, for each variant.

    Turns go in through `add_jsonl`, as `companion memory add` stores them: without
    context for `plain`, with the neighbours and the date for the other variants.
    """
    now, turns, questions = load_conversation_set(path)
    report: dict[str, Any] = {
        "set": path.name,
        "conversations": len({turn.conversation for turn in turns}),
        "turns": len(turns),
        "questions": len(questions),
        "k": k,
    }
    rows: dict[str, list[dict[str, Any]]] = {variant: [] for variant in variants}
    seconds: dict[str, list[float]] = {variant: [] for variant in variants}
    with tempfile.TemporaryDirectory(prefix="bench-long-conversations-") as folder:
        for with_context in (False, True):
            chosen = [v for v in variants if (v != "plain") == with_context]
            if not chosen:
                continue
            progress(f"long conversation set: {'with' if with_context else 'without'} context")
            name = "context.db" if with_context else "plain.db"
            with SqliteMemoryStore(Path(folder) / name, embedder) as store:
                for conversation in sorted({turn.conversation for turn in turns}):
                    lines = [
                        turn_line(turn, neighbours=with_context)
                        for turn in turns
                        if turn.conversation == conversation
                    ]
                    add_jsonl(store, conversation, lines, source="conversation-set")
                for question in questions:
                    for variant in chosen:
                        started = time.perf_counter()
                        hits = RETRIEVERS[variant](
                            store, question.conversation, question.question, now, k
                        )
                        seconds[variant].append(time.perf_counter() - started)
                        found = [hit.memory.source_id for hit in hits]
                        recall, reciprocal = _scores(found, question.evidence)
                        rows[variant].append(
                            {
                                "id": question.id,
                                "kind": question.kind,
                                "part": question.part,
                                "recall": recall,
                                "rr": reciprocal,
                            }
                        )
    for variant in variants:
        report[variant] = {
            part: _summary([row for row in rows[variant] if row["part"] == part], k)
            for part in PARTS
        }
        report[variant]["search_ms_p50"] = round(1000 * float(np.median(seconds[variant])), 1)
    return report


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
