"""Waiting in tests for something to happen, rather than for a fixed time.

A fixed sleep is either too short on a loaded machine (a flaky test) or too
long on a quiet one (a slow test). These wait for the condition itself and
return the moment it holds; the timeout only bounds a failure, and a failure
says what was awaited.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

POLL_S = 0.005  # short enough that a test hardly waits past the moment it could go on


async def until(
    condition: Callable[[], object], *, timeout_s: float = 10.0, what: str = ""
) -> None:
    """Return once `condition()` is true; fail the test if it is not within `timeout_s`."""
    try:
        async with asyncio.timeout(timeout_s):
            while not condition():
                await asyncio.sleep(POLL_S)
    except TimeoutError:
        raise AssertionError(f"still waiting after {timeout_s} s for {what or condition}") from None


async def until_async(
    condition: Callable[[], Awaitable[object]],
    *,
    timeout_s: float = 10.0,
    poll_s: float = 0.1,
    what: str = "",
) -> None:
    """`until` for a condition that must itself be awaited (an HTTP call, a page query).

    It polls more slowly by default: each check costs a round trip.
    """
    try:
        async with asyncio.timeout(timeout_s):
            while not await condition():
                await asyncio.sleep(poll_s)
    except TimeoutError:
        raise AssertionError(f"still waiting after {timeout_s} s for {what or condition}") from None
