"""The app's Memory page over the cloud's memory store: the adapter the gateway is given."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cloud.memory import (
    InvalidMemoryError,
    MemoryChanges,
    MemoryKind,
    MemoryNotFoundError,
    MemoryStore,
    NewMemory,
)
from cloud.memory.facts import fact_slot
from cloud.tools.store import ToolStore
from gateway.memory_access import MemoryJson, MemoryRefused, NoSuchMemory


class StoreMemoryAccess:
    """`gateway.memory_access.MemoryAccess` over each user's `MemoryStore`.

    `store_of(user)` is the same store the cloud's conversations write to
    (`UserDirectory.open(user).memory`), so what a conversation remembers is
    on the Memory page at once, and a deletion there is gone from answers too.
    """

    def __init__(
        self,
        store_of: Callable[[str], MemoryStore],
        *,
        tools_of: Callable[[str], ToolStore] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store_of = store_of
        # The user's notes, reminders and prices: retention covers them with the memories.
        self.tools_of = tools_of
        self._clock = clock

    def list_memories(self, user: str, query: str, limit: int) -> list[MemoryJson]:
        if query.strip():
            hits = self.store_of(user).search(user, query, now=datetime.now(UTC), k=limit)
            return [hit.memory.to_json() for hit in hits]
        return [m.to_json() for m in self.store_of(user).list_memories(user, limit=limit)]

    def remember(self, user: str, text: str) -> MemoryJson:
        try:
            # A fact typed on the Memory page replaces an older one about the same thing
            # ("My shoe size is 44." after "… 43."), as a spoken one does.
            memory = NewMemory(
                text=text,
                time=datetime.now(UTC),
                kind=MemoryKind.EXPLICIT,
                source="app",
                slot=fact_slot(text),
            )
        except InvalidMemoryError as exc:
            raise MemoryRefused(str(exc)) from None
        return self.store_of(user).add(user, memory).to_json()

    def edit(self, user: str, memory_id: str, text: str) -> MemoryJson:
        try:
            return self.store_of(user).edit(user, memory_id, MemoryChanges(text=text)).to_json()
        except MemoryNotFoundError:
            raise NoSuchMemory(memory_id) from None
        except InvalidMemoryError as exc:
            raise MemoryRefused(str(exc)) from None

    def delete(self, user: str, memory_id: str) -> None:
        try:
            self.store_of(user).delete(user, memory_id)
        except MemoryNotFoundError:
            raise NoSuchMemory(memory_id) from None

    def export(self, user: str) -> list[MemoryJson]:
        return [m.to_json() for m in self.store_of(user).export(user)]

    def forget_older_than(self, user: str, max_age_s: float) -> int:
        """The app's retention setting, one user at a time.

        The store's own `enforce_retention` applies one policy to every user;
        this deletes one user's old memories through the store's `delete`, then
        compacts, so their text is gone from the disk and not only from search.
        """
        store = self.store_of(user)
        cutoff = self._clock() - timedelta(seconds=max_age_s)
        tools = 0 if self.tools_of is None else self.tools_of(user).forget_older_than(cutoff)
        old = [m.id for m in store.export(user) if m.time < cutoff]
        for memory_id in old:
            try:
                store.delete(user, memory_id)
            except MemoryNotFoundError:
                pass  # deleted meanwhile (the Memory page, another session): gone either way
        if old:
            store.compact()
        return len(old) + tools
