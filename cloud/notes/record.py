"""A conversation's notes: its timed lines, a short summary and the action items in it.

Pure: the lines come from captions (cloud/captions) with a speaker label each
(cloud/notes/speakers.py); nothing here touches audio or models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from cloud.notes.action_items import ActionItem, extract_action_items
from cloud.notes.summary import split_sentences, summarise


@dataclass(frozen=True, slots=True)
class NoteLine:
    """One caption line of the conversation: who (a label), when (seconds), what."""

    start: float
    end: float
    speaker: str
    text: str
    language: str = "en"

    def to_json(self) -> dict[str, Any]:
        return {
            "start": round(self.start, 2),
            "end": round(self.end, 2),
            "speaker": self.speaker,
            "text": self.text,
            "language": self.language,
        }


@dataclass(frozen=True, slots=True)
class ConversationNotes:
    lines: tuple[NoteLine, ...]
    summary: str
    action_items: tuple[ActionItem, ...]

    @property
    def speakers(self) -> list[str]:
        return sorted({line.speaker for line in self.lines})

    def to_json(self) -> dict[str, Any]:
        return {
            "lines": [line.to_json() for line in self.lines],
            "speakers": self.speakers,
            "summary": self.summary,
            "action_items": [item.to_json() for item in self.action_items],
        }


def take_notes(lines: Sequence[NoteLine], *, today: date | None = None) -> ConversationNotes:
    """Summary and action items for a conversation's lines ("I" is each line's speaker)."""
    kept = tuple(line for line in lines if line.text.strip())
    items = tuple(
        item
        for line in kept
        for item in extract_action_items(line.text, speaker=line.speaker, today=today)
    )
    sentences = [s for line in kept for s in split_sentences(line.text)]
    summary = summarise(sentences, commitments=[item.source for item in items])
    return ConversationNotes(lines=kept, summary=summary, action_items=items)
