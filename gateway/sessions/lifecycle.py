"""How every gateway session ends: once, telling its client why, and releasing what it holds.

Both kinds of session (`GatewaySession` for edge clients, `AppSession` for the
phone app) hold the same three things — a websocket to the cloud, a peer
connection and a few relay tasks — and end the same way whether the cloud went
away, the peer left or the gateway shut down. That shared ending lives here so
the two cannot drift apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from aiortc import RTCPeerConnection
from websockets.asyncio.client import ClientConnection

from protocol import Message, ProtocolError, decode

log = logging.getLogger(__name__)

CLOUD_LOST = "the cloud connection closed; reconnect"


class CloudBoundSession(ABC):
    """A session relaying to one cloud websocket; subclasses move the messages."""

    def __init__(
        self, session_id: str, cloud: ClientConnection, on_closed: Callable[[str], None]
    ) -> None:
        self.session_id = session_id
        self._cloud = cloud
        self._on_closed = on_closed
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closed = asyncio.Event()

    @abstractmethod
    def _send_error(self, code: str, text: str, ref_seq: int = -1) -> None:
        """Tell the client something went wrong (each kind of session numbers it its own way)."""

    @abstractmethod
    def _peer(self) -> RTCPeerConnection | None:
        """The peer connection to close last (None: there is none right now)."""

    def _own_message(self, data: bytes | str) -> Message | None:
        """The client's message, or None after telling it why it was refused (not a
        protocol message, or one naming another session)."""
        try:
            message = decode(data)
        except ProtocolError as exc:
            self._send_error("bad_message", str(exc))
            return None
        if message.session_id != self.session_id:
            self._send_error("wrong_session", "message names another session", message.seq)
            return None
        return message

    async def _release(self) -> None:  # noqa: B027 (an optional hook: most need nothing)
        """What a subclass lets go of before its tasks are cancelled (timers, media)."""

    async def _cloud_lost(self) -> None:
        if not self.closed.is_set():
            self._send_error("cloud_unavailable", CLOUD_LOST)
            await self.close()

    async def close(self) -> None:
        """End the session once; later calls do nothing."""
        if self.closed.is_set():
            return
        self.closed.set()
        self._on_closed(self.session_id)
        await self._release()
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        await self._cloud.close()
        pc = self._peer()
        if pc is not None:
            # Give a last Error (cloud lost) a moment to leave before the transport goes.
            with contextlib.suppress(Exception):
                await asyncio.sleep(0.05)
                await pc.close()
        log.info("session %s closed", self.session_id)
