"""Keeping a conversation's notes: its summary and action items become memories.

The function the cloud calls when a notes session ends (a long silence,
"stop taking notes", or the session's end); `companion notes --remember`
calls it for a recording. Each memory names its source ("conversation
notes") and the conversation's id, so the wearer can see where it came from
and delete a whole conversation; "What did I agree with Priya?" then finds
the action item, "What did I do today?" the summary. Only the public memory
API is used (`MemoryStore.add_many`, `NewMemory`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from cloud.memory.records import Memory, MemoryKind, NewMemory
from cloud.memory.store import MemoryStore
from cloud.notes.record import ConversationNotes, NoteLine
from cloud.notes.summary import split_sentences

SOURCE = "conversation notes"
# How each action item's memory begins (cloud/prompting/agreements.py reads them back).
ACTION_ITEM = "Action item agreed in a conversation: "
# Capitalised words inside a sentence that are not people ("Hi Sam" names Sam).
_NOT_NAMES = frozenset(
    "I I'm I'll I've I'd OK Okay Monday Tuesday Wednesday Thursday Friday Saturday Sunday "
    "January February March April May June July August September October November December "
    "English Mr Mrs Ms Dr".split()
)
_MAX_NAMES = 6


def remember_notes(
    store: MemoryStore,
    user: str,
    notes: ConversationNotes,
    *,
    conversation_id: str,
    started_at: datetime,
) -> list[Memory]:
    """Store the summary and each action item of one conversation; returns what was stored.

    Nothing is stored for a conversation with no words. All memories go in
    one transaction, so a conversation is never half remembered.
    """
    if not notes.lines:
        return []
    # No date in the texts: the memory's time is the conversation's, and every prompt says
    # it the way the wearer would ("yesterday at 3 pm"); a due date is spelled out, since
    # "tomorrow" said then is not tomorrow when asked.
    memories = []
    if notes.summary:
        memories.append(
            NewMemory(
                text=f"A conversation ({_who_was_there(notes)}): {notes.summary}",
                time=started_at,
                kind=MemoryKind.OBSERVATION,
                source=SOURCE,
                source_id=conversation_id,
                importance=0.6,
            )
        )
    for item in notes.action_items:
        due = f" (due {item.due:%A %-d %B})" if item.due else ""
        due = due or (f" (due {item.when})" if item.when else "")
        memories.append(
            NewMemory(
                text=f'{ACTION_ITEM}{item.who} will {item.what}{due}. They said: "{item.source}"',
                time=started_at,
                kind=MemoryKind.OBSERVATION,
                source=SOURCE,
                source_id=conversation_id,
                importance=0.8,
            )
        )
    return store.add_many(user, memories, deduplicate=False)


def _who_was_there(notes: ConversationNotes) -> str:
    """ "2 speakers; names said: Priya, Sam": the summary keeps a few sentences, and a
    name said only in a greeting is how the wearer will ask about the conversation."""
    names = mentioned_names(notes.lines)
    for item in notes.action_items:  # "Priya will book the room": a name opening a sentence
        for who in item.who.split(" and "):
            if re.fullmatch(r"[A-Z][a-z]+", who) and who not in names:
                names.append(who)
    said = f"; names said: {', '.join(names)}" if names else ""
    return f"{len(notes.speakers)} speakers{said}"


def mentioned_names(lines: Sequence[NoteLine]) -> list[str]:
    """Capitalised words past each sentence's first, in order, once each (a few at most)."""
    names: list[str] = []
    for line in lines:
        for sentence in split_sentences(line.text):
            for word in sentence.split()[1:]:
                word = word.strip('.,!?;:"()')
                if (
                    len(word) > 1
                    and word[0].isupper()
                    and word[1:].islower()
                    and word not in _NOT_NAMES
                    and word not in names
                ):
                    names.append(word)
    return names[:_MAX_NAMES]
