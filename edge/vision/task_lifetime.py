"""Keeping MediaPipe task objects alive until they are closed, and closing them at exit.

A MediaPipe task object must never be garbage-collected while another one is
running: its __del__ closes it through the shared serial dispatcher and
deadlocks (seen when a dropped detector was collected mid-detect). So every
open task is held here until its owner closes it. Whatever is still open when
the interpreter exits is closed by an atexit hook, while MediaPipe's executor
still exists; left to __del__ at teardown it would print a traceback.
"""

from __future__ import annotations

import atexit
import contextlib
from typing import Any

_OPEN: list[Any] = []


def hold(task: Any) -> None:
    """Keep `task` referenced until `release`."""
    _OPEN.append(task)


def release(task: Any) -> None:
    """Close `task` now and stop holding it."""
    task.close()
    with contextlib.suppress(ValueError):
        _OPEN.remove(task)


@atexit.register
def _close_all_at_exit() -> None:
    while _OPEN:
        task = _OPEN.pop()
        with contextlib.suppress(Exception):  # exiting anyway: nothing left to tell
            task.close()
