"""Which stored fact a question is about: whose it is, and which attribute it names.

Embeddings put "My shoe size is 43." and "My shirt size is medium." close
together, and the hybrid ranking alone let a question about shoes be
answered from the shirt. Two cheap, deterministic signals settle it:

- the owner: a fact about "my husband", "Amelia" or the wearer answers only a
  question about the same person ("What am I allergic to?" is not answered
  from "My husband is allergic to shellfish.");
- the topic words: the words that name what a fact is about (its slot, "my
  shoe size", or its content words when it has none) shared with the
  question. Generic heads ("size", "code", "name") count for little; the
  distinctive words ("shoe", "gym", "dentist") decide.

Pure functions over text: no store, no model, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cloud.memory.records import Memory, MemoryKind
from cloud.memory.words import content_words, words

ME = "me"
STATED = frozenset({MemoryKind.FACT, MemoryKind.EXPLICIT})
# People a fact can be about besides the wearer, when named by their relation ("my mum").
_RELATIONS = frozenset(
    """wife husband partner son daughter mother mom mum father dad brother sister friend
    girlfriend boyfriend grandmother grandfather grandma grandpa granny nan aunt uncle cousin
    niece nephew kid kids child children baby fiancé fiance fiancée fiancee stepson
    stepdaughter roommate flatmate colleague""".split()
)
_SAME_PERSON = {"mom": "mum", "mother": "mum", "dad": "father", "grandma": "grandmother"}
_NOT_NAMES = frozenset(
    """the this that these those it he she they we you i there here what when where who whom
    whose which why how is are am was were do does did can could should would will my our your
    his her their a an tell remind please hey ok okay so and but or also remember what's who's
    where's when's how's which monday tuesday wednesday thursday friday saturday sunday january
    february march april may june july august september october november december""".split()
)
# Heads shared by whole families of facts: matching only these does not pick one fact.
GENERIC = frozenset(
    """size code number name password pin address type favourite favorite called call thing
    where kind sort again exactly currently now remind tell wear""".split()
)
# Two words for one thing, mapped to one spelling before comparing.
_SYNONYMS = {
    "physio": "physiotherapist",
    "physiotherapy": "physiotherapist",
    "gp": "doctor",
    "doc": "doctor",
    "shoe": "shoe",
    "like": "like",
    "love": "like",
    "prefer": "like",
    "enjoy": "like",
    "favour": "like",
    "reg": "registration",
    "plate": "registration",
    "mom": "mum",
    "mother": "mum",
    "dad": "father",
    "live": "live",
    "lives": "live",
    "work": "work",
    "job": "work",
    "combo": "combination",
    "wi": "wifi",
    "called": "name",
    "call": "name",
}
_OWNER_MY = re.compile(r"\b(?:my|our)\s+(?P<relation>[a-zé]+)(?:'s)?\b", re.IGNORECASE)
_SUBJECT = re.compile(r"\s(?:is|are|was|were)\s", re.IGNORECASE)
_ME_WORDS = frozenset({"i", "me", "my", "mine", "myself", "i'm", "i've", "im"})


@dataclass(frozen=True)
class TopicMatch:
    """How well one memory fits a question: the distinctive and generic words they share."""

    memory: Memory
    distinctive: int
    generic: int

    @property
    def score(self) -> float:
        return self.distinctive + 0.3 * self.generic


def question_owner(question: str) -> str | None:
    """Whom a question asks about: a relation ("my mum"), a name ("amelia"), the wearer, or None."""
    text = question.replace("’", "'")
    for match in _OWNER_MY.finditer(text):
        relation = match.group("relation").lower()
        if relation not in _RELATIONS and relation.removesuffix("s") in _RELATIONS:
            relation = relation.removesuffix("s")  # "my cousins"
        if relation in _RELATIONS:
            return "my " + _SAME_PERSON.get(relation, relation)
    tokens: list[str] = re.findall(r"[A-Za-z][\w'-]*", text)
    for position, token in enumerate(tokens):
        name = token.removesuffix("'s")
        if position > 0 and name[:1].isupper() and name.lower() not in _NOT_NAMES:
            return _SAME_PERSON.get(name.lower(), name.lower())
    if any(token.lower() in _ME_WORDS for token in tokens):
        return ME
    return None


def memory_owner(text: str) -> str:
    """Whom a stored fact is about: "My husband is allergic …" → "my husband", else a name or me."""
    text = text.replace("’", "'")
    match = re.match(r"^(?:my|our)\s+(?P<relation>[a-zé]+)(?:'s)?\b", text, re.IGNORECASE)
    if match and match.group("relation").lower() in _RELATIONS:
        relation = match.group("relation").lower()
        return "my " + _SAME_PERSON.get(relation, relation)
    match = re.match(r"^(?P<name>[A-Z][\w-]*)(?:'s)?\b", text)
    if match and match.group("name").lower() not in _NOT_NAMES:
        name = match.group("name").lower()
        return _SAME_PERSON.get(name, name)
    return ME


def topic_words(text: str) -> frozenset[str]:
    """Content words with synonyms folded ("physio" and "physiotherapist" are one word)."""
    folded = set()
    for word in content_words(text):
        folded.add(_SYNONYMS.get(word, word))
    return frozenset(folded)


def with_synonyms(question: str) -> str:
    """The question with the canonical word added for each synonym it uses, for full-text search:
    "Who's my physio?" also looks for "physiotherapist"."""
    extra = [
        _SYNONYMS[word]
        for word in content_words(question)
        if _SYNONYMS.get(word, word) != word and _SYNONYMS[word] not in GENERIC
    ]
    return question if not extra else f"{question} ({' '.join(sorted(set(extra)))})"


def _owner_words(owner: str | None) -> frozenset[str]:
    return frozenset() if owner in (None, ME) else frozenset(words(owner or "")) - {"my"}


def match_topics(question: str, memories: Sequence[Memory]) -> list[TopicMatch]:
    """Each memory with the topic words it shares with the question, in the given order.

    A memory's topic is its slot when it has one ("my shoe size": the value
    43 is not a topic), otherwise its whole text.
    """
    owner = question_owner(question)
    asked = topic_words(question) - _owner_words(owner)
    matches = []
    for memory in memories:
        about = memory.text
        if memory.slot:  # the slot and the sentence's subject: "my sister" + "My sister's name"
            about = memory.slot.removeprefix("where:") + " " + _SUBJECT.split(memory.text)[0]
        theirs = memory_owner(memory.text)
        shared = (topic_words(about) - _owner_words(theirs)) & asked
        generic = len(shared & GENERIC)
        # Being about the very person asked about is itself a distinctive match.
        person = int(owner not in (None, ME) and theirs == owner)
        matches.append(TopicMatch(memory, len(shared) - generic + person, generic))
    return matches


def about_the_same_person(question: str, memories: Sequence[Memory]) -> list[Memory]:
    """The memories about whom the question asks, when any are; otherwise all of them."""
    owner = question_owner(question)
    if owner is None:
        return list(memories)
    theirs = [memory for memory in memories if memory_owner(memory.text) == owner]
    return theirs or list(memories)


def focus(question: str, memories: Sequence[Memory]) -> list[Memory]:
    """Only the memories that match what the question asks about, best match first.

    The memories about the person asked about are kept; among them, when
    some share a distinctive topic word with the question, those with the
    most such words come first and their rivals (sharing a lesser topic word:
    the shirt size for a shoe question) are dropped; otherwise those sharing
    a generic word come first. When nothing matches, the ranking's order is
    kept.
    """
    people = about_the_same_person(question, memories)
    matches = match_topics(question, people)
    facts = [match for match in matches if match.memory.kind in STATED]
    best = max((match.distinctive for match in facts), default=0)
    if best > 0:
        # Rivals are dropped: facts sharing a lesser topic word ("shirt size" for a shoe
        # question) and, when the answer is an attribute (a slot: "my physiotherapist"),
        # every other attribute ("my doctor"). Other facts, past exchanges and scenes are
        # context and follow, in the ranking's order.
        chosen = [match for match in facts if match.distinctive == best]
        slotted = any(match.memory.slot for match in chosen)
        return [match.memory for match in chosen] + [
            match.memory
            for match in matches
            if match.memory.kind not in STATED
            or (
                match.distinctive < best
                and match.score == 0
                and not (slotted and match.memory.slot)
            )
        ]
    order = sorted(range(len(matches)), key=lambda i: (-matches[i].score, i))
    return [matches[i].memory for i in order]


def clear_match(question: str, memories: Sequence[Memory]) -> Memory | None:
    """The one memory that answers the question by its topic, or None when it is not clear.

    Clear means: about the person asked about, sharing a distinctive topic
    word with the question, and matching better than any other memory.
    """
    stated = [memory for memory in memories if memory.kind in STATED]
    people = about_the_same_person(question, stated)
    matches = sorted(match_topics(question, people), key=lambda m: -m.score)
    if not matches or matches[0].distinctive == 0:
        return None
    if len(matches) > 1 and matches[1].score >= matches[0].score:
        return None
    return matches[0].memory
