"""Fast or reasoning: chosen per question.

An explicit `mode` on the Query or SpeechSegment wins. Otherwise a phrase in
the question ("think about it", "take your time") asks for reasoning, and
that phrase is taken out of the question so the model answers the question,
not the phrase. With neither, a small router sends questions that want
explaining, planning, comparing or deciding to reasoning, and everything else
(lookups, "what does this say", "where are my keys") to fast.
"""

from __future__ import annotations

import re

FAST = "fast"
REASONING = "reasoning"

_I = re.IGNORECASE
_ASK_FOR_REASONING = re.compile(
    r"[\s,.;:-]*\b(?:think (?:about it|about this|it through|it over|carefully|hard)"
    r"|take your time|step by step|reason it (?:out|through)|in (?:more )?detail)\b[\s,.;:-]*",
    _I,
)
_ASK_FOR_SPEED = re.compile(
    r"[\s,.;:-]*\b(?:quick(?:ly)?|in (?:a|one) word|briefly)\b[\s,.;:-]*", _I
)
_NEEDS_REASONING = re.compile(
    r"^(?:why\b|explain\b|compare\b|plan\b|help me (?:plan|decide|figure|choose|work out)"
    r"|how (?:should|would|could|can|do) i\b|should i\b|what(?:'s| is) the best way\b"
    r"|what would happen\b|what are the (?:pros|differences|options)\b|which (?:is|one is) better\b)",
    _I,
)
# Questions this long are rarely a quick lookup.
LONG_QUESTION_WORDS = 25


def choose_mode(requested: str, question: str) -> tuple[str, str]:
    """The mode to answer in, and the question with any mode phrase taken out."""
    asked, reasoning_phrases = _ASK_FOR_REASONING.subn(" ", question)
    asked = asked.strip() or question
    if requested in (FAST, REASONING):
        return requested, asked
    if reasoning_phrases:
        return REASONING, asked
    if _ASK_FOR_SPEED.search(question):
        return FAST, question
    opening = re.sub(
        r"^(?:(?:hey|ok|okay|so|companion|please)\b[\s,]*)+", "", asked.strip(), flags=_I
    )
    if _NEEDS_REASONING.match(opening) or len(asked.split()) >= LONG_QUESTION_WORDS:
        return REASONING, asked
    return FAST, asked
