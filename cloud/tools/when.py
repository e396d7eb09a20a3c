"""Times as people say them ("in ten minutes", "at 5 pm", "tomorrow at 9"), read against `now`.

Clock times are in `now`'s time zone; a clock time already past today means
tomorrow, as a person would mean it. Anything not understood gives None, so
the caller can ask again instead of guessing.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "forty-five": 45,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
}
_UNIT_SECONDS = {"second": 1, "sec": 1, "minute": 60, "min": 60, "hour": 3600, "day": 86_400}
_AMOUNT = r"(?:\d+(?:\.\d+)?|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + r")"
DURATION = (
    rf"(?:(?:half an? hour)|(?:{_AMOUNT}(?: and a half)?[ -]"
    r"(?:seconds?|secs?|minutes?|mins?|hours?|days?)))"
)
_DURATION_PART = re.compile(
    rf"^(?:(?P<half>half an? hour)|(?P<amount>{_AMOUNT})(?P<and_half> and a half)?[ -]"
    r"(?P<unit>second|sec|minute|min|hour|day)s?)$",
    re.IGNORECASE,
)
CLOCK = r"(?:\d{1,2}(?::\d{2})?\s*(?:a\.?m\.?|p\.?m\.?|o'clock)?|noon|midnight)"
_CLOCK_PART = re.compile(
    r"^(?:(?P<noon>noon)|(?P<midnight>midnight)|(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?"
    r"\s*(?P<half>a\.?m\.?|p\.?m\.?|o'clock)?)$",
    re.IGNORECASE,
)
WHEN = (
    rf"(?:in {DURATION}|(?:(?:tomorrow|today|tonight) )?(?:at )?{CLOCK}(?: (?:tomorrow|today|tonight))?"
    r"|tomorrow(?: morning)?)"
)


def parse_duration(text: str) -> timedelta | None:
    """ "ten minutes", "an hour and a half", "90 seconds" → a timedelta, or None."""
    match = _DURATION_PART.match(text.strip())
    if match is None:
        return None
    if match.group("half"):
        return timedelta(minutes=30)
    amount_text = match.group("amount").lower()
    amount = float(_NUMBERS.get(amount_text, 0) or float(amount_text))
    if match.group("and_half"):
        amount += 0.5
    seconds = amount * _UNIT_SECONDS[match.group("unit").lower()]
    return timedelta(seconds=seconds) if seconds > 0 else None


def parse_when(text: str, now: datetime) -> datetime | None:
    """When a reminder is due: `now` plus a duration, or the next matching clock time."""
    text = text.strip().lower()
    if text.startswith("in "):
        duration = parse_duration(text[3:])
        return None if duration is None else now + duration
    day_offset = 0
    explicit_day = False
    tonight = "tonight" in text.split()
    for word in ("tomorrow", "today", "tonight"):
        if word in text.split():
            explicit_day = True
            day_offset = 1 if word == "tomorrow" else 0
            text = " ".join(part for part in text.split() if part != word)
    text = text.removeprefix("at ").strip()
    if text in ("", "morning"):
        if day_offset != 1:
            return None
        text = "9 am"  # "tomorrow" alone: the start of a working day
    clock = _clock(text, evening=tonight)
    if clock is None:
        return None
    hour, minute = clock
    due = (now + timedelta(days=day_offset)).replace(
        hour=hour, minute=minute, second=0, microsecond=0
    )
    if due <= now and not explicit_day:
        due += timedelta(days=1)
    return due if due > now else None


def _clock(text: str, *, evening: bool) -> tuple[int, int] | None:
    match = _CLOCK_PART.match(text.strip())
    if match is None:
        return None
    if match.group("noon"):
        return 12, 0
    if match.group("midnight"):
        return 0, 0
    hour = int(match.group("hour"))
    minute = int(match.group("minute") or 0)
    half = (match.group("half") or "").replace(".", "").lower()
    if minute > 59 or hour > 23:
        return None
    if half in ("am", "pm"):
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "pm" else 0)
    elif evening and hour < 12:
        hour += 12
    return hour, minute
