"""What the wearer chose for this session, as the cloud hears it: Hello, then Controls.

The edge and the phone app tell the cloud their privacy and answer modes; the
cloud honours them rather than trusting every message to have been filtered:
a turn whose speech should never have left (local-only) is refused, a frame
or observation in no-camera is dropped, and a turn asked in "auto" mode takes
the session's chosen mode. Shopping mode (cloud/tools/shopping.py) is chosen
by the app (Control "shopping" "on"/"off"), by the wearer's words, or by a
shopping question about a product in view. Pure: a reducer over messages.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from protocol import ANSWER_MODES, AnswerMode, Control, Hello, PrivacyMode
from protocol.privacy import parse_privacy

# The values a Control may give an on/off setting.
SWITCH = {"on": True, "off": False, "true": True, "false": False}
# A language named for translation ("german", "de"); longer is not a language.
MAX_LANGUAGE_CHARS = 32


@dataclass(frozen=True, slots=True)
class SessionSettings:
    privacy: PrivacyMode = "standard"
    mode: AnswerMode = "auto"
    # In a shop: prices seen are remembered, and product questions use the shopping tools.
    shopping: bool = False
    # Live captions of what the wearer hears, and conversation notes (opt-in, off by
    # default; cloud/captions, cloud/notes), and the language captions are put into.
    captions: bool = False
    notes: bool = False
    translate_to: str = ""

    def mode_for(self, asked: AnswerMode) -> AnswerMode:
        """A turn's own mode wins; "auto" defers to what the wearer chose for the session."""
        return self.mode if asked == "auto" else asked


def apply_setting(settings: SessionSettings, message: Hello | Control) -> SessionSettings:
    """The settings after `message`; a Control for another setting changes nothing here."""
    if isinstance(message, Hello):
        return SessionSettings(privacy=message.privacy, mode=message.mode)
    if message.action == "privacy" and (privacy := parse_privacy(message.value)) is not None:
        return dataclasses.replace(settings, privacy=privacy)
    mode = next((m for m in ANSWER_MODES if m == message.value), None)
    if message.action == "mode" and mode is not None:
        return dataclasses.replace(settings, mode=mode)
    if message.action == "shopping" and message.value in SWITCH:
        return dataclasses.replace(settings, shopping=SWITCH[message.value])
    if message.action == "captions" and message.value in SWITCH:
        return dataclasses.replace(settings, captions=SWITCH[message.value])
    if message.action == "notes" and message.value in SWITCH:
        return dataclasses.replace(settings, notes=SWITCH[message.value])
    if message.action == "translate" and len(message.value) <= MAX_LANGUAGE_CHARS:
        return dataclasses.replace(settings, translate_to=message.value.strip().lower())
    return settings
