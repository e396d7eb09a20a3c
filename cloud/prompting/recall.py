"""What a turn takes from personal memory, and what it leaves there.

Before answering: only the few memories that clearly relate to the question
(the bundled 0.5B model is misled by a long list; "relate" is a cosine floor
on top of the hybrid ranking, which alone always returns its best k even when
nothing matches). After answering: the turn itself (low importance, so it
rarely outranks a fact), any facts stated in it, and what the glasses saw,
with the words said at the time, so "where did I leave my keys?" has
something to find.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from cloud.memory.facts import extract_facts
from cloud.memory.records import MAX_TEXT_CHARS, Memory, MemoryKind, NewMemory
from cloud.memory.sentences import split_sentences
from cloud.memory.store import MemoryStore
from cloud.memory.time_query import (
    memories_in_window,
    search_in_time,
    time_window,
    without_time,
)
from cloud.memory.topics import clear_match, focus, match_topics, topic_words, with_synonyms
from cloud.memory.words import content_words
from cloud.prompting.prompt import LABEL_FLOOR
from cloud.prompting.second_person import to_second_person
from cloud.prompting.spoken_time import spoken_moment
from cloud.reasoning.modes import REASONING

EPISODIC_IMPORTANCE = 0.2
OBSERVATION_IMPORTANCE = 0.4
_MAX_QUOTE_CHARS = 600
# A fast answer sees only what the wearer stated: an old exchange or an old scene
# ("it says EXIT") would be taken for what is in front of them now.
FAST_KINDS = frozenset({MemoryKind.FACT, MemoryKind.EXPLICIT})
ALL_KINDS = frozenset(MemoryKind)
# Candidates considered before the topic check picks among them.
_MIN_POOL = 20
_MAX_LOOKUP_WORDS = 14
_LOOKUP = re.compile(
    r"^(?:(?:hey|ok|okay|so|and|companion|please)[,\s]+)*(?:what|what's|whats|who|who's|whos"
    r"|whom|where|where's|wheres|when|when's|whens|which|how|remind me|tell me|do you know"
    r"|do you remember|can you remind me|can you tell me)\b",
    re.IGNORECASE,
)
_YES_NO = re.compile(
    r"^(?:(?:hey|ok|okay|so|and|companion)[,\s]+)*(?:am i|is my|are my|do i|does my|have i"
    r"|is it true that)\b",
    re.IGNORECASE,
)
_OPEN_ENDED = re.compile(
    r"\b(?:should|could|would|might|recommend|suggest|think|idea|ideas|best|plan|weather|why"
    r"|how (?:do|can|should|to|long|far|much|many)|get to|buy|cook|make|today|tonight"
    r"|tomorrow|yesterday|last|ago|did)\b",
    re.IGNORECASE,
)


# Questions about what happened, not about what is true now: they are answered from
# exchanges and scenes too, each with when it was ("when did I last see my passport?").
_ABOUT_EPISODES = re.compile(
    r"\b(?:did|have|had) (?:i|we)\b|\bwhat (?:i|we) (?:did|said|told)\b", re.IGNORECASE
)
# Words that ask what happened without saying about what ("what did I do on Saturday?").
_ANY_EPISODE = frozenset(
    "go went happen happened doing spend spent up get got see saw meet met".split()
)
_ASKED = re.compile(r'^Asked "(?P<said>.*?)"(?: and was told "|\.$)', re.DOTALL)
_QUESTION_START = re.compile(
    r"^(?:what|what's|who|who's|where|where's|when|which|how|why|is|are|am|do|does|did|can"
    r"|could|would|should|will|have|has)\b",
    re.IGNORECASE,
)
_WHEN_LAST = re.compile(
    r"^(?:(?:hey|ok|okay|so|and|companion|please)[,\s]+)*when did (?:i|we) last"
    r" (?:see|have|use|put|leave|wear|take|mention|talk about|tell you about|have|find)"
    r" (?P<thing>.+?)[?.!]*$",
    re.IGNORECASE,
)
_TOLD_ABOUT = re.compile(
    r"^(?:(?:hey|ok|okay|so|and|companion|please)[,\s]+)*(?:what|what else)"
    r" (?:did|have) (?:i|we) (?:tell|told|say|said to|mention|mentioned to)(?: you)?"
    r" (?:about|regarding|on) (?P<thing>.+?)[?.!]*$",
    re.IGNORECASE,
)
_MAX_TOLD = 2


def recall(
    store: MemoryStore,
    user: str,
    question: str,
    *,
    mode: str,
    now: datetime,
    k_fast: int,
    k_reasoning: int,
    min_cosine: float,
) -> list[Memory]:
    """The memories worth putting in front of the model for this question, best first."""
    if not question.strip():
        return []
    k = k_reasoning if mode == REASONING else k_fast
    kinds = ALL_KINDS if mode == REASONING or _ABOUT_EPISODES.search(question) else FAST_KINDS
    window = time_window(question, now)
    if window is not None and not content_words(without_time(question, window)) - _ANY_EPISODE:
        # Everything of that day is relevant and nothing shares a word with the question.
        return said_or_seen(memories_in_window(store, user, window, limit=max(k, _MIN_POOL)))[:k]
    hits = search_in_time(store, user, with_synonyms(question), now=now, k=max(k * 3, _MIN_POOL))
    matches = match_topics(question, [hit.memory for hit in hits])
    # A fact naming what was asked about ("shoe" in "my shoe size") is relevant even
    # where MiniLM finds the question and the fact far apart.
    chosen = [
        hit.memory
        for hit, match in zip(hits, matches, strict=True)
        if hit.memory.kind in kinds and (hit.cosine >= min_cosine or match.distinctive > 0)
    ]
    return focus(question, chosen)[:k]


def said_or_seen(memories: Sequence[Memory]) -> list[Memory]:
    """Without the wearer's own past questions ("Asked "where are my keys?" …") and without an
    exchange whose statement is also kept as a fact: what was said or seen, once."""
    facts_from = {m.source_id for m in memories if m.kind is not MemoryKind.EPISODIC}
    kept = []
    for memory in memories:
        if memory.kind is MemoryKind.EPISODIC:
            said = wearer_said(memory)
            if said is not None and (_is_question(said) or memory.source_id in facts_from):
                continue
        kept.append(memory)
    return kept


def wearer_said(memory: Memory) -> str | None:
    """What the wearer said in a stored exchange ('Asked "…" and was told "…".'), or None."""
    match = _ASKED.match(memory.text)
    return None if match is None else match.group("said").strip()


def episode_answer(question: str, memories: Sequence[Memory], now: datetime) -> str | None:
    """Questions about what happened, answered from the dated memories with when they were.

    "When did I last see my passport?" is the newest memory that mentions the
    passport, "what did I tell you about the plumber?" the newest ones about
    the plumber, and "what did I do on Saturday?" what was said or seen that
    day, each with its day and time: the small model, shown the dated
    memories, often answers with the what and drops the when. None for any
    other question, or when no memory fits, so the model still answers.
    """
    asked = " ".join(question.replace("’", "'").split())
    match = _WHEN_LAST.match(asked)
    if match is not None:
        about = _about(match.group("thing"), memories)
        if not about:
            return None
        newest = max(about, key=lambda memory: memory.time)
        return f"{_capital(spoken_moment(newest.time, now))}: {_retold(newest)}"
    match = _TOLD_ABOUT.match(asked)
    if match is not None:
        about = sorted(_about(match.group("thing"), memories), key=lambda m: m.time)[-_MAX_TOLD:]
        if not about:
            return None
        return " ".join(
            f"{_capital(spoken_moment(memory.time, now))} you told me: {_retold(memory)}"
            for memory in about
        )
    window = time_window(asked, now)
    if window is None or not _ABOUT_EPISODES.search(asked):
        return None
    if content_words(without_time(asked, window)) - _ANY_EPISODE:
        return None  # about something in particular: the model picks from the memories
    inside = sorted(
        (m for m in memories if window.start <= m.time < window.end), key=lambda m: m.time
    )
    if not inside:
        return None
    return " ".join(f"{_capital(spoken_moment(m.time, now))}: {_retold(m)}" for m in inside)


def _about(thing: str, memories: Sequence[Memory]) -> list[Memory]:
    """The memories that mention every content word of `thing` ("my passport" → passport)."""
    wanted = content_words(thing)
    if not wanted:
        return []
    return [
        memory
        for memory in said_or_seen(memories)
        if not memory.replaced and wanted <= content_words(wearer_said(memory) or memory.text)
    ]


def _retold(memory: Memory) -> str:
    """The memory to the wearer: what they said, in the second person."""
    text = to_second_person(wearer_said(memory) or memory.text).strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _is_question(said: str) -> bool:
    return said.rstrip().endswith("?") or _QUESTION_START.match(said) is not None


def direct_answer(question: str, memories: Sequence[Memory]) -> str | None:
    """The stored fact itself, to the wearer, when a plain lookup question has one clear answer.

    "What's my shoe size?" with "My shoe size is 44." among the memories is
    answered "Your shoe size is 44." without the model: the 0.5B model, shown
    a shoe size and a shirt size, sometimes picks the wrong one, and a fact
    read back cannot. Open questions ("what should I get Tom?") and questions
    that several facts fit equally are left to the model.
    """
    asked = " ".join(question.replace("’", "'").split())
    if _OPEN_ENDED.search(asked) or len(asked.split()) > _MAX_LOOKUP_WORDS:
        return None
    yes_no = _YES_NO.match(asked) is not None
    if not yes_no and not _LOOKUP.match(asked):
        return None
    facts = [memory for memory in memories if memory.kind in FAST_KINDS and not memory.replaced]
    memory = clear_match(asked, facts)
    if memory is None or memory.text.startswith("Reminder:"):
        return None
    if yes_no:
        # "Am I vegetarian?" is a yes only when the fact says all of it: "Am I allergic
        # to peanuts?" is not answered from "I'm allergic to shellfish."
        if not topic_words(asked) - {"yes", "no"} <= topic_words(memory.text):
            return None
        return "Yes. " + to_second_person(memory.text)
    return to_second_person(memory.text)


def turn_memories(
    question: str,
    answer: str,
    *,
    now: datetime,
    source_id: str,
    ocr_lines: Sequence[str] = (),
    labels: Sequence[tuple[str, float]] = (),
) -> list[NewMemory]:
    """What to store after an answered turn: the exchange, its facts, and the scene."""
    memories: list[NewMemory] = []
    asked = _quote(question)
    if asked:
        exchange = f'Asked "{asked}"' + (f' and was told "{_quote(answer)}"' if answer else "")
        memories.append(
            NewMemory(
                text=_fit(exchange + "."),
                time=now,
                kind=MemoryKind.EPISODIC,
                source_id=source_id,
                importance=EPISODIC_IMPORTANCE,
            )
        )
        memories += [
            fact.to_memory(time=now, source="conversation", source_id=source_id)
            for fact in extract_facts(question)
        ]
    scene = describe_scene(ocr_lines, labels)
    if scene:
        said = f', while I said "{asked}"' if asked else ""
        memories.append(
            NewMemory(
                text=_fit(f"The glasses saw {scene}{said}."),
                time=now,
                kind=MemoryKind.OBSERVATION,
                source="glasses",
                source_id=source_id,
                importance=OBSERVATION_IMPORTANCE,
            )
        )
    return memories


def acknowledge_facts(said: str) -> str | None:
    """What to say to a plain statement of facts ("My sister's name is Ana."): that it is kept.

    The small model, given a statement and no question, answers as if asked
    about the camera; a statement that asks nothing gets this instead. None
    when the utterance states no fact or also asks something.
    """
    if "?" in said:
        return None
    facts = extract_facts(said)
    sentences = [s for s in split_sentences(said) if re.search(r"\w", s)]
    requested = facts and facts[0].kind is MemoryKind.EXPLICIT  # later sentences join it
    if not facts or (len(facts) < len(sentences) and not requested):
        return None  # something in it was not a fact: let the model answer it
    kept = " ".join(to_second_person(fact.text) for fact in facts)
    return f"Got it, I'll remember that. {kept}"


def describe_scene(ocr_lines: Sequence[str], labels: Sequence[tuple[str, float]]) -> str:
    """ "what looked like a desk, with the text "EXIT"", or "" when nothing was made out."""
    confident = [
        name.replace("_", " ")
        for name, score in sorted(labels, key=lambda item: -item[1])
        if score >= LABEL_FLOOR
    ][:2]
    text = " / ".join(line.strip() for line in ocr_lines if line.strip())
    parts = []
    if confident:
        parts.append("what looked like " + " or ".join(f"a {name}" for name in confident))
    if text:
        parts.append(f'the text "{_quote(text)}"')
    return ", with ".join(parts)


def _quote(text: str) -> str:
    text = " ".join(text.replace('"', "'").split())
    return text if len(text) <= _MAX_QUOTE_CHARS else text[:_MAX_QUOTE_CHARS] + " …"


def _fit(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 2] + " …"
