"""Asking a conversation one typed question at a given time, in tests that need only the
answer's text (fake models, a real per-user store)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from cloud.config import CloudConfig
from cloud.conversation import Conversation, Models
from protocol import AnswerDone, Message, Query, Sequencer


async def say(models: Models, text: str, when: datetime, session: str, user: str = "alice") -> str:
    """`text` asked by `user` in a new session at `when`; the answer, once its turn (and
    whatever it remembers) is done."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    conversation = Conversation(
        session, models, send, config=CloudConfig(), user=user, wall_clock=lambda: when
    )
    task = asyncio.create_task(conversation.run())
    conversation.receive(Sequencer(session).make(Query, turn_id=1, text=text))
    try:
        async with asyncio.timeout(10):
            while 1 in conversation._turns or conversation.answered == 0:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
    return next(m.text for m in sent if isinstance(m, AnswerDone))
