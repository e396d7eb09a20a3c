"""Conversation notes (opt-in): timed lines, a summary and the action items agreed."""

from cloud.notes.action_items import ActionItem, extract_action_items
from cloud.notes.memories import remember_notes
from cloud.notes.record import ConversationNotes, NoteLine, take_notes
from cloud.notes.speakers import label_speakers, voice_print

__all__ = [
    "ActionItem",
    "ConversationNotes",
    "NoteLine",
    "extract_action_items",
    "label_speakers",
    "remember_notes",
    "take_notes",
    "voice_print",
]
