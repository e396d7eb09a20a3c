"""Sentences in what the wearer said, without cutting at "Dr.", "a.m." or "3.5".

A full stop ends a sentence only where a sentence can end. Cutting "Remember
that my doctor is Dr. Okafor at the Elm Street clinic." after "Dr." stored
"Your doctor is Dr." and lost the rest, so:

- titles ("Dr.", "Mr.", "Mrs.", "Ms.", "Prof.", "St.") are always followed by
  more of the same sentence;
- initials ("J. R. R. Tolkien") and decimals ("3.5", "9.30") are never ends;
- "a.m.", "p.m.", "e.g.", "i.e.", "etc.", "Ave." and the like end a sentence
  only when what follows starts like a new sentence (a capital that is not a
  weekday, a month or a name-like word after "St."): "at 9 a.m. on Friday"
  stays whole, "at 9 a.m. Then lunch." is two.
"""

from __future__ import annotations

import re

# Always followed by a name: a full stop after them never ends a sentence.
_TITLES = frozenset(
    "dr mr mrs ms mx prof st mt sr jr rev fr sgt capt col gen lt hon messrs".split()
)
# Abbreviations that can also close a sentence ("…at 9 a.m.").
_ABBREVIATIONS = frozenset(
    """a.m p.m e.g i.e etc vs approx ave rd blvd ln no nos tel est dept univ inc ltd co corp
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun
    min mins hr hrs sec secs mg ml kg km cm mm oz lb lbs ft in""".split()
)
# Capitalised words that commonly follow "a.m." or "Ave." inside one sentence.
_CAPITALISED_INSIDE = frozenset(
    """monday tuesday wednesday thursday friday saturday sunday january february march april may
    june july august september october november december""".split()
)
_CANDIDATE = re.compile(r"[.!?;]+[\"')\]]*\s+")
_LAST_TOKEN = re.compile(r"(\S+)$")


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, each with its own closing punctuation, whitespace tidied."""
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for match in _CANDIDATE.finditer(text):
        end = match.end()
        before = text[start : match.start() + len(match.group(0).rstrip())]
        after = text[end:]
        if _ends_here(before, after):
            sentence = text[start:end].strip()
            if sentence:
                sentences.append(sentence)
            start = end
    rest = text[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def _ends_here(before: str, after: str) -> bool:
    """Whether the punctuation at the end of `before` closes a sentence, given what follows."""
    stripped = before.rstrip("\"')] ")
    if not stripped.endswith("."):
        return True  # "!", "?", ";" always end one
    token_match = _LAST_TOKEN.search(stripped[:-1])
    token = token_match.group(1) if token_match else ""
    word = token.lstrip("\"'([").lower()
    if not after:
        return True
    next_word = after.split(" ", 1)[0].strip("\"'([,")
    if word in _TITLES:
        return False
    if re.fullmatch(r"[a-z]", word) and token[-1:].isupper():
        return False  # an initial: "J. R. R. Tolkien"
    if re.fullmatch(r"(?:[a-z]\.)+[a-z]", word) or word in _ABBREVIATIONS:
        return _starts_sentence(next_word)
    return True


def _starts_sentence(word: str) -> bool:
    if not word or not word[0].isupper():
        return False
    return word.lower() not in _CAPITALISED_INSIDE
