"""Key/value caches of recent prompts, so a new prompt computes only what is new in it.

Every prompt opens with fixed instructions and worked examples, but there are
several such openings: fast and reasoning mode word the instructions apart,
and prompts with memories, with camera data and with neither have their own
examples. Keeping only the last turn's cache meant that a reasoning question
after a fast one recomputed everything (about 4 s instead of under 1 s on 2
cores). A few caches are kept instead (about 20 MB each for 700 tokens of the
0.5B model), and a prompt takes the one sharing the longest start with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch

# Kept caches: enough for the prompt openings in use (2 modes × 3 kinds of context).
DEFAULT_SLOTS = 6
# Reusing a cached prompt start shorter than this saves too little to bother.
MIN_SHARED_TOKENS = 32


class Croppable(Protocol):
    """What is used of transformers' DynamicCache."""

    def get_seq_length(self) -> int: ...

    def crop(self, tokens_to_remove: int) -> None: ...


@dataclass
class _Entry:
    cache: Any
    tokens: torch.Tensor


class PrefixCaches:
    """A few (cache, tokens) pairs, most recently used last. Not thread-safe: one worker uses it."""

    def __init__(self, slots: int = DEFAULT_SLOTS, min_shared: int = MIN_SHARED_TOKENS) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self._slots = slots
        self._min_shared = min_shared
        self._entries: list[_Entry] = []

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def latest_tokens(self) -> torch.Tensor | None:
        """The tokens (prompt and answer) of the most recently kept generation."""
        return self._entries[-1].tokens if self._entries else None

    def clear(self) -> None:
        self._entries.clear()

    def take(self, prompt: torch.Tensor) -> Any:
        """The cache sharing the longest start with `prompt`, cut back to that start and
        removed from the pool (generate extends it in place); None if none shares enough.

        At least one prompt token is left to compute, so generate has logits to start from.
        """
        best, best_shared = -1, 0
        for index, entry in enumerate(self._entries):
            shared = _shared_start(entry, prompt)
            if shared > best_shared:
                best, best_shared = index, shared
        if best < 0 or best_shared < self._min_shared:
            return None
        entry = self._entries.pop(best)
        held = int(entry.cache.get_seq_length())
        if held > best_shared:
            entry.cache.crop(best_shared - held)  # a negative count: drop that many from the end
        return entry.cache

    def put(self, cache: Any, tokens: torch.Tensor) -> None:
        """Keep a finished generation's cache; the least recently used goes if the pool is full."""
        self._entries.append(_Entry(cache, tokens))
        del self._entries[: -self._slots]


def _shared_start(entry: _Entry, prompt: torch.Tensor) -> int:
    held = int(entry.cache.get_seq_length())
    limit = min(held, entry.tokens.numel(), prompt.numel() - 1)
    if limit <= 0:
        return 0
    same = (entry.tokens[:limit] == prompt[:limit]).int()
    return int(same.cumprod(0).sum())
