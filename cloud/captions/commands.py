"""The wearer's spoken switches for captions, notes and translation.

"Captions on", "turn off captions", "start taking notes", "stop taking notes",
"translate to Spanish", "stop translating": each is a setting (a Control's
action and value, as the app's toggles send), not a question. The whole
utterance must be the command, so "what are captions on TV?" stays a question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORDS = re.compile(r"[a-z]+")
_POLITE = {"please", "companion", "hey", "ok", "okay", "now", "the", "can", "you", "could"}

# Languages the bundled reasoner can be asked to write, by the names people say.
LANGUAGES = {
    "english": "en",
    "german": "de",
    "spanish": "es",
    "french": "fr",
    "italian": "it",
    "portuguese": "pt",
    "dutch": "nl",
    "chinese": "zh",
    "japanese": "ja",
}
LANGUAGE_NAMES = {code: name.capitalize() for name, code in LANGUAGES.items()}


@dataclass(frozen=True, slots=True)
class Switch:
    """A setting the wearer said: `action` ("captions", "notes", "translate") and `value`."""

    action: str
    value: str

    @property
    def confirmation(self) -> str:
        if self.action == "translate":
            if not self.value:
                return "Captions are in English again."
            return f"Captions will be translated into {LANGUAGE_NAMES[self.value]}."
        if self.action == "notes":
            return (
                "Taking notes of this conversation."
                if self.value == "on"
                else "Stopped taking notes; the conversation is saved."
            )
        return "Captions on." if self.value == "on" else "Captions off."


_SWITCHES: dict[tuple[str, ...], Switch] = {
    ("captions", "on"): Switch("captions", "on"),
    ("turn", "on", "captions"): Switch("captions", "on"),
    ("start", "captions"): Switch("captions", "on"),
    ("show", "captions"): Switch("captions", "on"),
    ("captions", "off"): Switch("captions", "off"),
    ("turn", "off", "captions"): Switch("captions", "off"),
    ("stop", "captions"): Switch("captions", "off"),
    ("hide", "captions"): Switch("captions", "off"),
    ("start", "taking", "notes"): Switch("notes", "on"),
    ("take", "notes"): Switch("notes", "on"),
    ("notes", "on"): Switch("notes", "on"),
    ("stop", "taking", "notes"): Switch("notes", "off"),
    ("notes", "off"): Switch("notes", "off"),
    ("stop", "translating"): Switch("translate", ""),
    ("stop", "translation"): Switch("translate", ""),
}


def parse_switch(said: str) -> Switch | None:
    """The switch `said` is, or None for anything else (a question)."""
    words = tuple(
        "captions" if w == "caption" else w  # "turn on caption": the same switch
        for w in _WORDS.findall(said.lower())
        if w not in _POLITE
    )
    if words in _SWITCHES:
        return _SWITCHES[words]
    if len(words) in (3, 4) and words[0] == "translate" and words[1] in ("to", "into"):
        name = words[-1] if len(words) == 3 else ""
        if name in LANGUAGES:
            code = LANGUAGES[name]
            return Switch("translate", "" if code == "en" else code)
    return None
