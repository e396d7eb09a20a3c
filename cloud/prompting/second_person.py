"""The wearer's own words turned to face them: "My car is on level 3" → "Your car is on level 3".

Memories are stored as the wearer said them. Put into a prompt or an answer
unchanged, the small model reads them as its own and answers "My keys are…";
spoken back, the assistant would claim the wearer's life. Swapping the
first-person words is deterministic and cheap, and where a sentence already
speaks of "you" nothing changes.
"""

from __future__ import annotations

import re

_SWAPS = {
    "i'm": "you're",
    "i am": "you are",
    "i was": "you were",
    "i've": "you've",
    "i'll": "you'll",
    "i'd": "you'd",
    "im": "you're",
    "i": "you",
    "me": "you",
    "my": "your",
    "mine": "yours",
    "myself": "yourself",
    "we're": "you're",
    "our": "your",
    "ours": "yours",
}
_PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(word) for word in sorted(_SWAPS, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)


def to_second_person(text: str) -> str:
    """The same sentence addressed to the wearer; capitals kept at sentence starts."""
    text = text.replace("’", "'")

    def swap(match: re.Match[str]) -> str:
        said = match.group(0)
        replacement = _SWAPS[said.lower()]
        start = match.start() == 0 or text[: match.start()].rstrip().endswith((".", "!", "?", ":"))
        return replacement[:1].upper() + replacement[1:] if start else replacement

    return _PATTERN.sub(swap, text)
