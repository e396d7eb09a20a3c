"""The tools as JSON-schema functions, for backends that call tools themselves.

A large model on an OpenAI-compatible server may ask for a tool instead of
(or besides) answering; each call becomes the same Intent the deterministic
parser produces, so the tool runs the same code and confirms with the same
sentence. A call with bad arguments becomes None and is ignored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cloud.tools.intents import (
    AddNote,
    AddToList,
    FindThing,
    Intent,
    ReadList,
    Remember,
    SetReminder,
    SetTimer,
)
from cloud.tools.when import parse_when


def _function(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": list(properties),
            },
        },
    }


_TEXT = {"type": "string"}
TOOL_SPECS: list[dict[str, Any]] = [
    _function(
        "set_reminder",
        "Remind the user of something at a time, e.g. when='in 10 minutes' or 'at 5 pm'.",
        {"what": _TEXT, "when": _TEXT},
    ),
    _function("set_timer", "Start a timer.", {"seconds": {"type": "number"}}),
    _function("add_note", "Keep a note for the user.", {"text": _TEXT}),
    _function(
        "add_to_shopping_list",
        "Add items to the user's shopping list.",
        {"items": {"type": "array", "items": _TEXT}},
    ),
    _function("read_shopping_list", "What is on the user's shopping list.", {}),
    _function(
        "find_thing", "Where the user last left or put something (e.g. 'keys').", {"thing": _TEXT}
    ),
    _function(
        "remember",
        "Keep a fact the user asked you to remember, in their words.",
        {"text": _TEXT},
    ),
]


def intent_from_call(name: str, arguments: dict[str, Any], now: datetime) -> Intent | None:
    """The Intent a tool call stands for, or None when its arguments make no sense."""
    try:
        if name == "set_reminder":
            return SetReminder(str(arguments["what"]), parse_when(str(arguments["when"]), now))
        if name == "set_timer":
            seconds = float(arguments["seconds"])
            return SetTimer(timedelta(seconds=seconds)) if 0 < seconds <= 86_400 else None
        if name == "add_note":
            return AddNote(str(arguments["text"]))
        if name == "add_to_shopping_list":
            items = tuple(
                str(item).strip().lower() for item in arguments["items"] if str(item).strip()
            )
            return AddToList(items) if items else None
        if name == "read_shopping_list":
            return ReadList()
        if name == "find_thing":
            return FindThing(str(arguments["thing"]))
        if name == "remember":
            return Remember("Remember that " + str(arguments["text"]))
    except (KeyError, TypeError, ValueError):
        return None
    return None
