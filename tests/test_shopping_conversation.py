"""Shopping in the conversation: a product question is answered from the wearer's data."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from cloud.config import CloudConfig
from cloud.conversation import Conversation, Models
from cloud.memory import HashingEmbedder, MemoryKind, NewMemory
from cloud.memory.user_data import UserDirectory
from protocol import AnswerDone, Control, Message, Observation, Query, Sequencer
from protocol.messages import ProductLabel
from tests.fakes import FakeReasoner, FakeTranscriber
from tests.waiting import until

NOW = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)
EDGE = Sequencer("s")
COOKIES = ProductLabel(
    name="Peanut Butter Cookies",
    ingredients="Wheat flour, sugar, peanuts 18%, palm oil, butter (milk), salt",
    allergens=("Contains: wheat, peanuts, milk.",),
)
OAT_DRINK = ProductLabel(name="Oat Drink", brand="OATLY", size="1L", price="£1.80")


def seen(product: ProductLabel, turn_id: int = 1) -> Observation:
    return EDGE.make(Observation, turn_id=turn_id, captured_at=0.0, products=(product,))


async def test_conversation_answers_can_i_eat_this_from_memory_and_the_label(
    tmp_path: Path,
) -> None:
    users = UserDirectory(tmp_path, HashingEmbedder())
    users.open("alice").memory.add(
        "alice", NewMemory(text="I'm allergic to peanuts.", time=NOW, kind=MemoryKind.FACT)
    )
    reasoner = FakeReasoner()
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    models = Models(transcriber=FakeTranscriber(), reasoner=reasoner, users=users)
    conversation = Conversation(
        "s", models, send, config=CloudConfig(), user="alice", wall_clock=lambda: NOW
    )
    task = asyncio.create_task(conversation.run())
    conversation.receive(EDGE.make(Query, turn_id=1, text="Can I eat this?", visual=True))
    conversation.receive(seen(COOKIES))
    await until(lambda: conversation.turns_finished > 0)
    task.cancel()
    users.close()

    done = [m for m in sent if isinstance(m, AnswerDone)][-1]
    assert done.text.startswith("No, it contains peanuts")
    assert conversation.settings.shopping
    assert reasoner.prompts == []  # answered from the data, not by the model


async def test_the_app_turns_shopping_mode_on_and_prices_in_view_are_remembered(
    tmp_path: Path,
) -> None:
    users = UserDirectory(tmp_path, HashingEmbedder())
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    models = Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner(), users=users)
    conversation = Conversation(
        "s", models, send, config=CloudConfig(), user="alice", wall_clock=lambda: NOW
    )
    task = asyncio.create_task(conversation.run())
    conversation.receive(EDGE.make(Control, action="shopping", value="on"))
    conversation.receive(EDGE.make(Query, turn_id=1, text="What is this?", visual=True))
    conversation.receive(seen(OAT_DRINK))
    await until(lambda: conversation.turns_finished > 0)
    task.cancel()

    prices = users.open("alice").tools.prices()
    users.close()
    assert conversation.settings.shopping
    assert [(p.product, p.price) for p in prices] == [("OATLY Oat Drink 1L", 1.8)]
