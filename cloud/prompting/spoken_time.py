"""Times said the way a person says them: "today at 9:15 am", "yesterday at 6 pm", "in 10 minutes".

Everything is spoken in `now`'s time zone, the wearer's; stored times are UTC.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def spoken_clock(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    half = "am" if moment.hour < 12 else "pm"
    return f"{hour} {half}" if moment.minute == 0 else f"{hour}:{moment.minute:02d} {half}"


def spoken_moment(moment: datetime, now: datetime) -> str:
    """ "today at 9:15 am", "yesterday at 6 pm", "on Monday 3 March at 8 am"."""
    local = moment.astimezone(now.tzinfo)
    days = (local.date() - now.date()).days
    clock = spoken_clock(local)
    if days == 0:
        return f"today at {clock}"
    if days == -1:
        return f"yesterday at {clock}"
    if days == 1:
        return f"tomorrow at {clock}"
    year = "" if local.year == now.year else f" {local.year}"
    return f"on {local.strftime('%A')} {local.day} {local.strftime('%B')}{year} at {clock}"


def spoken_duration(duration: timedelta) -> str:
    """ "10 minutes", "1 hour and 30 minutes", "45 seconds"."""
    seconds = round(duration.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [
        f"{amount} {unit}{'' if amount == 1 else 's'}"
        for amount, unit in ((hours, "hour"), (minutes, "minute"), (seconds, "second"))
        if amount
    ]
    if not parts:
        return "0 seconds"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def spoken_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
