"""Through the conversation: a plain lookup with one clearly matching fact is read back from
the fact, without the model; anything else still goes to the model (fake models, real store)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud.config import CloudConfig
from cloud.conversation import Conversation, Models
from cloud.memory import HashingEmbedder
from cloud.memory.user_data import UserDirectory
from protocol import AnswerDone, Message, Query, Sequencer
from tests.fakes import FakeReasoner, FakeTranscriber

NOW = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)


@pytest.fixture
def users(tmp_path: Path):
    directory = UserDirectory(tmp_path, HashingEmbedder())
    yield directory
    directory.close()


async def say(models: Models, text: str, when: datetime, session: str) -> str:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    conversation = Conversation(
        session, models, send, config=CloudConfig(), user="alice", wall_clock=lambda: when
    )
    task = asyncio.create_task(conversation.run())
    conversation.receive(Sequencer(session).make(Query, turn_id=1, text=text))
    async with asyncio.timeout(10):
        while 1 in conversation._turns or conversation.answered == 0:
            await asyncio.sleep(0.01)
    task.cancel()
    return next(m.text for m in sent if isinstance(m, AnswerDone))


async def test_a_lookup_is_answered_from_the_fact_asked_about_not_its_neighbours(users) -> None:
    reasoner = FakeReasoner()
    models = Models(transcriber=FakeTranscriber(), reasoner=reasoner, users=users)
    await say(models, "My shoe size is 43.", NOW - timedelta(days=9), "a")
    await say(models, "My shirt size is medium.", NOW - timedelta(days=5), "b")
    await say(models, "Actually my shoe size is now 44.", NOW - timedelta(days=1), "c")

    answer = await say(models, "What's my shoe size?", NOW, "d")

    assert answer == "Your shoe size is 44."
    assert reasoner.prompts == []


async def test_a_remember_request_with_a_title_is_kept_whole_and_read_back(users) -> None:
    models = Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner(), users=users)
    await say(
        models,
        "Remember that my doctor is Dr. Okafor at the Elm Street clinic.",
        NOW - timedelta(days=3),
        "a",
    )
    await say(models, "My dentist is Dr. Reyes.", NOW - timedelta(days=2), "b")

    answer = await say(models, "Who's my doctor?", NOW, "c")

    assert answer == "Your doctor is Dr. Okafor at the Elm Street clinic."


async def test_a_question_no_single_fact_answers_goes_to_the_model(users) -> None:
    reasoner = FakeReasoner()
    models = Models(transcriber=FakeTranscriber(), reasoner=reasoner, users=users)
    await say(models, "My shoe size is 43.", NOW - timedelta(days=2), "a")
    await say(models, "My shirt size is medium.", NOW - timedelta(days=1), "b")

    await say(models, "What sizes do I wear?", NOW, "c")

    prompt = reasoner.prompts[-1][-1].content
    assert "Your shoe size is 43." in prompt and "Your shirt size is medium." in prompt
