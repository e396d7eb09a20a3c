"""Multi-hop retrieval: a second search seeded by the first one's hits finds the other half."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.memory import HashingEmbedder, MemoryKind, NewMemory, SqliteMemoryStore
from cloud.memory.multi_hop import HopWeights, fuse, search_with_hops, seed_terms

NOW = datetime(2026, 6, 20, 20, 0, tzinfo=UTC)

TURNS = [
    "Jonah: The owner, Femi, is great. He used to race bikes in Nigeria.",
    "Jonah: Me, Mei and Femi from work are going to Kalymnos in September.",
    "Maya: The kitchen is finished, the oak worktop looks amazing.",
    "Jonah: Mei is cooking dal on Thursday.",
    "Maya: My knee is sore from the long run.",
    "Jonah: Bring your old helmet, we'll check it.",
]


@pytest.fixture
def store(tmp_path):
    with SqliteMemoryStore(tmp_path / "memory.db", HashingEmbedder()) as opened:
        opened.add_many(
            "maya",
            [
                NewMemory(
                    text=text,
                    time=NOW - timedelta(days=30 - number),
                    kind=MemoryKind.EPISODIC,
                    source_id=f"t{number}",
                )
                for number, text in enumerate(TURNS)
            ],
            deduplicate=False,
        )
        yield opened


def test_the_second_hop_finds_the_memory_that_shares_no_word_with_the_question(store):
    question = "What did the colleague going to Kalymnos used to do?"
    plain = [hit.memory.source_id for hit in store.search("maya", question, now=NOW, k=1)]
    assert plain == ["t1"]  # the first search alone finds only the Kalymnos turn
    hits = search_with_hops(store, "maya", question, now=NOW, k=2)
    assert {hit.memory.source_id for hit in hits} == {"t0", "t1"}


def test_seed_words_are_names_from_the_hits_not_the_speaker_nor_the_question(store):
    hits = store.search("maya", "Who is going to Kalymnos?", now=NOW, k=1)
    terms = seed_terms("Who is going to Kalymnos?", hits, HopWeights())
    assert terms[:2] == ["Mei", "Femi"]
    assert "Jonah" not in terms  # the speaker label of every one of his turns
    assert "Kalymnos" not in terms and "kalymnos" not in terms  # already asked


def test_a_question_with_nothing_to_seed_from_is_the_first_search_unchanged(store):
    question = "what about the xylophone"
    assert search_with_hops(store, "maya", question, now=NOW, k=3) == store.search(
        "maya", question, now=NOW, k=3
    )


def test_fusion_keeps_what_both_searches_rank_high_on_top(store):
    first = store.search("maya", "Kalymnos Femi", now=NOW, k=3)
    second = store.search("maya", "Femi Nigeria", now=NOW, k=3)
    fused = fuse(first, second, HopWeights(), k=3)
    assert len({hit.memory.id for hit in fused}) == len(fused) <= 3
    both = {hit.memory.id for hit in first} & {hit.memory.id for hit in second}
    assert fused[0].memory.id in both
