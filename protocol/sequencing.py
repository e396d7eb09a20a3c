"""Stamping outgoing messages with their session, sequence number and send time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from protocol.messages import Message

M = TypeVar("M", bound=Message)


class Sequencer:
    """Numbers one sender's messages in one session, 1, 2, 3 …

    The clock is injected so tests can run without real time.
    """

    def __init__(self, session_id: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.session_id = session_id
        self._clock = clock
        self._seq = 0

    def make(self, cls: type[M], **fields: Any) -> M:
        self._seq += 1
        return cls(session_id=self.session_id, seq=self._seq, sent_at=self._clock(), **fields)
