"""What the app's Memory page needs from the assistant's memory, per user.

The gateway does not import the cloud: whoever builds the gateway (the
`companion` stack) passes an object with these methods, backed today by the
cloud's SQLite memory store. Memories cross as their JSON form (what the page
shows and what an export contains: id, kind, text, source, time …).
"""

from __future__ import annotations

from typing import Any, Protocol

from gateway.errors import GatewayError

MemoryJson = dict[str, Any]


class MemoryRefused(GatewayError, ValueError):
    """The edit or the new memory is invalid; the message says why (shown to the user)."""


class NoSuchMemory(GatewayError, KeyError):
    """No memory with that id for this user (another user's id looks exactly the same)."""


class MemoryAccess(Protocol):
    def list_memories(self, user: str, query: str, limit: int) -> list[MemoryJson]:
        """The newest memories, or the best matches for `query` when it is not empty."""
        ...

    def remember(self, user: str, text: str) -> MemoryJson: ...

    def edit(self, user: str, memory_id: str, text: str) -> MemoryJson: ...

    def delete(self, user: str, memory_id: str) -> None: ...

    def export(self, user: str) -> list[MemoryJson]: ...

    def forget_older_than(self, user: str, max_age_s: float) -> int:
        """Delete, for good, the memories whose event is older than `max_age_s`; the count."""
        ...
