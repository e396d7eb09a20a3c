"""Questions about time ("last Tuesday", "in May", "two weeks ago") as a window on event times.

A memory's words rarely say when it happened ("the plumber came and fixed the
boiler"); its event time does. So the time phrase is taken out of the
question, turned into a [start, end) window in the wearer's time zone, and
retrieval keeps to memories inside it. The rest of the question is what is
searched for. Pure functions: `now` is passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from cloud.memory.records import Memory, SearchHit
from cloud.memory.store import MemoryStore

_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_MONTHS = (
    "january february march april may june july august september october november december".split()
)
_MONTH_SHORT = {name[:3]: number for number, name in enumerate(_MONTHS, start=1)}
_COUNTS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "couple of": 2,
    "few": 3,
}
_COUNT = r"(?P<count>\d+|a couple of|a few|an|a|one|two|three|four|five|six)"
_FLAGS = re.IGNORECASE

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ago", re.compile(rf"\b{_COUNT} (?P<unit>day|week|month|year)s? ago\b", _FLAGS)),
    ("yesterday", re.compile(r"\b(?:yesterday|last night)\b", _FLAGS)),
    (
        "today",
        re.compile(r"\b(?:today|this morning|this afternoon|this evening|tonight)\b", _FLAGS),
    ),
    ("weekend", re.compile(r"\b(?:last|this|over the|on the|at the) weekend\b", _FLAGS)),
    (
        "weekday",
        re.compile(
            r"\b(?:(?P<last>last|on|this|past) )?(?P<day>" + "|".join(_WEEKDAYS) + r")\b", _FLAGS
        ),
    ),
    ("week", re.compile(r"\b(?P<which>last|this|past|previous) week\b", _FLAGS)),
    ("month", re.compile(r"\b(?P<which>last|this|past|previous) month\b", _FLAGS)),
    ("year", re.compile(r"\b(?P<which>last|this|past|previous) year\b", _FLAGS)),
    (
        "named-month",
        re.compile(
            r"\b(?:in|during|back in|early|late|mid|at the (?:start|end|beginning) of) (?:early |late |mid-)?"
            r"(?P<month>" + "|".join(_MONTHS) + r")(?: (?P<year>\d{4}))?\b",
            _FLAGS,
        ),
    ),
)


# Rules that name a past time only when the question is about the past: "what do I have on
# Friday?" asks about a plan, "what did I do on Friday?" about a memory.
_NEEDS_PAST = frozenset({"weekday", "weekend", "named-month", "today"})
_PAST = re.compile(
    r"\b(?:did|was|were|had|said|told|saw|seen|met|went|go|ate|bought|talked|mentioned|asked"
    r"|happened|last|ago|spent|visited|watched|read|called|got|came|made|took)\b",
    _FLAGS,
)


@dataclass(frozen=True)
class TimeWindow:
    """Event times from `start` (inclusive) to `end` (exclusive), and the words that said so."""

    start: datetime
    end: datetime
    phrase: str


def time_window(question: str, now: datetime) -> TimeWindow | None:
    """The window a question's time phrase names, read against `now`, or None."""
    for rule, pattern in _PATTERNS:
        match = pattern.search(question)
        if match is None:
            continue
        if rule in _NEEDS_PAST and not _PAST.search(question):
            continue
        window = _window(rule, match, now)
        if window is not None:
            return TimeWindow(window[0], window[1], match.group(0))
    return None


def without_time(question: str, window: TimeWindow) -> str:
    """The question with its time phrase taken out: what is left to search for by meaning."""
    rest = " ".join(question.replace(window.phrase, " ").split())
    return rest or question


def search_in_time(
    store: MemoryStore, user: str, question: str, *, now: datetime, k: int
) -> list[SearchHit]:
    """Search, kept to the window the question names; the plain search when it names none
    or nothing in the window matches."""
    window = time_window(question, now)
    if window is None:
        return store.search(user, question, now=now, k=k)
    hits = store.search(
        user, without_time(question, window), now=now, k=k, since=window.start, until=window.end
    )
    return hits or store.search(user, question, now=now, k=k)


# How many of the newest memories `memories_in_window` looks through at most: windows
# are nearly always recent ("on Saturday", "last week"), and the scan stays bounded.
MAX_WINDOW_SCAN = 2000
_PAGE = 200


def memories_in_window(
    store: MemoryStore, user: str, window: TimeWindow, *, limit: int
) -> list[Memory]:
    """The user's memories whose event time is in the window, newest first, at most `limit`.

    For "what did I do on Saturday?", where every memory of Saturday is relevant and
    none shares a word with the question, so a search would find nothing to rank.
    """
    found: list[Memory] = []
    for offset in range(0, MAX_WINDOW_SCAN, _PAGE):
        page = store.list_memories(user, offset=offset, limit=_PAGE)
        for memory in page:
            if memory.time < window.start:
                return found
            if memory.time < window.end and not memory.replaced:
                found.append(memory)
                if len(found) == limit:
                    return found
        if len(page) < _PAGE:
            break
    return found


def _day_start(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _window(rule: str, match: re.Match[str], now: datetime) -> tuple[datetime, datetime] | None:
    today = _day_start(now)
    if rule == "yesterday":
        return today - timedelta(days=1), today + timedelta(hours=6)
    if rule == "today":
        return today, today + timedelta(days=1)
    if rule == "ago":
        count_text = match.group("count").lower().removeprefix("a ").strip()
        count = int(count_text) if count_text.isdigit() else _COUNTS.get(count_text, 1)
        unit = match.group("unit").lower()
        if unit == "day":
            day = today - timedelta(days=count)
            return day, day + timedelta(days=1)
        days = {"week": 7, "month": 30, "year": 365}[unit] * count
        slack = {"week": 4, "month": 15, "year": 120}[unit]
        middle = today - timedelta(days=days)
        return middle - timedelta(days=slack), middle + timedelta(days=slack)
    if rule == "weekend":
        saturday = today - timedelta(days=(today.weekday() - 5) % 7)
        if saturday + timedelta(days=2) > now and match.group(0).lower().startswith("last"):
            saturday -= timedelta(days=7)
        return saturday, saturday + timedelta(days=2)
    if rule == "weekday":
        wanted = _WEEKDAYS.index(match.group("day").lower())
        back = (today.weekday() - wanted) % 7
        if back == 0 and (match.group("last") or "").lower() in {"last", "past"}:
            back = 7
        day = today - timedelta(days=back)
        return day, day + timedelta(days=1)
    if rule == "week":
        monday = today - timedelta(days=today.weekday())
        if match.group("which").lower() == "this":
            return monday, today + timedelta(days=1)
        return monday - timedelta(days=7), monday
    if rule == "month":
        first = today.replace(day=1)
        if match.group("which").lower() == "this":
            return first, today + timedelta(days=1)
        previous = (first - timedelta(days=1)).replace(day=1)
        return previous, first
    if rule == "year":
        first = today.replace(month=1, day=1)
        if match.group("which").lower() == "this":
            return first, today + timedelta(days=1)
        return first.replace(year=first.year - 1), first
    if rule == "named-month":
        month = _MONTH_SHORT[match.group("month").lower()[:3]]
        year = int(match.group("year")) if match.group("year") else now.year
        if not match.group("year") and month > now.month:
            year -= 1  # "in November", asked in March, is last November
        start = today.replace(year=year, month=month, day=1)
        end = (
            start.replace(year=year + 1, month=1) if month == 12 else start.replace(month=month + 1)
        )
        return start, end
    return None
