"""Answer accuracy of the bundled reasoner on the project's question sets, with the real models.

Two sets: `tests/reasoner_questions.json` (questions about what the camera
saw) and `tests/memory_questions.json` (questions answered from personal
memory: every memory in one real store with MiniLM embeddings, retrieved the
way a conversation turn retrieves, then answered through the memory prompt).
An answer is right when it contains an expected word, none of the forbidden
ones, and (for memory) does not speak in the wearer's voice ("my …").
Timings are printed, never asserted; on a shared machine they are inflated.
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cloud.config import CloudConfig
from cloud.memory.embedder import Embedder
from cloud.memory.records import MemoryKind, NewMemory
from cloud.memory.sqlite_store import SqliteMemoryStore
from cloud.prompting.memory_prompt import build_answer_messages
from cloud.prompting.prompt import build_messages
from cloud.prompting.recall import recall
from cloud.reasoning.modes import FAST
from cloud.reasoning.reasoner import ChatMessage, Reasoner

TESTS = Path(__file__).resolve().parents[1] / "tests"
CAMERA_SET = TESTS / "reasoner_questions.json"
MEMORY_SET = TESTS / "memory_questions.json"
BENCH_USER = "bench-user"
# "my" in an answer is the wearer's voice, unless it is the assistant's own memory.
_WEARERS_VOICE = re.compile(r"\bmy\b(?! (?:memory|memories|records|notes))", re.IGNORECASE)


def load_memory_set(path: Path = MEMORY_SET) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def judge(answer: str, case: dict[str, Any], *, voice: bool) -> str | None:
    """Why the answer is wrong, or None when it is right."""
    said = answer.lower()
    if any(word.lower() in said for word in case.get("forbid", [])):
        return "forbidden"
    if not any(word.lower() in said for word in case["expect_any"]):
        return "missing"
    if voice and _WEARERS_VOICE.search(answer):
        return "wearer's voice"
    return None


def memory_store(folder: Path, embedder: Embedder, now: datetime) -> SqliteMemoryStore:
    store = SqliteMemoryStore(folder / "memories.sqlite", embedder)
    data = load_memory_set()
    store.add_many(
        BENCH_USER,
        [
            NewMemory(
                text=item["text"],
                time=now - timedelta(days=item["days_ago"]),
                kind=MemoryKind(item.get("kind", "fact")),
                source_id=f"m{number}",
            )
            for number, item in enumerate(data["memories"])
        ],
    )
    return store


async def _answer(
    reasoner: Reasoner, messages: list[ChatMessage], tokens: int
) -> tuple[str, float]:
    started = time.perf_counter()
    first = 0.0
    pieces = []
    async for piece in reasoner.stream(messages, max_new_tokens=tokens):
        first = first or time.perf_counter() - started
        pieces.append(piece)
    return "".join(pieces).strip(), first


async def run_memory_set(
    reasoner: Reasoner, embedder: Embedder, config: CloudConfig | None = None
) -> dict[str, Any]:
    config = config or CloudConfig()
    now = datetime(2026, 3, 12, 18, 0, tzinfo=UTC)
    cases = load_memory_set()["questions"]
    wrong: list[dict[str, str]] = []
    firsts: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-reasoner-") as folder:
        with memory_store(Path(folder), embedder, now) as store:
            for case in cases:
                memories = recall(
                    store,
                    BENCH_USER,
                    case["question"],
                    mode=FAST,
                    now=now,
                    k_fast=config.memory_k_fast,
                    k_reasoning=config.memory_k_reasoning,
                    min_cosine=config.memory_min_cosine,
                )
                messages = build_answer_messages(
                    case["question"], memories=memories, now=now, ocr_lines=[], labels=[], mode=FAST
                )
                answer, first = await _answer(reasoner, messages, config.fast_max_tokens)
                firsts.append(first)
                why = judge(answer, case, voice=True)
                if why:
                    wrong.append({"name": case["name"], "why": why, "answer": answer})
    return _summary(len(cases), wrong, firsts)


async def run_camera_set(reasoner: Reasoner, config: CloudConfig | None = None) -> dict[str, Any]:
    config = config or CloudConfig()
    cases = json.loads(CAMERA_SET.read_text(encoding="utf-8"))
    wrong: list[dict[str, str]] = []
    firsts: list[float] = []
    for case in cases:
        messages = build_messages(
            case["question"],
            ocr_lines=case["ocr_lines"],
            labels=[(name, score) for name, score in case["labels"]],
            mode=case.get("mode", "fast"),
        )
        answer, first = await _answer(reasoner, messages, config.fast_max_tokens)
        firsts.append(first)
        why = judge(answer, case, voice=False)
        if why:
            wrong.append({"name": case["name"], "why": why, "answer": answer})
    return _summary(len(cases), wrong, firsts)


def _summary(total: int, wrong: list[dict[str, str]], firsts: list[float]) -> dict[str, Any]:
    return {
        "questions": total,
        "right": total - len(wrong),
        "accuracy": round((total - len(wrong)) / total, 3) if total else 0.0,
        "first_token_p50_s": round(statistics.median(firsts), 2) if firsts else None,
        "wrong": wrong,
    }


async def bench_reasoner(progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    from cloud.memory.embedder import MiniLmEmbedder
    from cloud.reasoning.reasoner import QwenReasoner

    progress("loading the reasoner and the embedder…")
    reasoner = QwenReasoner(progress=progress)
    embedder = MiniLmEmbedder()
    progress("answering the memory question set…")
    memory = await run_memory_set(reasoner, embedder)
    progress("answering the camera question set…")
    camera = await run_camera_set(reasoner)
    total = memory["questions"] + camera["questions"]
    right = memory["right"] + camera["right"]
    return {
        "reasoner": "Qwen2.5-Coder-0.5B-Instruct",
        "dtype": reasoner.dtype,
        "accuracy": round(right / total, 3),
        "goal": 0.95,
        "memory": memory,
        "camera": camera,
        "note": "timings measured on a shared machine are inflated",
    }
