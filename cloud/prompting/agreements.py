"""What was agreed, read back from the action items that conversation notes kept.

"What did I agree with Priya?" is answered from the newest noted conversation
whose memories mention Priya: each action item agreed in it, with when the
conversation was. The small model, shown the items and the conversation's
summary, tends to blur them into one ("Priya agreed with the budget"); read
back, each keeps its who, what and due date. None for any other question, or
when no noted conversation fits, so the model still answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from cloud.memory.records import Memory
from cloud.memory.store import MemoryStore
from cloud.notes.memories import ACTION_ITEM, SOURCE
from cloud.prompting.spoken_time import spoken_moment

_ASKS_AGREED = re.compile(
    r"^(?:what|which)\b.*\b(?:agree|agreed|promise|promised|commit|committed|decide|decided)\b"
    r"|\baction items?\b",
    re.IGNORECASE,
)
# Whom it was agreed with: a capitalised word past the question's first ("What did I
# agree with Priya?", "What did Priya and I decide?", "What did I promise Sam?").
_NAMED = re.compile(r"(?<=\s)([A-Z][a-z][\w'-]*)")
# Speaker labels of the notes ("S1"): the wearer is one of them, but which is not known.
_LABEL = re.compile(r"\bS\d+\b")


# Action items searched for beside the question's own recall: a conversation's items are
# read back together, while recall keeps only the few nearest the question's words.
AGREEMENT_RECALL = 24


def asks_agreements(question: str) -> bool:
    return _ASKS_AGREED.search(" ".join(question.replace("’", "'").split())) is not None


def recall_agreements(
    store: MemoryStore, user: str, question: str, recalled: Sequence[Memory], now: datetime
) -> str | None:
    """`agreements_answer` over the question's recall and the stored action items."""
    if not asks_agreements(question):
        return None
    hits = store.search(user, f"{ACTION_ITEM}{question}", now=now, k=AGREEMENT_RECALL)
    return agreements_answer(question, [*recalled, *(hit.memory for hit in hits)], now)


def agreements_answer(question: str, memories: Sequence[Memory], now: datetime) -> str | None:
    asked = " ".join(question.replace("’", "'").split())
    if not _ASKS_AGREED.search(asked):
        return None
    unique = {m.id: m for m in memories}.values()
    noted = [m for m in unique if m.source == SOURCE and not m.replaced]
    conversations: dict[str, list[Memory]] = {}
    for memory in noted:
        conversations.setdefault(memory.source_id or "", []).append(memory)
    named = _NAMED.search(asked)
    if named is not None:
        name = re.compile(rf"\b{re.escape(named.group(1))}\b", re.IGNORECASE)
        conversations = {
            key: kept
            for key, kept in conversations.items()
            if any(name.search(m.text) for m in kept)
        }
    with_items = {
        key: [m for m in kept if m.text.startswith(ACTION_ITEM)]
        for key, kept in conversations.items()
    }
    with_items = {key: items for key, items in with_items.items() if items}
    if not with_items:
        return None
    items = max(with_items.values(), key=lambda found: found[0].time)
    agreed = "; ".join(_item(memory.text) for memory in items)
    when = spoken_moment(items[0].time, now)
    return f"{when[:1].upper()}{when[1:]}, you agreed: {agreed}."


def _item(text: str) -> str:
    """ "Priya will book the room (due Monday 7 December)", from the stored action item."""
    said = text.removeprefix(ACTION_ITEM).split(' They said: "', 1)[0].rstrip(". ")
    return _LABEL.sub("one of you", said)
