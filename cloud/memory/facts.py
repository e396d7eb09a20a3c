"""Facts worth remembering in what the wearer says: deterministic rules, precision first.

A missed fact costs little (the turn itself is still stored as an episodic
memory); a wrong one misleads every later answer. So each rule matches one
well-known first-person pattern at the start of a sentence, questions are
never facts, and a negation or a condition ("if …", "I'm not …") matches no
rule. The output is a short first-person sentence in canonical form
("I'm allergic to peanuts.").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from cloud.memory.records import MemoryKind, NewMemory


@dataclass(frozen=True)
class ExtractedFact:
    """One fact found in an utterance, and the rule that found it (for tests and logs)."""

    text: str
    kind: MemoryKind
    importance: float
    rule: str

    def to_memory(
        self,
        *,
        time: datetime,
        source: str = "conversation",
        source_id: str | None = None,
        place: str | None = None,
    ) -> NewMemory:
        return NewMemory(
            text=self.text,
            time=time,
            kind=self.kind,
            source=source,
            source_id=source_id,
            place=place,
            importance=self.importance,
        )


_FLAGS = re.IGNORECASE

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")
_FILLER = re.compile(
    r"^(?:(?:hey|hi|ok|okay|oh|so|well|um+|uh+|also|and|btw|fyi|alright|right|companion"
    r"|by the way|just so you know|for the record|for your information|just)\b[\s,:—-]*)+",
    _FLAGS,
)
_QUESTION_START = re.compile(
    r"^(?:where|what|when|who|whom|whose|which|why|how|is|are|am|was|were|do|does|did|can|could"
    r"|should|would|will|shall|have|has|had|may|might)\b",
    _FLAGS,
)
_PLACE_PREP = (
    r"on top of|in front of|next to|on|in|at|under|underneath|behind|beside|near|by|inside"
    r"|outside|above|below"
)
_PRONOUN_OBJECT = re.compile(
    r"^(?:it|that|this|them|you|him|her|those|these|one|so|too|much|a lot)\b", _FLAGS
)
_VAGUE_OWNED = frozenset(
    """mind head heart life turn fault pleasure point guess god goodness word bad problem issue
    question answer idea plan job way day""".split()
)
_I_AM = r"(?:i'm|i am|im)"

# Each rule: (name, pattern matched at the start of a cleaned sentence, template, importance).
_RULES: tuple[tuple[str, re.Pattern[str], str, float], ...] = (
    (
        "allergy",
        re.compile(
            rf"^{_I_AM}\s+(?:(?:very|severely|really|quite|also|extremely)\s+)?allergic to\s+(?P<what>.+)",
            _FLAGS,
        ),
        "I'm allergic to {what}.",
        0.9,
    ),
    (
        "diet",
        re.compile(
            rf"^{_I_AM}\s+(?:a\s+)?(?P<what>vegetarian|vegan|pescatarian|diabetic|lactose intolerant"
            r"|gluten intolerant|coeliac|celiac|pregnant|on a \w+ diet)\b(?P<rest>)",
            _FLAGS,
        ),
        "I'm {what}.",
        0.8,
    ),
    (
        "diet",
        re.compile(
            r"^i (?P<verb>can't|cannot|can not|don't|do not|never) (?:eat|drink) (?P<what>.+)",
            _FLAGS,
        ),
        "I {verb} eat {what}.",
        0.8,
    ),
    (
        "name",
        re.compile(
            r"^(?i:my (?P<who>(?:\w+'s )?(?:wife|husband|partner|son|daughter|mother|mom|mum"
            r"|father|dad|brother|sister|friend|best friend|boss|doctor|dentist|manager"
            r"|neighbou?r|girlfriend|boyfriend|colleague|cat|dog|grandmother|grandfather|grandma"
            r"|grandpa|aunt|uncle|cousin|niece|nephew|roommate|landlord|teacher))(?:'s name is"
            r"| is called| is named)) (?P<what>[\w'-]+(?: [A-Z][\w'-]*)?)"
        ),
        "My {who}'s name is {what}.",
        0.8,
    ),
    (
        "name",
        re.compile(r"^(?i:my name is) (?P<what>[\w'-]+(?: [A-Z][\w'-]*)?)"),
        "My name is {what}.",
        0.8,
    ),
    (
        "date",
        re.compile(
            r"^(?P<whose>my(?: \w+'s)?|[A-Z][a-z]+'s) (?P<event>birthday|anniversary|wedding)"
            r" is (?:on )?(?P<what>.+)",
            _FLAGS,
        ),
        "{whose} {event} is on {what}.",
        0.8,
    ),
    (
        "appointment",
        re.compile(
            r"^i(?: have|'ve got| have got| got) (?P<article>a|an|my) (?P<event>[\w' -]{0,40}?"
            r"(?:appointment|meeting|interview|flight|reservation|booking|class|exam|check-?up"
            r"|call|train|bus|party|dinner|lunch))"
            r" (?P<what>(?:on|at|tomorrow|today|tonight|next|this|in|with)\b.+)",
            _FLAGS,
        ),
        "I have {article} {event} {what}.",
        0.8,
    ),
    (
        "put-down",
        re.compile(
            r"^i(?: just| have| 've|'ve)? (?P<verb>left|put|placed|parked|hid|stored|dropped|hung"
            r"|stashed|locked|keep) (?P<thing>(?:my|the|our|a|an) [\w' -]{1,40}?)"
            rf" (?P<prep>{_PLACE_PREP}) (?P<what>.+)",
            _FLAGS,
        ),
        "I {verb} {thing} {prep} {what}.",
        0.7,
    ),
    (
        "put-down",
        re.compile(rf"^i(?: just)? parked (?P<prep>{_PLACE_PREP}) (?P<what>.+)", _FLAGS),
        "I parked {prep} {what}.",
        0.7,
    ),
    (
        "whereabouts",
        re.compile(
            r"^my (?P<thing>[\w' -]{1,40}?) (?P<verb>is|are|'s) (?P<how>(?:(?:still|now|currently"
            r"|parked|stored|kept|locked|chained|hanging|sitting|lying|charging) )*)"
            rf"(?P<prep>{_PLACE_PREP}) (?P<what>.+)",
            _FLAGS,
        ),
        "My {thing} {verb} {how} {prep} {what}.",
        0.7,
    ),
    (
        "about-me",
        re.compile(
            r"^i (?P<verb>live|work|study) (?P<prep>in|at|for|near|from home in) (?P<what>.+)",
            _FLAGS,
        ),
        "I {verb} {prep} {what}.",
        0.6,
    ),
    (
        "preference",
        re.compile(
            r"^i (?P<verb>really like|really love|like|love|prefer|hate|dislike|can't stand"
            r"|enjoy) (?P<what>.+)",
            _FLAGS,
        ),
        "I {verb} {what}.",
        0.5,
    ),
)
_REMEMBER = re.compile(
    r"^(?:please |can you |could you |would you |you should )*(?:remember|don't forget"
    r"|do not forget|note|make a note|take a note|keep in mind)(?: that\b| this\s*[:,—-]|\s*[:,—-])?"
    r"\s*(?P<what>.+)",
    _FLAGS,
)
_DEICTIC = re.compile(r"^(?:this|that|these|those|it|here|there)\b", _FLAGS)
# Where a clause ends inside a sentence: what follows is not part of the fact.
_CLAUSE_END = re.compile(
    r"\s*(?:,| but | because | although | though | so that | and then | which | if | unless )",
    _FLAGS,
)
_LIST_RULES = frozenset({"allergy", "diet", "preference"})  # "peanuts, eggs and milk" stays whole
_MAX_FACT_CHARS = 300


def extract_facts(utterance: str) -> list[ExtractedFact]:
    """The facts stated in one utterance, in order; an empty list when there are none."""
    facts: list[ExtractedFact] = []
    for sentence in _sentences(utterance):
        fact = _explicit(sentence) or _stated(sentence)
        if fact is not None and fact not in facts:
            facts.append(fact)
    return facts


def _sentences(utterance: str) -> list[str]:
    text = utterance.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = re.sub(r"\s+", " ", text).strip()
    out = []
    for raw in _SENTENCE_END.split(text):
        sentence = raw.strip()
        if not sentence or sentence.endswith("?"):
            continue
        sentence = _FILLER.sub("", sentence).strip(" ,")
        if sentence:
            out.append(sentence.rstrip(".!;"))
    return out


def _explicit(sentence: str) -> ExtractedFact | None:
    """ "Remember that …", "don't forget …": the wearer decided this matters."""
    match = _REMEMBER.match(sentence)
    if match is None:
        return None
    what = match.group("what").strip(" .,:")
    if re.match(r"^to\s", what, _FLAGS):
        body = "Reminder: " + what[3:].strip()
    else:
        stated = _stated(what)
        body = stated.text if stated is not None else _sentence_case(what)
    if len(body.split()) < 2 or _DEICTIC.match(what):
        return None  # "remember this place": about what is in view, not in the words
    return ExtractedFact(_finish(body), MemoryKind.EXPLICIT, 0.9, "remember")


def _stated(sentence: str) -> ExtractedFact | None:
    if _QUESTION_START.match(sentence):
        return None
    for name, pattern, template, importance in _RULES:
        match = pattern.match(sentence)
        if match is None:
            continue
        parts = {key: (value or "").strip() for key, value in match.groupdict().items()}
        what = parts.get("what", "")
        if name not in _LIST_RULES:
            what = _CLAUSE_END.split(what, maxsplit=1)[0]
        else:
            what = re.split(r"\s*(?: but | because | although | though )", what, maxsplit=1)[0]
        parts["what"] = what.strip(" .,")
        if not parts["what"] or not _plausible(name, parts):
            continue
        text = template.format(**parts)
        return ExtractedFact(_finish(text), MemoryKind.FACT, importance, name)
    return None


def _plausible(rule: str, parts: dict[str, str]) -> bool:
    """Reject matches that fit the pattern but are not facts ("my mind is on it", "I love it")."""
    if rule == "preference" and _PRONOUN_OBJECT.match(parts["what"]):
        return False
    if rule == "whereabouts":
        thing = parts["thing"].lower().split()
        if not thing or thing[-1] in _VAGUE_OWNED:
            return False
    if rule == "put-down" and _PRONOUN_OBJECT.match(parts["what"]):
        return False
    return True


def _finish(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\bi\b", "I", text)
    text = re.sub(r"\bim\b", "I'm", text, flags=_FLAGS)
    text = re.sub(r"\bi'm\b", "I'm", text)
    text = _sentence_case(text)[:_MAX_FACT_CHARS].rstrip(" .,;")
    return text + "."


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text
