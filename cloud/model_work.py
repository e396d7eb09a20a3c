"""Blocking model calls on the cloud's own bounded thread pool, and a timeout that waits.

A thread cannot be stopped from outside. When `asyncio.timeout` cancels an
`await asyncio.to_thread(transcribe, …)`, the await ends but the thread goes on
computing, in the default pool, while the model lock it was taken under is
already free: the next turn starts its own call beside it and the CPU runs two
(then three…) at once. Here a cancelled call is waited out before the
cancellation goes on, so whatever the caller holds (the model lock) is let go
only when the model's thread is done, and the pool is the cloud's own, with a
fixed number of threads the default pool's other users never compete for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# Speech recognition and the reasoner share the CPU under one lock; a second thread
# lets the transcription route or a tool's model call run beside a session's turn.
MODEL_THREADS = 2


class ModelWorkers:
    """`await workers.run(fn, *args)`: `fn` on this pool; cancelling the await waits for it."""

    def __init__(self, max_workers: int = MODEL_THREADS) -> None:
        self.max_workers = max_workers
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="cloud-model")
        # Calls whose caller gave up (timed out, cancelled) but whose thread still runs.
        self.waiting_out = 0

    def threads(self) -> int:
        """Threads the pool has started (never more than `max_workers`)."""
        return len(self._pool._threads)

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        call = self._pool.submit(fn, *args)
        result = asyncio.wrap_future(call)
        try:
            return await asyncio.shield(result)
        except asyncio.CancelledError:
            if call.cancel():  # still queued, never started: nothing to wait for
                raise
            self.waiting_out += 1
            try:
                while not call.done():
                    try:
                        await asyncio.shield(result)
                    except asyncio.CancelledError:
                        continue  # cancelled again: the thread still has to finish first
                    except Exception:
                        break  # the late call failed; its caller already gave up on it
            finally:
                self.waiting_out -= 1
            log.info("a cancelled model call finished its thread; the model is free again")
            raise

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
