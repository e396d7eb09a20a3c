"""Retention on a schedule: what each user keeps past the deployment's age limit goes.

One setting (`cloud.retention_days`) covers everything kept per user: memories,
notes, delivered reminders, prices seen (the cloud's stores) and the app's
History (the gateway's). The sweep runs once at start and then every
`retention_sweep_s`, whether or not the user connects, so nothing outlives the
limit because its owner stopped using the app.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

log = logging.getLogger(__name__)

Forget = Callable[[str, float], Awaitable[object]]
"""Deletes what `user` keeps that is older than `max_age_s` seconds."""


class RetentionSweeper:
    def __init__(
        self,
        *,
        max_age_s: float,
        interval_s: float,
        users: Callable[[], Iterable[str]],
        forget: Forget,
    ) -> None:
        self.max_age_s = max_age_s
        self.interval_s = interval_s
        self._users = users
        self._forget = forget
        self.sweeps = 0

    async def sweep(self) -> None:
        """One pass over every user; one user's failure does not stop the others."""
        for user in sorted(set(self._users())):
            try:
                await self._forget(user, self.max_age_s)
            except Exception:  # a damaged store must not keep the others' data forever
                log.exception("retention for %s failed; tried again next sweep", user)
        self.sweeps += 1

    async def run(self) -> None:
        """Sweep now and then every `interval_s`, until cancelled."""
        while True:
            await self.sweep()
            await asyncio.sleep(self.interval_s)
