"""A user's questions a minute counted across every gateway, in Redis.

Without a bus one cloud process sees all of a user's sessions and counts them in
memory (cloud.turn_limits.QuestionRate). With several gateways a wearer's phone
and glasses may sit on different ones, so the window lives in Redis: a sorted
set per user of the questions asked (scored by wall time, expiring with the
window). TurnLimits asks synchronously, so the gateway `refresh()`es the shared
count just before it files a question; `allows` is that count plus what this
gateway counted since, and `count` adds the question to the set in the
background. Two gateways filing the same user's questions within the same few
milliseconds may let one extra through: a bound on abuse, not an account.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from cloud.turn_limits import RATE_WINDOW_S
from deploy.bus import keys

log = logging.getLogger(__name__)


class SharedQuestionRate:
    """QuestionRate's interface (`limit`, `allows`, `count`) over one Redis window per user."""

    def __init__(
        self,
        redis: Redis,
        user: str,
        limit: int,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self._redis = redis
        self._key = keys.question_rate(user)
        self._wall_clock = wall_clock
        self._shared = 0  # questions in the window at the last refresh, every gateway's
        self._unsent = 0  # counted here since, not yet in Redis
        self._writes: set[asyncio.Task[None]] = set()

    async def refresh(self) -> None:
        """Read the window's count across every gateway (call before filing a question)."""
        now = self._wall_clock()
        pipe = self._redis.pipeline(transaction=True)
        pipe.zremrangebyscore(self._key, "-inf", now - RATE_WINDOW_S)
        pipe.zcard(self._key)
        _, count = await pipe.execute()
        self._shared = int(count)

    def allows(self, now: float) -> bool:
        """Whether one more question fits (`now` is the session's clock; Redis keeps wall time)."""
        return self._shared + self._unsent < self.limit

    def count(self, now: float) -> None:
        self._unsent += 1
        task = asyncio.get_running_loop().create_task(self._add())
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _add(self) -> None:
        asked = self._wall_clock()
        try:
            pipe = self._redis.pipeline(transaction=True)
            pipe.zadd(self._key, {secrets.token_hex(8): asked})
            pipe.expire(self._key, int(RATE_WINDOW_S) + 1)
            await pipe.execute()
            self._shared += 1
        except (RedisError, OSError) as exc:  # the turn itself will fail to publish too
            log.warning("could not count a question in Redis: %s", exc)
        finally:
            self._unsent -= 1
