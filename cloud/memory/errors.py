"""What the memory store raises on purpose; each message says what to do next."""

from __future__ import annotations

from cloud.errors import CloudError


class MemoryStoreError(CloudError):
    """Base of every error the personal memory raises deliberately."""


class MemoryNotFoundError(MemoryStoreError):
    """No memory with that id belongs to that user.

    The same error whether the id does not exist or belongs to someone else, so
    a caller cannot probe for other users' memories.
    """


class InvalidMemoryError(MemoryStoreError, ValueError):
    """A memory, edit, query or input line is malformed; nothing was written."""
