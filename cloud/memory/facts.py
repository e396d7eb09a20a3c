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
from dataclasses import dataclass, replace
from datetime import datetime

from cloud.memory.records import MemoryKind, NewMemory
from cloud.memory.sentences import split_sentences
from cloud.memory.words import content_words


@dataclass(frozen=True)
class ExtractedFact:
    """One fact found in an utterance, and the rule that found it (for tests and logs)."""

    text: str
    kind: MemoryKind
    importance: float
    rule: str
    # What the fact is about ("my shoe size", "where:my keys", "i live"): a later fact
    # with the same slot replaces this one. None for facts that add up (allergies, likes).
    slot: str | None = None

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
            slot=self.slot,
        )


_FLAGS = re.IGNORECASE

_FILLER = re.compile(
    r"^(?:(?:hey|hi|ok|okay|oh|so|well|um+|uh+|also|and|btw|fyi|alright|right|companion"
    r"|by the way|just so you know|for the record|for your information|just|actually|oh and)\b[\s,:—-]*)+",
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
_TITLE = r"(?:(?:dr|mr|mrs|ms|mx|prof|sir|dame)\.? )"
_NAME = rf"(?P<what>(?i:{_TITLE})?[\w'-]+(?: [A-Z][\w'-]*)?)"
# A capitalised first word that names someone, not one that starts any sentence.
_NOT_NAMES = frozenset(
    """the this that these those it he she they we you i there here everyone everybody someone
    somebody nobody people what when where who why how my our your his her their a an one
    today tomorrow yesterday""".split()
)
# Words that make "my X is Y" a fact worth keeping: X is one of these (or "favourite …").
_ATTRIBUTE_NOUNS = frozenset(
    """size code number password passcode pin combination passphrase doctor dentist physio
    physiotherapist therapist optician vet gp hairdresser barber landlord landlady boss manager
    neighbour neighbor accountant lawyer solicitor mechanic plumber electrician cleaner
    babysitter nanny teacher coach trainer tutor address postcode zip email registration plate
    type dose dosage job school bank pharmacy surgery clinic hospital nickname username id
    reg handle budget rent salary height weight gym club team church supermarket airline insurer
    provider""".split()
)
_TRAILING_TIME = re.compile(
    r"\s+(?:now|recently|these days|last (?:week|month|year|summer|spring|autumn|winter)"
    r"|this (?:week|month|year)|a (?:week|month|year|while) ago|(?:\w+ )?(?:weeks|months|years) ago)$",
    re.IGNORECASE,
)

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
            r"|grandpa|aunt|uncle|cousin|niece|nephew|roommate|landlord|landlady|teacher|vet"
            r"|physio|physiotherapist|optician|hairdresser|accountant|lawyer|gp))(?:'s name is"
            rf"| is now called| is called| is named| is now named)) {_NAME}"
        ),
        "My {who}'s name is {what}.",
        0.8,
    ),
    (
        "name",
        re.compile(rf"^(?i:my name is) {_NAME}"),
        "My name is {what}.",
        0.8,
    ),
    (
        "date",
        re.compile(
            r"^(?P<whose>my(?: \w+'s)?|[A-Z][a-z]+'s) (?P<event>birthday|anniversary|wedding)"
            r" is (?:now )?(?:on )?(?P<what>.+)",
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
        "schedule",
        re.compile(
            r"^(?P<whose>my|our|the) (?P<thing>[\w' -]{1,40}?) (?P<verb>leaves|departs|arrives|lands"
            r"|starts|begins|ends|finishes|opens|closes|boards|is due|is booked for|is scheduled for)"
            r" (?P<what>(?:at|on|in|from|by|tomorrow|today|tonight|next|this)\b.+)",
            _FLAGS,
        ),
        "{whose} {thing} {verb} {what}.",
        0.8,
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
        "moved",
        re.compile(
            r"^(?:i(?: have|'ve)?|we(?: have|'ve)?)(?: just| recently| finally)? moved"
            r" (?:house )?(?:to|into) (?P<what>.+)",
            _FLAGS,
        ),
        "I live in {what}.",
        0.6,
    ),
    (
        "about-someone",
        re.compile(
            r"^(?P<who>(?i:my|our) (?:\w+'s )?[\w-]+(?: [\w-]+)?|[A-Z][a-z'-]+)"
            r" (?P<verb>(?i:is (?:very |severely |also )?allergic to|prefers|likes|loves|hates"
            r"|dislikes|enjoys|drinks|eats|takes|doesn't eat|does not eat|doesn't drink"
            r"|can't eat|cannot eat|lives in|lives near|lives at|works at|works in|works for"
            r"|is vegetarian|is vegan)) ?(?P<what>.*)"
        ),
        "{who} {verb} {what}.",
        0.7,
    ),
    (
        "attribute",
        re.compile(
            r"^(?P<whose>my \w+'s|my|our|the|[A-Z][a-z'-]+'s) (?P<thing>[\w'. -]{1,50}?)"
            r" (?:is|are|'s)(?: now| currently| actually| still)*(?: called| named)?"
            r" (?P<what>.+)",
            _FLAGS,
        ),
        "{whose} {thing} is {what}.",
        0.8,
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
_CLAUSE_BREAK = re.compile(r"(?:,|:|;| —| -) ")
_IT_IS_THERE = re.compile(
    r"^(?:i |we )?(?:just )?(?:moved|parked|put|left|took|stored|hid|locked) (?P<thing>(?:my|the|our)"
    r" [\w' -]{1,30}?)(?: again)?(?:,| and| -| —) (?:it's|it is|it is now|they're|they are)"
    rf" (?P<rest>(?:now |still )?(?:{_PLACE_PREP}) .+)",
    _FLAGS,
)
_CONDITIONAL = re.compile(r"^(?:if|unless|when|whether|suppose|maybe|perhaps)\b", _FLAGS)
_NOT_A_VALUE = re.compile(
    r"^(?:not|n't|never|no longer|a bit|so|very|really|too|always|getting|going|broken|dead"
    r"|lost|gone|missing|fine|ok|okay|great|good|bad|it|that|this|wrong|right|correct|incorrect"
    r"|expired|changed|different|the same|new|old|easy|hard|secret|private|mine|yours)\b",
    _FLAGS,
)
_LIST_RULES = frozenset({"allergy", "diet", "preference", "about-someone"})
_MAX_FACT_CHARS = 300


def extract_facts(utterance: str) -> list[ExtractedFact]:
    """The facts stated in one utterance, in order; an empty list when there are none.

    A sentence that follows a "remember …" request and states no fact of its own
    ("Remember that my vet is Dr. Bianchi. She's at the Mill Road surgery.") is
    part of what was asked to be kept, so it joins the request's memory.
    """
    facts: list[ExtractedFact] = []
    for sentence in _sentences(utterance):
        fact = _explicit(sentence)
        if fact is None:
            fact = _stated(sentence)
            if fact is None and facts and facts[-1].kind is MemoryKind.EXPLICIT:
                if not _QUESTION_START.match(sentence) and len(sentence.split()) > 1:
                    joined = facts[-1].text + " " + _finish(sentence)
                    facts[-1] = replace(facts[-1], text=joined[:_MAX_FACT_CHARS], slot=None)
                continue
        if fact is not None and fact not in facts:
            facts.append(fact)
    return facts


def fact_slot(text: str) -> str | None:
    """What a stored fact's text is about ("My shoe size is 43." → "my shoe size"), or None."""
    sentence = text.strip().rstrip(".!;")
    fact = _stated(sentence)
    return fact.slot if fact is not None else None


def _sentences(utterance: str) -> list[str]:
    text = utterance.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    out = []
    for raw in split_sentences(text):
        sentence = raw.strip()
        if not sentence or sentence.endswith("?"):
            continue
        sentence = _FILLER.sub("", sentence).strip(" ,")
        if sentence:
            out.append(sentence.rstrip("!;").removesuffix("."))
    return out


def _explicit(sentence: str) -> ExtractedFact | None:
    """ "Remember that …", "don't forget …": the wearer decided this matters.

    What they asked to keep is kept whole: the canonical fact is used only when
    it says everything the request said ("Remember that my doctor is Dr. Okafor
    at the Elm Street clinic" is never cut to a name).
    """
    match = _REMEMBER.match(sentence)
    if match is None:
        return None
    what = match.group("what").strip(" ,:")
    if re.match(r"^to\s", what, _FLAGS):
        body, slot = "Reminder: " + what[3:].strip(), None
    else:
        stated = _stated(what)
        if stated is not None and content_words(what) <= content_words(stated.text):
            body, slot = stated.text, stated.slot
        else:
            body, slot = _sentence_case(what), None
    if len(body.split()) < 2 or _DEICTIC.match(what):
        return None  # "remember this place": about what is in view, not in the words
    return ExtractedFact(_finish(body), MemoryKind.EXPLICIT, 0.9, "remember", slot)


def _stated(sentence: str) -> ExtractedFact | None:
    """The fact in a sentence, or in one of its comma clauses ("They reset it, my code is …")."""
    if _QUESTION_START.match(sentence):
        return None
    fact = _stated_clause(sentence)
    if fact is not None or _CONDITIONAL.match(sentence):
        return fact
    clauses = _CLAUSE_BREAK.split(sentence)
    for start in range(1, len(clauses)):
        fact = _stated_clause(_FILLER.sub("", ", ".join(clauses[start:])).strip(" ,"))
        if fact is not None:
            return fact
    # "Moved the car, it's on level 4 now": "it" is the thing just named.
    match = _IT_IS_THERE.match(sentence)
    if match is not None:
        thing = re.sub(r"^(?:the|our)\b", "my", match.group("thing"), flags=_FLAGS)
        return _stated_clause(f"{thing} is {match.group('rest')}")
    return None


def _stated_clause(sentence: str) -> ExtractedFact | None:
    if not sentence or _QUESTION_START.match(sentence):
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
        what = what.strip(" ,")
        what = what.removesuffix(".") if not re.search(r"\b\w\.$", what) else what
        if name in {"moved", "about-me", "attribute", "about-someone"}:
            what = _TRAILING_TIME.sub("", what)
        parts["what"] = what
        if not _plausible(name, parts):
            continue
        if name in {"attribute", "about-someone"}:
            parts["who"] = _tidy_owner(parts.get("who", ""))
            parts["whose"] = _tidy_owner(parts.get("whose", ""))
        text = template.format(**parts)
        return ExtractedFact(_finish(text), MemoryKind.FACT, importance, name, _slot(name, parts))
    return None


def _tidy_owner(owner: str) -> str:
    """ "MY son's" → "my son's"; a name keeps its capitals."""
    head, _, rest = owner.partition(" ")
    if head.lower() in {"my", "our", "the"}:
        return head.lower() + (" " + rest if rest else "")
    return owner


def _slot(rule: str, parts: dict[str, str]) -> str | None:
    """What the fact is about, in a form two phrasings of the same thing share."""

    def owner(text: str) -> str:
        text = text.lower().strip()
        text = re.sub(r"^(?:our|the|a|an)\b", "my", text)
        # "my new manager" is still "my manager": the adjective marks the update.
        return re.sub(r"^my (?:new|current|latest|present|old|previous) ", "my ", text)

    if rule == "name":
        return owner("my " + parts["who"]) if "who" in parts else "my name"
    if rule == "date":
        return f"{owner(parts['whose'])} {parts['event'].lower()}"
    if rule == "put-down":
        thing = parts.get("thing") or "my car"
        return "where:" + owner(thing)
    if rule == "whereabouts":
        return "where:" + owner("my " + parts["thing"])
    if rule == "about-me" and parts["verb"].lower() in {"live", "work", "study"}:
        return "i " + parts["verb"].lower()
    if rule == "moved":
        return "i live"
    if rule == "schedule":
        return f"when:{owner(parts['whose'])} {parts['thing'].lower()} {parts['verb'].lower()}"
    if rule == "about-someone":
        verb = parts["verb"].lower().split()[0]
        if verb in {"lives", "works"}:
            return f"{owner(parts['who'])} {verb}"
        return None
    if rule == "attribute":
        return owner(f"{parts['whose']} {parts['thing']}")
    return None


def _plausible(rule: str, parts: dict[str, str]) -> bool:
    """Reject matches that fit the pattern but are not facts ("my mind is on it", "I love it")."""
    what = parts.get("what", "")
    if not what and rule != "about-someone":
        return False
    if rule == "preference" and _PRONOUN_OBJECT.match(what):
        return False
    if rule == "whereabouts":
        thing = parts["thing"].lower().split()
        if not thing or thing[-1] in _VAGUE_OWNED:
            return False
    if rule == "put-down" and _PRONOUN_OBJECT.match(what):
        return False
    if rule == "about-someone":
        who = parts["who"].split()
        if who[0].lower() not in {"my", "our"} and who[0].lower() in _NOT_NAMES:
            return False
        if not what and not parts["verb"].lower().startswith("is "):
            return False
        if what and _PRONOUN_OBJECT.fullmatch(what):
            return False
    if rule == "attribute":
        thing = [word.strip(".'") for word in parts["thing"].lower().split()]
        whose = parts["whose"].split()
        if len(whose) == 1 and whose[0].lower().removesuffix("'s") in _NOT_NAMES - {
            "my",
            "our",
            "the",
        }:
            return False
        if not thing or thing[-1] in _VAGUE_OWNED:
            return False
        named = set(thing) & _ATTRIBUTE_NOUNS or thing[0] in {"favourite", "favorite"}
        if not named and not re.search(r"\d|(?<=\s)[A-Z]|^[A-Z]", what):
            return False  # "my X is Y" of any X is kept only when Y is a number or a name
        if _NOT_A_VALUE.match(what) or re.match(rf"^(?:{_PLACE_PREP})\b", what, _FLAGS):
            return False
    return True


def _finish(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\bi\b", "I", text)
    text = re.sub(r"\bim\b", "I'm", text, flags=_FLAGS)
    text = re.sub(r"\bi'm\b", "I'm", text)
    text = _sentence_case(text)[:_MAX_FACT_CHARS].rstrip(" ,;")
    if re.search(r"(?:\b\w|\b(?:a\.m|p\.m|etc|St|Ave|Rd))\.$", text):
        return text  # it ends with an abbreviation's own full stop
    return text.rstrip(".") + "."


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text
