"""Personal memory with the real models: Qwen answers from what MiniLM retrieved."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud.config import CloudConfig
from cloud.conversation import Conversation, Models
from cloud.memory.user_data import UserDirectory
from protocol import AnswerDone, Message, Query, Sequencer
from simulators.bench_reasoner import run_memory_set
from tests.fakes import FakeTranscriber
from tests.waiting import until

GOAL = 0.95


async def _ask(models: Models, session_id: str, text: str, now: datetime) -> str:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    conversation = Conversation(
        session_id, models, send, config=CloudConfig(), user="alice", wall_clock=lambda: now
    )
    task = asyncio.create_task(conversation.run())
    conversation.receive(Sequencer(session_id).make(Query, turn_id=1, text=text))
    # Finished, not just answered: the turn's memories are written just after AnswerDone.
    await until(lambda: conversation.turns_finished >= 1, timeout_s=120)
    task.cancel()
    return next(m.text for m in sent if isinstance(m, AnswerDone))


@pytest.mark.models
async def test_a_fact_told_in_one_session_is_used_in_a_later_one(
    qwen, minilm, tmp_path: Path
) -> None:
    users = UserDirectory(tmp_path, minilm)
    models = Models(transcriber=FakeTranscriber(), reasoner=qwen, users=users)
    told = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    try:
        await _ask(models, "monday", "By the way, my daughter's name is Priya.", told)
        answer = await _ask(
            models, "wednesday", "What's my daughter called?", told + timedelta(days=2)
        )
    finally:
        users.close()

    print(f"\nanswer: {answer!r}")
    assert "priya" in answer.lower()
    assert not re.search(r"\bmy\b", answer, re.IGNORECASE)  # spoken to the wearer


@pytest.mark.models
async def test_memory_question_set_is_answered_right_and_to_the_wearer(qwen, minilm) -> None:
    result = await run_memory_set(qwen, minilm)
    print(
        f"\nmemory question set: {result['right']}/{result['questions']}; wrong: {result['wrong']}"
    )
    assert result["accuracy"] >= GOAL, result["wrong"]
