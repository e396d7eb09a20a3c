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

from datetime import datetime

from cloud.memory.records import Memory, MemoryKind, NewMemory
from cloud.memory.store import MemoryStore
from cloud.notes.record import ConversationNotes

SOURCE = "conversation notes"
# How each action item's memory begins (cloud/prompting/agreements.py reads them back).
ACTION_ITEM = "Action item agreed in a conversation: "


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
                text=f"A conversation ({len(notes.speakers)} speakers): {notes.summary}",
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
