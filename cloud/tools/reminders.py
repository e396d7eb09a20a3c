"""Delivering reminders and timers when they come due, to whichever sessions the user has open.

The scheduler belongs to the cloud server, not to a session: a reminder set in
one session fires into the next one if the wearer reconnected meanwhile, and
one that came due while nobody was connected fires as soon as the user is
back. Reminders live in the user's tool store (SQLite file or PostgreSQL, see
tools/store.py). Each look claims the due ones (`claim_due_reminders`: one
UPDATE … RETURNING), so however many cloud workers poll one shared store, each
reminder is handed to exactly one of them, which tells every session the user
has open. A worker that dies between the claim and the telling loses that one
notification rather than risk the wearer hearing it twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from cloud.memory.records import iso_utc
from cloud.memory.user_data import UserDirectory

log = logging.getLogger(__name__)


class Notifiable(Protocol):
    async def notify(self, text: str, *, category: str, ref: str, due: str) -> None: ...


class ReminderScheduler:
    """Polls the connected users' due reminders; `run` until cancelled."""

    def __init__(
        self,
        users: UserDirectory,
        sessions_of: Callable[[str], Sequence[Notifiable]],
        *,
        clock: Callable[[], datetime],
        poll_s: float = 1.0,
    ) -> None:
        self._users = users
        self._sessions_of = sessions_of
        self._clock = clock
        self._poll_s = poll_s

    async def run(self) -> None:
        while True:
            try:
                await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad store must not stop everyone's reminders
                log.exception("delivering reminders failed; trying again")
            await asyncio.sleep(self._poll_s)

    async def deliver_due(self) -> int:
        """Claim and send every due reminder of every connected user; returns how many were sent."""
        sent = 0
        now = self._clock()
        for user in self._users.users():
            sessions = list(self._sessions_of(user))
            if not sessions:
                continue  # kept until the user is back
            tools = self._users.open(user).tools
            for reminder in await asyncio.to_thread(tools.claim_due_reminders, now):
                text = (
                    reminder.text if reminder.category == "timer" else f"Reminder: {reminder.text}."
                )
                for session in sessions:
                    try:
                        await session.notify(
                            text,
                            category=reminder.category,
                            ref=reminder.id,
                            due=iso_utc(reminder.due),
                        )
                    except (OSError, ConnectionError) as exc:  # one gone session, not the rest
                        log.warning("reminder %s not told to a session: %s", reminder.id, exc)
                sent += 1
        return sent
