"""Action items: the explicit commitments in a conversation, who made them and by when.

Rule-based and pure, precision before recall: a wrong action item in the
wearer's memory ("you agreed to…") does more harm than a missed one. A clause
counts only when it is a plain statement that a named person, "I" or "we"
will do something: "I'll send the budget by Friday", "Priya will book the
room tomorrow", "we're going to ship it next week". Everything else yields
nothing, in particular:

- questions ("Will you send it?", "Can I send it?", anything ending in "?"),
- hypotheticals and hedges ("maybe we could…", "I might…", "if …",
  "I think I'll…", "I'll try to…"),
- refusals ("I won't", "I can't"),
- past tense and reported speech ("I said I'd send it", "she told me she will"),
- predictions and small talk ("it'll rain", "I'll see you", "I'll be fine").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

# Anything that makes a clause not a firm commitment of its own speaker.
_NOT_A_COMMITMENT = re.compile(
    r"\b(?:maybe|perhaps|possibly|probably|might|could|would|should|if|unless|whether|"
    r"i think|i guess|i suppose|not sure|hopefully|i hope|try to|trying to|"
    r"said|says|told|tells|mentioned|promised|claimed|asked|wanted|was going to|"
    r"were going to|yesterday|last (?:week|month|night|time)|already|ago|"
    r"won't|will not|wouldn't|can't|cannot|never|don't|do not)\b",
    re.IGNORECASE,
)
_OPENERS = r"(?:(?i:ok(?:ay)?|so|alright|all right|right|sure|great|fine|yes|yeah|then|and|good|perfect|cool)[,.!]?\s+)*"
# Capitalised words that start a clause but are not people.
_NOT_NAMES = {
    "It", "That", "This", "There", "Here", "They", "He", "She", "You", "Everyone",
    "Everybody", "Someone", "Somebody", "Nobody", "Nothing", "Everything", "The", "A",
    "An", "What", "Who", "Which", "When", "Where", "Why", "How", "Today", "Tomorrow",
    "Tonight", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
    "Sunday", "Next", "Then", "And", "But", "Or", "Also", "Weather", "Traffic",
    "Some", "Any", "All", "Each", "Both", "Most", "Many", "Few", "One", "People",
}  # fmt: skip
_NAME = r"[A-Z][a-z]+(?:\s[A-Z][a-z]+)?"
_SUBJECT = rf"(?P<subject>I|[Ww]e|{_NAME}(?:\s(?:and)\s(?:I|me|{_NAME}))?)"
_MODAL = (
    r"(?P<modal>'ll|\s+will|\s+shall|'m going to|\s+am going to|'re going to|\s+are going to|"
    r"\s+is going to|'s going to|\s+promise to|\s+commit to)"
)
# Whom it is said to, before it: "Sam, I'll bring the cake" (the subject follows).
_VOCATIVE = r"(?:[A-Z][a-z]+,\s+)?"
_CLAUSE = re.compile(rf"^{_OPENERS}{_VOCATIVE}{_SUBJECT}{_MODAL}\s+(?P<rest>.+)$", re.DOTALL)
# Verbs after "will" that predict or chat rather than promise a task.
_NOT_TASKS = {
    "be", "see", "think", "need", "know", "like", "love", "want", "feel", "miss", "try",
    "probably", "maybe", "definitely", "just", "have", "get", "go", "never", "not",
    "talk", "tell", "let", "wait", "look", "stay", "rain", "happen", "keep",
}  # fmt: skip
# "have" and "get" make a task with a result: "I'll have the report ready", "I'll get it done".
_RESULT_WORDS = re.compile(r"\b(?:ready|done|finished|sent|booked|fixed|written|signed)\b")

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WHEN = re.compile(
    r"\b(?:(?:by|on|before|until|till|no later than)\s+)?"
    r"(?:(?:this|next|end of(?: the)?|the end of(?: the)?)\s+)?"
    r"(?:today|tonight|tomorrow(?:\s+(?:morning|afternoon|evening|night))?|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"(?:the\s+)?(?:day|week|month|weekend|morning|afternoon|evening)|"
    r"noon|midnight|eod|"
    r"\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.|o'clock)|"
    r"(?:in\s+)?(?:a|an|one|two|three|\d+)\s+(?:minutes?|hours?|days?|weeks?))"
    r"(?:\s+(?:morning|afternoon|evening|night))?\b",
    re.IGNORECASE,
)
_LEADING_ADVERB = re.compile(r"^(?:also|just|then|first|quickly|definitely|gladly)\s+", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# A second commitment joined to the first: "…, and Priya will book the room".
_JOINED = re.compile(
    r",?\s+(?:and|but|then)\s+(?=(?:I|[Ww]e|[A-Z][a-z]+)"
    r"(?:'ll|\s+will|\s+shall|'m going to|'re going to|\s+is going to)\s)"
)


@dataclass(frozen=True, slots=True)
class ActionItem:
    """One commitment: who will do what, by when (as said, and as a date where it is one)."""

    who: str
    what: str
    when: str | None
    due: date | None
    source: str  # the sentence it came from

    def to_json(self) -> dict[str, str | None]:
        return {
            "who": self.who,
            "what": self.what,
            "when": self.when,
            "due": self.due.isoformat() if self.due else None,
            "source": self.source,
        }


def extract_action_items(
    text: str, *, speaker: str = "speaker", listener: str | None = None, today: date | None = None
) -> list[ActionItem]:
    """The commitments in one speaker's words, in order.

    `speaker` is who "I" is (a name or a speaker label); "we" stays "we".
    `listener` is unused for "you" on purpose: "you'll send it" assigns a
    task the listener has not accepted. `today` turns "tomorrow" or "by
    Friday" into a date.
    """
    del listener  # see the docstring: "you will" is not the listener's commitment
    items: list[ActionItem] = []
    for sentence in _SENTENCE_END.split(text.strip()):
        sentence = sentence.strip()
        if not sentence or sentence.endswith("?"):
            continue
        for clause in _clauses(sentence):
            item = _commitment(clause.strip(" ,;"), sentence, speaker, today)
            if item is not None:
                items.append(item)
    return items


def _clauses(sentence: str) -> list[str]:
    """Split at "and"/"but" before a new subject that will do something, unless the
    part before is too short to be a clause of its own ("Sarah and I will …")."""
    clauses: list[str] = []
    start = 0
    for joint in _JOINED.finditer(sentence):
        if len(sentence[start : joint.start()].split()) >= 3:
            clauses.append(sentence[start : joint.start()])
            start = joint.end()
    clauses.append(sentence[start:])
    return clauses


def _commitment(clause: str, sentence: str, speaker: str, today: date | None) -> ActionItem | None:
    if not clause or _NOT_A_COMMITMENT.search(clause):
        return None
    match = _CLAUSE.match(clause)
    if match is None:
        return None
    subject = match["subject"]
    first_name = subject.split()[0]
    if first_name in _NOT_NAMES:
        return None
    rest = match["rest"].strip().rstrip(".!")
    words = rest.split()
    if not words:
        return None
    verb = words[0].lower()
    if verb in _NOT_TASKS and not (verb in ("have", "get") and _RESULT_WORDS.search(rest)):
        return None
    if len(words) < 2:  # "I'll go." / "We'll see." — no task named
        return None
    when_match = _WHEN.search(rest)
    when = when_match.group(0) if when_match else None
    what = _LEADING_ADVERB.sub("", rest)
    if when_match:
        what = (rest[: when_match.start()] + rest[when_match.end() :]).strip(" ,")
        what = _LEADING_ADVERB.sub("", what)
        what = re.sub(r"\s{2,}", " ", what)
    return ActionItem(
        who=_who(subject, speaker),
        what=what,
        when=when,
        due=resolve_due(when, today) if when and today else None,
        source=sentence,
    )


def _who(subject: str, speaker: str) -> str:
    if subject == "I":
        return speaker
    if subject.lower() == "we":
        return "we"
    return re.sub(r"\b(?:I|me)\b", speaker, subject)


def resolve_due(when: str, today: date) -> date | None:
    """The date a time phrase names, when it names one ("tomorrow", "by Friday"); else None.

    A weekday is the next one after today ("Friday" said on a Friday is a week away).
    """
    phrase = when.lower()
    if "today" in phrase or "tonight" in phrase or "end of the day" in phrase or "eod" in phrase:
        return today
    if "tomorrow" in phrase:
        return today + timedelta(days=1)
    for index, name in enumerate(_WEEKDAYS):
        if name in phrase:
            ahead = (index - today.weekday()) % 7 or 7
            if phrase.startswith("next ") or " next " in f" {phrase}":
                ahead += 7 if ahead < 7 else 0
            return today + timedelta(days=ahead)
    return None
