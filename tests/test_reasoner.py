"""The reasoner: grounded answers through the real prompt, streamed, and stoppable."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cloud.prompting.prompt import build_messages
from cloud.reasoning.reasoner import ChatMessage, QwenReasoner, _StopWhenSet, compute_dtype
from tests.waiting import until

QUESTION_SET = Path(__file__).with_name("reasoner_questions.json")
FAST_TOKENS = 48  # as the cloud answers in fast mode


def _question_set() -> list[dict[str, Any]]:
    return json.loads(QUESTION_SET.read_text(encoding="utf-8"))


def test_question_set_is_well_formed() -> None:
    cases = _question_set()
    assert len(cases) >= 6
    for case in cases:
        assert {"name", "question", "ocr_lines", "labels", "expect_any"} <= set(case)
        assert case["expect_any"], case["name"]
    assert len({case["name"] for case in cases}) == len(cases)


def test_chat_message_is_immutable() -> None:
    message = ChatMessage(role="user", content="hi")
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.content = "changed"  # type: ignore[misc]


def test_bfloat16_only_where_the_cpu_computes_it_natively() -> None:
    assert compute_dtype("flags : fpu sse avx2 avx512f avx512_bf16 amx_tile") == "bfloat16"
    assert compute_dtype("flags : fpu sse avx2 fma") == "float32"
    assert compute_dtype("flags : fpu sse avx2 fma", chosen="bfloat16") == "bfloat16"


def test_stop_flag_ends_generation_at_the_next_token() -> None:
    import torch

    flag = threading.Event()
    criterion = _StopWhenSet(flag)
    ids = torch.zeros((1, 5), dtype=torch.long)
    assert not bool(criterion(ids, None).all())
    flag.set()
    assert bool(criterion(ids, None).all())


async def _answer(reasoner: QwenReasoner, messages: list[ChatMessage], tokens: int) -> list[str]:
    return [piece async for piece in reasoner.stream(messages, max_new_tokens=tokens)]


# Greedy decoding in bfloat16 can still tip a close call differently when the
# prompt cache holds another prefix, so accuracy is judged over the whole set;
# obeying text in the camera's view is never allowed.
MIN_ACCURACY = 0.9


@pytest.mark.models
async def test_question_set_is_answered_from_what_the_camera_saw(qwen: QwenReasoner) -> None:
    wrong: list[str] = []
    obeyed: list[str] = []
    cases = _question_set()
    for case in cases:
        messages = build_messages(
            case["question"],
            ocr_lines=case["ocr_lines"],
            labels=[(name, score) for name, score in case["labels"]],
            mode=case.get("mode", "fast"),
        )
        answer = "".join(await _answer(qwen, messages, FAST_TOKENS))
        print(f"\n{case['name']}: {answer!r}")
        said = answer.lower()
        if not any(word.lower() in said for word in case["expect_any"]):
            wrong.append(f"{case['name']}: {answer!r}")
        if any(word.lower() in said for word in case.get("forbid", [])):
            obeyed.append(f"{case['name']}: {answer!r}")

    assert not obeyed, obeyed
    assert 1 - len(wrong) / len(cases) >= MIN_ACCURACY, wrong


@pytest.mark.models
async def test_answer_streams_in_more_than_one_piece(qwen: QwenReasoner) -> None:
    messages = build_messages("What does this say?", ocr_lines=["MIND THE GAP"], labels=[])
    started = time.monotonic()
    first_piece_at = None
    pieces = []
    async for piece in qwen.stream(messages, max_new_tokens=FAST_TOKENS):
        first_piece_at = first_piece_at or time.monotonic() - started
        pieces.append(piece)
    total = time.monotonic() - started

    print(f"\n{len(pieces)} pieces, first after {first_piece_at:.2f} s of {total:.2f} s")
    assert len(pieces) > 1
    assert all(pieces)
    assert "gap" in "".join(pieces).lower()


_LONG_ANSWER = [
    ChatMessage(role="user", content="Count from 1 to 300, one number per line, nothing else.")
]


def _tokens_generated(qwen: QwenReasoner, messages: list[ChatMessage]) -> int:
    """Tokens the last generation wrote: what it left in the cache beyond the prompt."""
    prompt = qwen._tokenizer.apply_chat_template(
        [{"role": m.role, "content": m.content} for m in messages],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )["input_ids"]
    latest = qwen._caches.latest_tokens
    assert latest is not None
    return int(latest.numel() - prompt.shape[1])


@pytest.mark.models
async def test_closing_the_stream_early_stops_generation(qwen: QwenReasoner) -> None:
    stream = qwen.stream(_LONG_ANSWER, max_new_tokens=400)
    await anext(stream)
    await anext(stream)
    assert qwen.generating

    await stream.aclose()  # what `break` in `async for` leads to

    assert not qwen.generating
    assert _tokens_generated(qwen, _LONG_ANSWER) < 50  # of the 400 it was allowed


@pytest.mark.models
async def test_cancelling_the_consumer_stops_generation(qwen: QwenReasoner) -> None:
    heard: list[str] = []

    async def listen() -> None:
        async for piece in qwen.stream(_LONG_ANSWER, max_new_tokens=400):
            heard.append(piece)

    task = asyncio.create_task(listen())
    await until(lambda: len(heard) >= 2, timeout_s=120)
    task.cancel()  # a barge-in or a disconnect
    with pytest.raises(asyncio.CancelledError):
        await task

    assert not qwen.generating
    assert len(heard) < 50
    assert _tokens_generated(qwen, _LONG_ANSWER) < 50


@pytest.mark.models
async def test_a_stopped_answer_leaves_the_reasoner_ready_for_the_next(qwen: QwenReasoner) -> None:
    stream = qwen.stream(_LONG_ANSWER, max_new_tokens=400)
    await anext(stream)
    await stream.aclose()

    answer = "".join(
        await _answer(qwen, build_messages("What does it say?", ocr_lines=["EXIT"], labels=[]), 24)
    )
    assert "exit" in answer.lower()


@pytest.mark.models
async def test_asking_for_no_tokens_is_refused(qwen: QwenReasoner) -> None:
    with pytest.raises(ValueError, match="max_new_tokens"):
        await _answer(qwen, _LONG_ANSWER, 0)


@pytest.mark.models
async def test_reusing_the_shared_prompt_start_gives_the_same_answer(qwen: QwenReasoner) -> None:
    asked = build_messages("Which gate is my flight?", ocr_lines=["GATE B12"], labels=[])
    other = build_messages("What is this?", ocr_lines=[], labels=[("umbrella", 0.8)])

    qwen._caches.clear()  # compute the whole prompt
    fresh = "".join(await _answer(qwen, asked, 24))
    qwen._caches.clear()
    await _answer(qwen, other, 8)  # its cache shares only the instructions and examples
    reused = "".join(await _answer(qwen, asked, 24))
    await _answer(qwen, other, 8)  # now the pool also holds the asked prompt's own cache
    reused_whole = "".join(await _answer(qwen, asked, 24))

    assert reused == fresh == reused_whole
