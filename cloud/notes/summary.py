"""A short extractive summary: the conversation's own most telling sentences, in order.

Extractive on purpose: the bundled 0.5B reasoner, asked to summarise, invents
agreements nobody made, and a summary is stored as a memory the wearer will
trust. Each sentence is scored by how many of the conversation's recurring
content words it carries (per square root of its length, so long sentences
do not win by size); sentences holding a commitment score extra; questions,
greetings and sentences of under four words are not candidates.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"[a-z][a-z']+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_STOP = set(
    """a about after again all also am an and any are as at be been before being but by can
    could did do does doing for from had has have having he her here hers him his how i i'll
    i'm if in into is it it's its just let let's me more most my no nor not now of off on
    once only or other our ours out over own same she so some such than that that's the their
    them then there these they this those through to too under until up very was we we'll
    were what when where which while who whom why will with would you your yes yeah okay ok
    sure right well thanks thank good great really much one next time""".split()
)
_GREETING = re.compile(r"^(?:hi|hello|hey|thanks|thank you|bye|goodbye)\b", re.IGNORECASE)


def summarise(sentences: Sequence[str], *, commitments: Sequence[str] = (), most: int = 3) -> str:
    """Up to `most` sentences of `sentences`, in their order; `commitments` are sentences
    known to hold an action item (they rank higher)."""
    candidates = [s.strip() for s in sentences if s.strip()]
    counts = Counter(w for s in candidates for w in _content_words(s))
    recurring = {w: c for w, c in counts.items() if c >= 2} or dict(counts)
    promised = set(commitments)
    scored = []
    for index, sentence in enumerate(candidates):
        words = _content_words(sentence)
        if sentence.endswith("?") or len(sentence.split()) < 4 or _GREETING.match(sentence):
            continue
        score = sum(recurring.get(w, 0) for w in set(words)) / math.sqrt(len(words) or 1)
        if sentence in promised:
            score += 1.0
        scored.append((score, index))
    chosen = sorted(index for _, index in sorted(scored, reverse=True)[:most])
    return " ".join(candidates[i] for i in chosen)


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def _content_words(sentence: str) -> list[str]:
    return [w for w in _WORD.findall(sentence.lower()) if w not in _STOP]
