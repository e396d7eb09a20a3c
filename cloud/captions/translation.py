"""Captions put into the wearer's language ("translate to Spanish") by the reasoner.

Whisper translates only into English; the other direction asks the session's
reasoner to translate each final caption line. On the bundled 0.5B model this
is experimental (`companion bench translation --json` measures it): it is a
small coding model, and its translations are rough.
"""

from __future__ import annotations

import asyncio
import logging

from cloud.captions.commands import LANGUAGE_NAMES
from cloud.reasoning.reasoner import ChatMessage, Reasoner

log = logging.getLogger(__name__)

# Tokens per word of the line, and at least this many: room for a longer language.
_TOKENS_PER_WORD = 4
_MIN_TOKENS = 24


def translation_messages(text: str, language: str) -> list[ChatMessage]:
    """The prompt: the line alone, one instruction, no conversation around it."""
    name = LANGUAGE_NAMES[language]
    return [
        ChatMessage(
            "system",
            f"You are a translator. Translate every English text the user sends into {name}. "
            f"Answer with the {name} text only.",
        ),
        ChatMessage("user", text),
    ]


class CaptionTranslator:
    """Translates final caption lines with `reasoner`, one at a time under `lock`."""

    def __init__(
        self,
        reasoner: Reasoner,
        *,
        lock: asyncio.Lock,
        timeout_s: float = 30.0,
    ) -> None:
        self.reasoner = reasoner
        self.lock = lock
        self.timeout_s = timeout_s

    async def translate(self, text: str, language: str) -> str:
        """`text` in `language` (an ISO 639-1 code we name), or "" if it cannot be."""
        if language not in LANGUAGE_NAMES or language == "en" or not text.strip():
            return ""
        budget = max(_MIN_TOKENS, _TOKENS_PER_WORD * len(text.split()))
        pieces: list[str] = []
        try:
            async with self.lock, asyncio.timeout(self.timeout_s):
                async for piece in self.reasoner.stream(
                    translation_messages(text, language), max_new_tokens=budget
                ):
                    pieces.append(piece)
        except Exception as exc:  # the English line is shown either way
            log.warning("translating a caption into %s failed: %s", language, exc)
            return ""
        return " ".join("".join(pieces).split()).strip().strip('"')
