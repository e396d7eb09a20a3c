"""PrefixCaches: a prompt reuses the kept cache sharing the longest start with it."""

from __future__ import annotations

import pytest
import torch

from cloud.reasoning.prefix_cache import PrefixCaches


class FakeCache:
    """Holds a sequence length and crops like transformers' DynamicCache (negative counts)."""

    def __init__(self, length: int) -> None:
        self.length = length

    def get_seq_length(self) -> int:
        return self.length

    def crop(self, tokens_to_remove: int) -> None:
        assert tokens_to_remove < 0
        self.length += tokens_to_remove


def tokens(*runs: tuple[int, int]) -> torch.Tensor:
    """Concatenated runs of (value, count) tokens."""
    return torch.cat([torch.full((count,), value) for value, count in runs])


def kept(caches: PrefixCaches, sequence: torch.Tensor) -> FakeCache:
    cache = FakeCache(sequence.numel())
    caches.put(cache, sequence)
    return cache


def test_the_prompt_takes_the_cache_with_the_longest_shared_start_cut_back_to_it() -> None:
    caches = PrefixCaches(min_shared=4)
    fast = kept(caches, tokens((1, 40), (2, 10)))  # the fast opening, then its question
    reasoning = kept(caches, tokens((1, 10), (3, 40)))  # another opening, sharing 10 tokens

    taken = caches.take(tokens((1, 40), (5, 12)))

    assert taken is fast and fast.length == 40
    assert len(caches) == 1
    assert caches.take(tokens((1, 10), (3, 40), (6, 3))) is reasoning and reasoning.length == 50
    assert len(caches) == 0 and caches.latest_tokens is None


def test_the_latest_tokens_are_the_last_kept_generation() -> None:
    caches = PrefixCaches()
    kept(caches, tokens((1, 40)))
    kept(caches, tokens((2, 40)))

    latest = caches.latest_tokens
    assert latest is not None and int(latest[0]) == 2
    caches.clear()
    assert len(caches) == 0


def test_a_prompt_sharing_too_little_starts_afresh_and_loses_nothing() -> None:
    caches = PrefixCaches(min_shared=32)
    kept(caches, tokens((1, 20), (2, 30)))

    assert caches.take(tokens((1, 20), (9, 30))) is None
    assert len(caches) == 1


def test_one_prompt_token_is_always_left_to_compute() -> None:
    caches = PrefixCaches(min_shared=4)
    same = tokens((1, 50))
    cache = kept(caches, same)

    assert caches.take(same) is cache and cache.length == 49


def test_the_least_recently_kept_cache_goes_when_the_pool_is_full() -> None:
    caches = PrefixCaches(slots=2, min_shared=4)
    kept(caches, tokens((1, 40)))
    second = kept(caches, tokens((2, 40)))
    third = kept(caches, tokens((3, 40)))

    assert len(caches) == 2
    assert caches.take(tokens((1, 41))) is None
    assert caches.take(tokens((2, 41))) is second and caches.take(tokens((3, 41))) is third


def test_no_slots_is_refused() -> None:
    with pytest.raises(ValueError, match="slots"):
        PrefixCaches(slots=0)
