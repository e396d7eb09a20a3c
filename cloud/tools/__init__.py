"""What the assistant can do besides talk: reminders, timers, notes, a shopping list, finding things.

`parse_intent` recognises a request in plain words (deterministic, so the
bundled small model is never trusted with a confirmation); `ToolStore` keeps
the results in the user's own SQLite file; `perform` carries an intent out and
says what it did in one sentence.
"""

from cloud.tools.actions import perform
from cloud.tools.intents import Intent, parse_intent
from cloud.tools.store import Reminder, ToolStore

__all__ = ["Intent", "Reminder", "ToolStore", "parse_intent", "perform"]
