"""Stopping an answer the moment the wearer talks over it.

A reasoner's stream stops generating when it is closed (see `cloud.reasoning.reasoner`),
so cancelling the task that reads it is all barge-in needs; this waits for the
cancellation to finish, so the CPU is free before the next turn starts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any


async def unless_interrupted(work: Coroutine[Any, Any, None], interrupted: asyncio.Event) -> bool:
    """Run `work` to its end, or cancel it as soon as `interrupted` is set.

    Returns True when it was interrupted (before or while running). An error
    raised by `work` itself propagates as usual.
    """
    if interrupted.is_set():
        work.close()
        return True
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(interrupted.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # our own cancellation (a timeout, the session ending)
        task.cancel()
        waiter.cancel()
        await asyncio.gather(task, waiter, return_exceptions=True)
        raise
    waiter.cancel()
    if task.done():
        task.result()
        return False
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return True
