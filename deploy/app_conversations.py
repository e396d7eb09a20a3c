"""The app's Conversations page over each user's conversation records: the adapter the
gateway is given (gateway/routes/conversations.py), with the memories made from them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cloud.memory import MemoryNotFoundError, MemoryStore
from cloud.notes.conversation_store import ConversationJson, ConversationStore


class StoreConversations:
    """`ConversationAccess` over the records in each user's file under `data_dir`.

    Deleting a conversation deletes the summary and action items it left as
    memories (their source id is the conversation's), so nothing of it stays.
    """

    def __init__(
        self,
        data_dir: Path,
        memory_of: Callable[[str], MemoryStore],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.data_dir = data_dir
        self.memory_of = memory_of
        self._clock = clock

    def _store(self, user: str) -> ConversationStore:
        return ConversationStore.of_user(self.data_dir, user)

    def list_conversations(self, user: str, limit: int) -> list[ConversationJson]:
        store = self._store(user)
        try:
            return store.recent(limit)
        finally:
            store.close()

    def conversation(self, user: str, conversation_id: str) -> ConversationJson | None:
        store = self._store(user)
        try:
            return store.get(conversation_id)
        finally:
            store.close()

    def delete_conversation(self, user: str, conversation_id: str) -> bool:
        store = self._store(user)
        try:
            deleted = store.delete(conversation_id)
        finally:
            store.close()
        if deleted:
            self._forget_memories(user, {conversation_id})
        return deleted

    def forget_older_than(self, user: str, max_age_s: float) -> int:
        """Retention: records older than `max_age_s`, and their memories, are deleted."""
        store = self._store(user)
        try:
            old = store.forget_older_than(self._clock() - timedelta(seconds=max_age_s))
        finally:
            store.close()
        self._forget_memories(user, set(old))
        return len(old)

    def _forget_memories(self, user: str, conversation_ids: set[str]) -> None:
        if not conversation_ids:
            return
        memory = self.memory_of(user)
        for item in memory.export(user):
            if item.source_id in conversation_ids:
                try:
                    memory.delete(user, item.id)
                except MemoryNotFoundError:
                    pass  # deleted meanwhile: gone either way
