"""The one small interface every link to the glasses offers, real or simulated.

A link connects, reads and writes GATT characteristics, and delivers the
notifications it was asked for as one pull-based stream of
`Notification(uuid, data, t)`. `BleakLink` (real hardware) and
`LoopbackLink` (in memory, with a configurable radio) implement it, so the
glasses source above them never knows which one it has.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

DEFAULT_QUEUE_NOTIFICATIONS = 8192
"""About 40 s of Opus audio at 10 ms per packet, or 4 s of PCM at MTU 23."""


@dataclass(frozen=True, slots=True)
class Notification:
    """One notification as it arrived: normalised characteristic UUID, value, arrival time.

    `t` is `time.monotonic()` seconds (the asyncio loop's clock).
    """

    uuid: str
    data: bytes
    t: float


class NotificationStream:
    """What a link hands its consumer: a bounded queue that drops the oldest when full.

    BLE has no flow control for notifications, so a consumer that falls
    behind must lose something; losing the oldest keeps the stream live, and
    the reassemblers already turn the hole into counted silence. `__anext__`
    is cancel-safe: a consumer may wait on it under `asyncio.timeout`.
    """

    def __init__(self, maxsize: int = DEFAULT_QUEUE_NOTIFICATIONS) -> None:
        self._items: deque[Notification] = deque(maxlen=maxsize)
        self._ready = asyncio.Event()
        self._closed = False
        self.dropped = 0
        """Notifications pushed out by newer ones because the consumer fell behind."""

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, notification: Notification) -> None:
        if self._closed:
            return
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append(notification)
        self._ready.set()

    def close(self) -> None:
        """No more notifications will come; iteration ends once the queue is drained."""
        self._closed = True
        self._ready.set()

    def __aiter__(self) -> NotificationStream:
        return self

    async def __anext__(self) -> Notification:
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()


@runtime_checkable
class GlassesLink(Protocol):
    """A GATT connection to one pair of glasses.

    Characteristic UUIDs are given in full lower-case form
    (`omi_protocol.normalize_uuid`). Reads and writes raise `LinkError` when
    the link is down or the characteristic is missing.
    """

    @property
    def is_connected(self) -> bool: ...

    @property
    def mtu(self) -> int | None:
        """The negotiated ATT MTU, when the platform reports it."""
        ...

    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    async def start_notify(self, uuid: str) -> None:
        """Ask for this characteristic's notifications on the stream."""
        ...

    def notifications(self) -> AsyncIterator[Notification]:
        """This connection's notifications; the iteration ends when the link goes down.

        Waiting for the next item must be cancel-safe (see `NotificationStream`).
        """
        ...

    async def read(self, uuid: str) -> bytes: ...

    async def write(self, uuid: str, data: bytes, *, with_response: bool = True) -> None: ...
