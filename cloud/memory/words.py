"""Words that carry meaning: for full-text queries and for telling near-duplicates apart.

Function words ("where", "did", "I") match almost every memory, so they are
left out of full-text queries; they are also ignored when deciding whether two
memories say the same thing in different words.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are aren as at be because been before
    being below between both but by can cannot could couldn d did didn do does doesn doing don
    down during each few for from further had hadn has hasn have haven having he her here hers
    herself him himself his how i if in into is isn it its itself just ll m ma me mightn more
    most mustn my myself needn no nor not now o of off on once only or other our ours ourselves
    out over own re s same shan she should shouldn so some such t than that the their theirs
    them themselves then there these they this those through to too under until up ve very was
    wasn we were weren what when where which while who whom why will with won would wouldn y you
    your yours yourself yourselves hey ok okay please tell remind remember know
    """.split()
)


def words(text: str) -> list[str]:
    """Lower-case words (letters and digits), in order; punctuation splits them."""
    return [match.group(0).lower() for match in _WORD.finditer(text)]


def content_words(text: str) -> frozenset[str]:
    """The words that say what a text is about, with a plural `s` dropped."""
    return frozenset(_singular(word) for word in words(text) if word not in STOPWORDS)


def fts_match_query(text: str, max_terms: int = 16) -> str | None:
    """An FTS5 MATCH expression that finds memories sharing any content word, or None.

    Each word is quoted so user text can never be read as FTS5 syntax (AND, NEAR, *, ^ …).
    """
    terms: list[str] = []
    for word in words(text):
        if word in STOPWORDS or word in terms:
            continue
        terms.append(word)
        if len(terms) == max_terms:
            break
    if not terms:
        return None
    return " OR ".join(f'"{term}"' for term in terms)


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word
