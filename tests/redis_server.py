"""A real Redis 7 for the tests: a running one named by COMPANION_TEST_REDIS, or our own.

With COMPANION_TEST_REDIS=redis://… the tests use that server (CI may start
one). Otherwise Debian's `redis-server` is started on a free loopback port with
nothing persisted (simulators/redis_server.py) and stopped when the session
ends. Each test gets a database flushed for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from simulators.redis_server import redis_server as throwaway_redis

ENV = "COMPANION_TEST_REDIS"


@contextmanager
def redis_server() -> Iterator[str]:
    given = os.environ.get(ENV)
    if given:
        yield given
        return
    with throwaway_redis() as url:
        yield url
