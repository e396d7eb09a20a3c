"""A link that survives a dropped connection: reconnect, say Hello again, resend open turns.

Wearers walk out of Wi-Fi, phones switch networks: a connection that drops
while an answer streams must not lose the question. `ResumingLink` wraps any
`Connect` (the WebRTC client, or the simulator's faulty network). When the
connection closes under it, it reconnects with backoff, sends the Hello again
and then every message of the turns still unanswered (`PendingTurns`), so the
new gateway session answers them. Only when reconnecting fails for
`reconnect_for_s` does the link close for good. The session above sees one
link throughout, with its first session id.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import time
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Self

from edge.errors import EdgeError
from edge.link.client import GatewayClient
from edge.link.interface import Connect, Link
from edge.link.pending_turns import PendingTurns
from protocol import Message

log = logging.getLogger(__name__)

# Seconds between reconnection attempts; the last repeats until the window ends.
BACKOFF_S: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)


class ResumingLink:
    """`async with ResumingLink(url) as link:` — a `Link` that reconnects and resends."""

    def __init__(
        self,
        gateway_url: str,
        connect: Connect = GatewayClient,
        *,
        reconnect_for_s: float = 30.0,
        backoff_s: Sequence[float] = BACKOFF_S,
    ) -> None:
        self._url = gateway_url
        self._connect = connect
        self._reconnect_for = reconnect_for_s
        self._backoff = tuple(backoff_s) or (0.5,)
        self.pending = PendingTurns()
        self.closed = asyncio.Event()
        self.reconnects = 0
        self.resent = 0
        self._session_id = ""
        self._inner: Link | None = None
        self._retired_bytes = 0
        self._retired_messages = 0
        self._inbox: asyncio.Queue[Message | None] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        # Held while a new connection gets its backlog, so nothing overtakes the Hello.
        self._sending = asyncio.Lock()
        self._leaving = False

    @property
    def session_id(self) -> str:
        """The first connection's id: the session's own messages keep it throughout."""
        return self._session_id

    @property
    def bytes_sent(self) -> int:
        return self._retired_bytes + (self._inner.bytes_sent if self._inner is not None else 0)

    @property
    def messages_sent(self) -> int:
        current = self._inner.messages_sent if self._inner is not None else 0
        return self._retired_messages + current

    async def __aenter__(self) -> Self:
        self._inner = await self._connect(self._url).__aenter__()
        self._session_id = self._inner.session_id
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._leaving = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._inner is not None:
            await self._inner.__aexit__(None, None, None)
        self._close()

    async def send(self, message: Message) -> None:
        """Send now if connected; a turn's message sent while down goes with the resend."""
        async with self._sending:
            self.pending.sent(message)
            inner = self._inner
            if inner is None or inner.closed.is_set():
                return
            if message.session_id != inner.session_id:
                message = dataclasses.replace(message, session_id=inner.session_id)
            try:
                await inner.send(message)
            except EdgeError:  # the channel closed under us: the reader is reconnecting
                log.debug("not sent while the link is down: %s", message.kind)

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[Message]:
        while (message := await self._inbox.get()) is not None:
            yield message

    async def _read(self) -> None:
        while self._inner is not None:
            async for message in self._inner:
                self.pending.received(message)
                self._inbox.put_nowait(message)
            if self._leaving or not await self._reconnect():
                break
        self._close()

    async def _reconnect(self) -> bool:
        """A new connection with the Hello and the open turns resent; False after giving up."""
        old = self._inner
        assert old is not None
        with contextlib.suppress(Exception):
            await old.__aexit__(None, None, None)
        self._retired_bytes += old.bytes_sent
        self._retired_messages += old.messages_sent
        self._inner = None
        give_up = time.monotonic() + self._reconnect_for
        for attempt in itertools.count():
            await asyncio.sleep(self._backoff[min(attempt, len(self._backoff) - 1)])
            try:
                fresh = await self._connect(self._url).__aenter__()
            except (EdgeError, OSError) as exc:
                if time.monotonic() >= give_up:
                    log.warning("gave up reconnecting to %s: %s", self._url, exc)
                    return False
                continue
            async with self._sending:
                backlog = self.pending.resume(fresh.session_id)
                try:
                    for message in backlog:
                        await fresh.send(message)
                except EdgeError:  # dropped again at once: try another connection
                    with contextlib.suppress(Exception):
                        await fresh.__aexit__(None, None, None)
                    self._retired_bytes += fresh.bytes_sent
                    self._retired_messages += fresh.messages_sent
                    continue
                self._inner = fresh
            self.reconnects += 1
            self.resent += len(backlog)
            log.info(
                "reconnected to %s; resent %d unanswered turn(s)",
                self._url,
                len(self.pending.unanswered),
            )
            return True
        return False

    def _close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self._inbox.put_nowait(None)
