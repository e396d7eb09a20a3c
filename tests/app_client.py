"""A scripted phone app: the app's protocol (resume, seq, acks) from Python, for API tests.

It opens the same `/v1/app/sessions` WebRTC session as the browser app, with a
data channel and no media, and acks every numbered message it receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import aiohttp
from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription

from edge.link.webrtc import CONTEXT_CHANNEL, rtc_configuration
from protocol import Ack, Message, decode, encode


class AppLink:
    def __init__(self, gateway_url: str, token: str) -> None:
        self.gateway_url = gateway_url
        self.token = token
        self.session_id = ""
        self.last_seq = 0
        self.received: list[Message] = []
        self.arrived = asyncio.Event()
        self._pc: RTCPeerConnection | None = None
        self._channel: RTCDataChannel | None = None
        self._up = 0

    async def connect(self, *, resume: bool = False) -> None:
        pc = RTCPeerConnection(rtc_configuration())
        channel = pc.createDataChannel(CONTEXT_CHANNEL, ordered=True)
        opened = asyncio.Event()
        channel.on("open", opened.set)
        channel.on("message", self._on_message)
        await pc.setLocalDescription(await pc.createOffer())
        body: dict[str, Any] = {"sdp": pc.localDescription.sdp, "type": "offer"}
        if resume:
            body |= {"resume": self.session_id, "last_seq": self.last_seq}
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{self.gateway_url}/v1/app/sessions",
                json=body,
                headers={"Authorization": f"Bearer {self.token}"},
            ) as reply:
                answer = await reply.json()
                if reply.status != 200:
                    await pc.close()
                    raise PermissionError(f"{reply.status}: {answer.get('error')}")
        self.session_id = answer["session_id"]
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        async with asyncio.timeout(20):
            await opened.wait()
        self._pc, self._channel = pc, channel

    def _on_message(self, data: bytes | str) -> None:
        message = decode(data)
        if isinstance(message, Ack):
            return
        if message.seq <= self.last_seq:
            return  # a replay of something already here
        assert message.seq == self.last_seq + 1, f"gap: {self.last_seq} → {message.seq}"
        self.last_seq = message.seq
        self.received.append(message)
        self.arrived.set()
        assert self._channel is not None
        self._channel.send(
            encode(
                Ack(
                    session_id=self.session_id, seq=0, sent_at=time.monotonic(), ack_seq=message.seq
                )
            )
        )

    def send(self, cls: type[Message], **fields: Any) -> None:
        self._up += 1
        assert self._channel is not None
        self._channel.send(
            encode(
                cls(session_id=self.session_id, seq=self._up, sent_at=time.monotonic(), **fields)
            )
        )

    def send_raw(self, data: bytes) -> None:
        """Bytes as they are, for what a broken or hostile app might send."""
        assert self._channel is not None
        self._channel.send(data)

    async def drop(self) -> None:
        """Cut the connection the way a lost network does: no goodbye."""
        if self._pc is not None:
            with contextlib.suppress(Exception):
                await self._pc.close()
        self._pc = self._channel = None

    async def wait_for(self, kind: type[Message], within_s: float = 30.0) -> Message:
        async with asyncio.timeout(within_s):
            while True:
                found = [m for m in self.received if isinstance(m, kind)]
                if found:
                    return found[0]
                self.arrived.clear()
                await self.arrived.wait()
