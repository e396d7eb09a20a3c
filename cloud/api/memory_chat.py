"""Personal memory in OpenAI-compatible chat requests, for the user the bearer token names.

A client of `/v1/chat/completions` (an editor, a chat front end) sends its own
messages; the cloud recalls the user's memories for the last user message the
same way a session does (cloud/prompting/recall.py) and writes the prompt the same way
(cloud/prompting/memory_prompt.py), so the bundled model answers to "you" from what it
remembers. The client's own system instructions and earlier turns are kept:
its instructions follow ours in the system message, its earlier turns come
after our worked examples and before the question. With no relevant memory
the request goes to the model as the client sent it.

Only the token decides whose store is read: user B's token opens B's store,
and every search is keyed by that user as well.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from cloud.config import CloudConfig
from cloud.conversation import local_now
from cloud.memory.records import Memory
from cloud.memory.user_data import UserDirectory
from cloud.prompting.memory_prompt import build_answer_messages
from cloud.prompting.recall import recall
from cloud.reasoning.modes import choose_mode
from cloud.reasoning.reasoner import ChatMessage

log = logging.getLogger(__name__)


def with_memories(
    messages: Sequence[ChatMessage], memories: Sequence[Memory], *, now: datetime, mode: str
) -> list[ChatMessage]:
    """The client's chat with the memory prompt around its last user message."""
    last = _last_user_index(messages)
    if not memories or last is None:
        return list(messages)
    built = build_answer_messages(
        messages[last].content, memories=memories, now=now, ocr_lines=(), labels=(), mode=mode
    )
    system, *examples, question = built
    own_rules = [m.content for m in messages if m.role == "system" and m.content.strip()]
    if own_rules:
        system = ChatMessage(
            role="system",
            content=system.content + "\n\nThe client's instructions:\n" + "\n".join(own_rules),
        )
    history = [m for m in messages[:last] if m.role != "system"]
    question = ChatMessage(role="user", content=question.content, images=messages[last].images)
    return [system, *examples, *history, question]


class MemoryPersonaliser:
    """Adds a user's relevant memories to a chat request, from the same stores sessions use."""

    def __init__(
        self,
        users: UserDirectory,
        config: CloudConfig,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._users = users
        self._config = config
        self._clock = clock or local_now

    async def __call__(self, user: str, messages: Sequence[ChatMessage]) -> list[ChatMessage]:
        last = _last_user_index(messages)
        if last is None:
            return list(messages)
        mode, question = choose_mode("", messages[last].content)
        now = self._clock()
        try:
            memories = await asyncio.to_thread(self._recall, user, question, mode, now)
        except Exception as exc:  # answer without memory rather than not at all
            log.warning("memory search for an API request failed: %s", exc)
            return list(messages)
        return with_memories(messages, memories, now=now, mode=mode)

    def _recall(self, user: str, question: str, mode: str, now: datetime) -> list[Memory]:
        data = self._users.open(user)
        return recall(
            data.memory,
            user,
            question,
            mode=mode,
            now=now,
            k_fast=self._config.memory_k_fast,
            k_reasoning=self._config.memory_k_reasoning,
            min_cosine=self._config.memory_min_cosine,
        )


def _last_user_index(messages: Sequence[ChatMessage]) -> int | None:
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == "user":
            return i
    return None
