"""Nothing leaks: after 200 sessions against a real in-process gateway — opened, used and
closed, refused for a malformed offer, answered but never connected, or dropped mid-question —
the process's open file descriptors, asyncio tasks and threads are back where they started.

Both the gateway and its clients run in this process, so the counts cover both sides.
The slack allowed (LEAK_SLACK) is fixed, not proportional to the sessions run: a leak of
one socket, task or thread per session would be 40 to 200 over it.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from cloud.memory import HashingEmbedder
from edge.models import EdgeModels
from gateway.routes.rate_limits import Limit
from protocol import AnswerDone, Hello, Query
from protocol.limits import MAX_SESSIONS_PER_USER
from tests.app_stack import AppStack, app_stack
from tests.fakes import FakeReasoner, FakeTranscriber
from tests.raw_peer import APP_ROUTE, EDGE_ROUTE, RawPeer, good_offer, post_offer
from tests.test_hostile_input import crafted_offers
from tests.waiting import until

# Fixed slack, explained (measured: +0 descriptors, +0 tasks, +0 or +1 thread):
# - threads: the default executor (to_thread: accounts, history, memory) starts its workers
#   lazily, up to min(32, CPUs + 4), and keeps them idle; the run's concurrency may start
#   a few more than the warm-up did.
# - file descriptors: a pool thread's or SQLite's file opened on demand.
# - tasks: a last aiohttp/aioice housekeeping task may still be finishing when we look.
LEAK_SLACK = {"fds": 4, "tasks": 2, "threads": min(32, (os.cpu_count() or 1) + 4)}
SESSIONS = {"malformed": 60, "never_connected": 40, "used_and_closed": 60, "dropped": 40}
AT_ONCE = 4


def _fd_kinds() -> dict[str, int]:
    kinds: dict[str, int] = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        kind = target.split(":")[0] if ":" in target else Path(target).suffix or target
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def _counts() -> dict[str, int]:
    return {
        "fds": len(os.listdir("/proc/self/fd")),
        "tasks": len(asyncio.all_tasks()),
        "threads": threading.active_count(),
    }


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[AppStack]:
    async with app_stack(
        tmp_path, EdgeModels(), FakeTranscriber(), FakeReasoner(), HashingEmbedder()
    ) as running:
        assert running.stack.app is not None
        running.stack.app.limiter.limits["session"] = Limit(per_minute=10**6, burst=10**6)
        running.stack.app.limiter.limits["question"] = Limit(per_minute=10**6, burst=10**6)
        running.stack.gateway.connect_deadline_s = 0.3
        running.stack.app.live._grace_s = 0.2  # a dropped app is given up on quickly
        yield running


async def _in_batches(jobs: list[Callable[[], Awaitable[None]]]) -> None:
    for start in range(0, len(jobs), AT_ONCE):
        await asyncio.gather(*(job() for job in jobs[start : start + AT_ONCE]))


def _live(app: AppStack) -> int:
    assert app.stack.app is not None
    return len(app.stack.gateway.sessions) + len(app.stack.app.sessions)


async def test_200_sessions_leave_no_descriptor_task_or_thread_behind(app: AppStack) -> None:
    users = [f"user{i}" for i in range(6)]
    tokens = {user: app.session_token(user) for user in users}
    good = await good_offer()
    crafted = [body for _, body in crafted_offers(good)]
    routes = [EDGE_ROUTE, APP_ROUTE]
    count = iter(range(10**6))

    async with aiohttp.ClientSession() as http:

        def token() -> str:
            return tokens[users[next(count) % len(users)]]

        def malformed(i: int) -> Callable[[], Awaitable[None]]:
            async def job() -> None:
                status, _ = await post_offer(
                    http, app.url + routes[i % 2], crafted[i % len(crafted)], token()
                )
                assert status == 400

            return job

        def never_connected(i: int) -> Callable[[], Awaitable[None]]:
            async def job() -> None:
                offer = {"sdp": good, "type": "offer"}
                status, _ = await post_offer(http, app.url + routes[i % 2], offer, token())
                assert status in (200, 429)  # 429: that user's four slots are still held

            return job

        def used(i: int, *, drop: bool) -> Callable[[], Awaitable[None]]:
            async def job() -> None:
                # A user's earlier sessions may still be ending: wait for a free slot.
                user = users[next(count) % len(users)]
                await until(
                    lambda: app.stack.gateway.live_sessions_of(user) < MAX_SESSIONS_PER_USER
                )
                peer = await RawPeer(app.url, routes[i % 2], tokens[user]).open(http)
                try:
                    peer.send(Hello, user="x", device="leak-test")
                    peer.send(Query, turn_id=1, text="what does this say?")
                    if not drop:
                        await peer.wait_for(AnswerDone)
                finally:
                    await peer.close()  # no goodbye: the gateway notices the peer went

            return job

        async def settle() -> None:
            await until(lambda: _live(app) == 0, timeout_s=30, what="every session to end")
            for _ in range(20):  # let closing transports run their last callbacks
                await asyncio.sleep(0.02)

        # Warm-up: one of each kind, and a used session for every user (the cloud keeps each
        # user's store open once opened), so lazily started pools and files are in the baseline.
        await _in_batches(
            [malformed(0), never_connected(1), used(0, drop=True), used(1, drop=True)]
            + [used(i, drop=False) for i in range(len(users))]
        )
        await settle()
        before = _counts()

        jobs = (
            [malformed(i) for i in range(SESSIONS["malformed"])]
            + [never_connected(i) for i in range(SESSIONS["never_connected"])]
            + [used(i, drop=False) for i in range(SESSIONS["used_and_closed"])]
            + [used(i, drop=True) for i in range(SESSIONS["dropped"])]
        )
        assert len(jobs) == 200
        await _in_batches(jobs)
        await settle()
        after = _counts()

    grown = {name: after[name] - before[name] for name in before}
    assert all(grown[name] <= LEAK_SLACK[name] for name in grown), (
        before,
        after,
        sorted(_fd_kinds().items(), key=lambda kv: -kv[1])[:8],
    )
    # Still serving: a good offer is answered.
    async with aiohttp.ClientSession() as http:
        status, _ = await post_offer(
            http, app.url + EDGE_ROUTE, {"sdp": good, "type": "offer"}, tokens[users[0]]
        )
    assert status == 200
