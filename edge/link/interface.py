"""What an edge session needs from its connection to the gateway.

`GatewayClient` is the real one (WebRTC data channel); the simulator wraps it
in a fault layer (simulators/network_faults.py) that delays, loses and drops
traffic, and the session cannot tell the difference.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Protocol, Self

from protocol import Message


class Link(Protocol):
    """`async with link:` — `await link.send(m)`, `async for m in link`."""

    @property
    def session_id(self) -> str: ...

    @property
    def bytes_sent(self) -> int: ...

    @property
    def messages_sent(self) -> int: ...

    @property
    def closed(self) -> asyncio.Event: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def send(self, message: Message) -> None: ...

    def __aiter__(self) -> AsyncIterator[Message]: ...


Connect = Callable[[str], Link]
"""Makes a (not yet opened) link to the gateway at a URL."""
