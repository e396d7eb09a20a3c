"""Word error rate, with the text normalised so that only real mistakes count.

"Go forward 10 metres." and "go forward ten meters" are the same words to a
listener, so both sides are lower-cased, stripped of punctuation, split at
hyphens and have their digits written out in English before they are compared.
"""

from __future__ import annotations

import re

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = (
    (10**12, "trillion"),
    (10**9, "billion"),
    (10**6, "million"),
    (1000, "thousand"),
    (100, "hundred"),
)
_IRREGULAR_ORDINALS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
# Spoken forms of the abbreviations a recogniser writes; both sides get the long form.
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor"}
# British spellings a recogniser may choose where a transcript has the American one.
_SPELLINGS = {
    "metre": "meter",
    "metres": "meters",
    "centre": "center",
    "colour": "color",
    "favourite": "favorite",
    "grey": "gray",
}

_DASHES = re.compile(r"[-‐‑‒–—/]")
_TOKEN = re.compile(
    r"(?P<number>\d+(?:,\d{3})*(?:\.\d+)?)(?P<suffix>(?:st|nd|rd|th|s)(?![^\W\d_]))?"
    r"|(?P<word>[^\W\d_]+(?:'[^\W\d_]+)*)"
    r"|(?P<percent>%)"
)


def number_to_words(number: int) -> str:
    """`1990` → "one thousand nine hundred ninety" (no "and", no hyphens)."""
    if number < 0:
        return "minus " + number_to_words(-number)
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + (" " + _ONES[ones] if ones else "")
    for scale, name in _SCALES:
        if number >= scale:
            high, rest = divmod(number, scale)
            words = f"{number_to_words(high)} {name}"
            return words + (" " + number_to_words(rest) if rest else "")
    raise AssertionError("unreachable")


def normalise(text: str) -> list[str]:
    """The words of `text` as a listener would write them: lower case, no punctuation."""
    text = _DASHES.sub(" ", text.lower().replace("’", "'"))
    words: list[str] = []
    for match in _TOKEN.finditer(text):
        if match["number"]:
            words += _number_words(match["number"], match["suffix"] or "")
        elif match["word"]:
            word = match["word"]
            words.append(_SPELLINGS.get(word, _ABBREVIATIONS.get(word, word)))
        else:
            words.append("percent")
    return words


def word_error_rate(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, words in the reference), after `normalise`.

    The caller divides, so rates over many utterances can be summed correctly.
    """
    ref = normalise(reference)
    hyp = normalise(hypothesis)
    return _edit_distance(ref, hyp), len(ref)


def _number_words(digits: str, suffix: str) -> list[str]:
    whole, _, fraction = digits.replace(",", "").partition(".")
    words = number_to_words(int(whole)).split()
    if fraction:
        words += ["point", *(_ONES[int(d)] for d in fraction)]
    if suffix in ("st", "nd", "rd", "th"):
        words[-1] = _ordinal(words[-1])
    elif suffix == "s":
        words[-1] = words[-1][:-1] + "ies" if words[-1].endswith("y") else words[-1] + "s"
    return words


def _ordinal(word: str) -> str:
    if word in _IRREGULAR_ORDINALS:
        return _IRREGULAR_ORDINALS[word]
    if word.endswith("y"):
        return word[:-1] + "ieth"
    return word + "th"


def _edit_distance(ref: list[str], hyp: list[str]) -> int:
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i]
        for j, hyp_word in enumerate(hyp, start=1):
            current.append(
                min(
                    previous[j] + 1,  # deletion
                    current[j - 1] + 1,  # insertion
                    previous[j - 1] + (ref_word != hyp_word),  # substitution or match
                )
            )
        previous = current
    return previous[-1]
