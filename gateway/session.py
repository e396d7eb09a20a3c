"""One edge session at the gateway: a peer connection, its data channel and the
websocket to the cloud that carries the same protocol messages."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable

from aiortc import RTCDataChannel, RTCPeerConnection
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from edge.link.webrtc import CONTEXT_CHANNEL, rtc_configuration
from gateway.cloud_link import connect_cloud
from gateway.sessions.lifecycle import CloudBoundSession
from protocol import (
    DeviceStatus,
    Error,
    Hello,
    Message,
    Sequencer,
    encode,
)

log = logging.getLogger(__name__)


class GatewaySession(CloudBoundSession):
    """Relays validated messages between an edge peer and the cloud.

    Every message from the edge is decoded here, so a malformed one is answered
    with an Error on the channel and never reaches the cloud; the session goes on.
    """

    def __init__(
        self,
        session_id: str,
        cloud: ClientConnection,
        on_closed: Callable[[str], None] = lambda session_id: None,
        user: str | None = None,
    ) -> None:
        super().__init__(session_id, cloud, on_closed)
        # The authenticated user (None: a gateway without accounts): a Hello naming
        # anyone else is rewritten, so a device can only ever speak as its owner.
        self.user = user
        self.speaker = user or ""  # the user this session speaks for, once known
        # The phone app shows the wearer's glasses (set by the gateway).
        self.on_device_status: Callable[[str, DeviceStatus], None] = lambda user, status: None
        self.pc = RTCPeerConnection(rtc_configuration())
        self._channel: RTCDataChannel | None = None
        self._out = Sequencer(session_id)
        self._to_cloud: asyncio.Queue[bytes] = asyncio.Queue(maxsize=256)
        self.messages_in = 0
        self.errors = 0

        @self.pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            if channel.label != CONTEXT_CHANNEL:
                log.warning("ignoring unexpected data channel %r", channel.label)
                return
            self._channel = channel
            channel.on("message", self._on_edge_message)

        @self.pc.on("connectionstatechange")
        async def on_state() -> None:
            log.info("session %s: peer %s", session_id, self.pc.connectionState)
            if self.pc.connectionState in ("failed", "closed"):
                await self.close()

    @classmethod
    async def open(
        cls,
        session_id: str,
        cloud_url: str,
        on_closed: Callable[[str], None],
        user: str | None = None,
        *,
        cloud_secret: bytes,
    ) -> GatewaySession:
        cloud = await connect_cloud(
            cloud_url, user=user, session_id=session_id, secret=cloud_secret
        )
        session = cls(session_id, cloud, on_closed, user)
        session._tasks = {
            asyncio.create_task(session._relay_to_cloud()),
            asyncio.create_task(session._relay_from_cloud()),
        }
        return session

    def _on_edge_message(self, data: bytes | str) -> None:
        self.messages_in += 1
        message = self._own_message(data)
        if message is None:
            return
        if isinstance(message, Hello):
            if self.user is not None and message.user != self.user:
                data = encode(dataclasses.replace(message, user=self.user))
            self.speaker = self.user or message.user
        elif isinstance(message, DeviceStatus) and self.speaker:
            self.on_device_status(self.speaker, message)
        try:
            self._to_cloud.put_nowait(data if isinstance(data, bytes) else data.encode())
        except asyncio.QueueFull:
            self._send_error("overloaded", "too many messages in flight; slow down", message.seq)

    def _send_error(self, code: str, text: str, ref_seq: int = -1) -> None:
        self.errors += 1
        log.info("session %s: %s: %s", self.session_id, code, text)
        self.send_to_edge(self._out.make(Error, code=code, message=text, ref_seq=ref_seq))

    def send_to_edge(self, message: Message) -> None:
        if self._channel is not None and self._channel.readyState == "open":
            self._channel.send(encode(message))

    async def _relay_to_cloud(self) -> None:
        try:
            while True:
                await self._cloud.send(await self._to_cloud.get())
        except ConnectionClosed:
            await self._cloud_lost()

    async def _relay_from_cloud(self) -> None:
        try:
            async for data in self._cloud:
                if self._channel is not None and self._channel.readyState == "open":
                    self._channel.send(data)
        except ConnectionClosed:
            pass
        await self._cloud_lost()

    def _peer(self) -> RTCPeerConnection:
        return self.pc
