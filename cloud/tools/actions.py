"""Carrying out a recognised request and saying, in one sentence, what was done.

The sentence is a template, never the model's: a confirmation must say
exactly what was stored. "Where did I leave X" is answered from the wearer's
own memories (what they said, what the glasses saw), newest relevant first.
"""

from __future__ import annotations

from datetime import datetime

from cloud.memory.facts import extract_facts
from cloud.memory.records import MemoryKind, NewMemory, SearchHit
from cloud.memory.store import MemoryStore
from cloud.memory.words import content_words
from cloud.prompting.second_person import to_second_person
from cloud.prompting.spoken_time import spoken_clock, spoken_duration, spoken_list, spoken_moment
from cloud.tools.intents import (
    SHOPPING_INTENTS,
    AddNote,
    AddToList,
    ClearList,
    FindThing,
    Intent,
    ListNotes,
    ListReminders,
    ReadList,
    Remember,
    RemoveFromList,
    SetReminder,
    SetTimer,
)
from cloud.tools.shopping import answer_shopping
from cloud.tools.store import ToolStore
from protocol.messages import Observation

# A memory this unlike the question is not about the thing asked for.
FIND_MIN_COSINE = 0.3
FIND_CANDIDATES = 10


def perform(
    intent: Intent,
    *,
    tools: ToolStore,
    memory: MemoryStore,
    user: str,
    now: datetime,
    source_id: str | None = None,
    seen: Observation | None = None,
) -> str:
    """Do what was asked; the sentence to say back. `seen`: the turn's camera context,
    which the shopping requests are about."""
    if isinstance(intent, SetReminder):
        if intent.due is None:
            return f"When should I remind you to {to_second_person(intent.what)}? Say, for example, in 10 minutes or at 5 pm."
        what = to_second_person(intent.what)
        tools.add_reminder(what, intent.due, now, "reminder")
        return f"OK, I'll remind you to {what} {_due_phrase(intent.due, now)}."
    if isinstance(intent, ListReminders):
        pending = tools.pending_reminders()
        if not pending:
            return "You have no reminders set."
        said = [f"{r.text} {_due_phrase(r.due, now)}" for r in pending if r.category == "reminder"]
        timers = sum(1 for r in pending if r.category == "timer")
        parts = [f"to {spoken_list(said)}"] if said else []
        if timers:
            parts.append(f"{timers} timer{'s' if timers > 1 else ''} running")
        return (
            "You have reminders " + " and ".join(parts) + "." if said else f"You have {parts[0]}."
        )
    if isinstance(intent, SetTimer):
        spoken = spoken_duration(intent.duration)
        tools.add_reminder(f"Your timer for {spoken} is done.", now + intent.duration, now, "timer")
        return f"Timer set for {spoken}."
    if isinstance(intent, AddNote):
        tools.add_note(intent.text, now)
        return f"Noted: {intent.text}."
    if isinstance(intent, ListNotes):
        notes = tools.notes()
        if not notes:
            return "You have no notes yet."
        return (
            f"You have {len(notes)} note{'s' if len(notes) > 1 else ''}: " + "; ".join(notes) + "."
        )
    if isinstance(intent, AddToList):
        tools.add_items(list(intent.items), now)
        return f"Added {spoken_list(list(intent.items))} to your shopping list."
    if isinstance(intent, RemoveFromList):
        removed = tools.remove_items(list(intent.items))
        if not removed:
            return f"{spoken_list(list(intent.items)).capitalize()} wasn't on your shopping list."
        return f"Removed {spoken_list(list(intent.items))} from your shopping list."
    if isinstance(intent, ReadList):
        items = tools.items()
        if not items:
            return "Your shopping list is empty."
        return f"Your shopping list has {spoken_list(items)}."
    if isinstance(intent, ClearList):
        tools.clear_items()
        return "Your shopping list is now empty."
    if isinstance(intent, FindThing):
        return find_thing(memory, user, intent.thing, now)
    if isinstance(intent, SHOPPING_INTENTS):
        return answer_shopping(intent, seen, tools=tools, memory=memory, user=user, now=now)
    assert isinstance(intent, Remember)
    return remember(memory, user, intent.text, now, source_id=source_id)


def find_thing(memory: MemoryStore, user: str, thing: str, now: datetime) -> str:
    """The latest memory that places the thing, said back to the wearer with when it was."""
    wanted = content_words(thing)
    hits = memory.search(user, f"where is my {thing}", now=now, k=FIND_CANDIDATES)
    placing = [hit for hit in hits if _mentions(hit, wanted)]
    if not placing:
        return f"I don't remember where your {thing} {'are' if thing.endswith('s') else 'is'}."
    latest = max(placing, key=lambda hit: hit.memory.time)
    when = spoken_moment(latest.memory.time, now)
    said = to_second_person(latest.memory.text).rstrip(".")
    if latest.memory.kind == MemoryKind.OBSERVATION:
        return f"The last time I saw your {thing} was {when}: {said}."
    return f"{said}. You told me that {when}."


def remember(
    memory: MemoryStore, user: str, said: str, now: datetime, *, source_id: str | None
) -> str:
    """Store what the wearer asked to keep; the confirmation repeats it back to them."""
    facts = [fact for fact in extract_facts(said) if fact.kind == MemoryKind.EXPLICIT]
    if not facts:
        return "What should I remember? Tell me the whole thing, for example: remember that my car is on level 3."
    memory.add_many(
        user,
        [fact.to_memory(time=now, source="conversation", source_id=source_id) for fact in facts],
    )
    kept = " ".join(to_second_person(fact.text) for fact in facts)
    return f"OK, I'll remember: {kept}"


def _mentions(hit: SearchHit, wanted: frozenset[str]) -> bool:
    if hit.cosine < FIND_MIN_COSINE and hit.text_rank is None:
        return False
    return bool(wanted & content_words(hit.memory.text))


def _due_phrase(due: datetime, now: datetime) -> str:
    seconds = (due - now).total_seconds()
    if seconds < 3600:
        return f"in {spoken_duration(due - now)}"
    local = due.astimezone(now.tzinfo)
    if local.date() == now.date():
        return f"at {spoken_clock(local)}"
    return spoken_moment(due, now)


__all__ = ["FIND_MIN_COSINE", "NewMemory", "find_thing", "perform", "remember"]
