"""A bare WebRTC peer for hostile-input tests: it posts any offer and sends any bytes.

The real clients (GatewayClient, the app) only send what they mean to; this one
sends what an attacker or a broken client might, and keeps every message it
gets back, decoded, so a test can look for the Error that answered each.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp
from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription

from edge.link.webrtc import CONTEXT_CHANNEL, rtc_configuration
from protocol import Message, ProtocolError, Sequencer, decode, encode

EDGE_ROUTE = "/v1/sessions"
APP_ROUTE = "/v1/app/sessions"


async def good_offer() -> str:
    """A valid offer with a data channel, from a peer that is closed at once."""
    pc = RTCPeerConnection(rtc_configuration())
    pc.createDataChannel(CONTEXT_CHANNEL)
    await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


async def post_offer(
    http: aiohttp.ClientSession,
    url: str,
    body: Any,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """POST `body` (JSON unless it is bytes or str) and return (status, JSON or text)."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    kwargs: dict[str, Any] = {"data": body} if isinstance(body, (bytes, str)) else {"json": body}
    async with http.post(url, headers=sent, **kwargs) as reply:
        text = await reply.text()
        try:
            return reply.status, await reply.json(content_type=None)
        except ValueError:
            return reply.status, text


class RawPeer:
    """One connected session on `route`, its data channel open, keeping what comes back."""

    def __init__(self, gateway_url: str, route: str = EDGE_ROUTE, token: str | None = None) -> None:
        self.url = gateway_url + route
        self.token = token
        self.session_id = ""
        self.received: list[Message] = []
        self.undecodable = 0
        self.pc: RTCPeerConnection | None = None
        self._channel: RTCDataChannel | None = None
        self.up: Sequencer | None = None

    async def open(self, http: aiohttp.ClientSession) -> RawPeer:
        pc = self.pc = RTCPeerConnection(rtc_configuration())
        channel = pc.createDataChannel(CONTEXT_CHANNEL, ordered=True)
        opened = asyncio.Event()
        channel.on("open", opened.set)
        channel.on("message", self._on_message)
        await pc.setLocalDescription(await pc.createOffer())
        status, answer = await post_offer(
            http, self.url, {"sdp": pc.localDescription.sdp, "type": "offer"}, self.token
        )
        if status != 200:
            await pc.close()
            raise PermissionError(f"{status}: {answer}")
        self.session_id = answer["session_id"]
        self.up = Sequencer(self.session_id)
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        async with asyncio.timeout(20):
            await opened.wait()
        self._channel = channel
        return self

    def _on_message(self, data: bytes | str) -> None:
        try:
            self.received.append(decode(data))
        except ProtocolError:
            self.undecodable += 1

    def send(self, cls: type[Message], **fields: Any) -> Message:
        assert self.up is not None
        message = self.up.make(cls, **fields)
        self.send_raw(encode(message))
        return message

    def send_raw(self, data: bytes | str) -> None:
        assert self._channel is not None
        self._channel.send(data)

    async def wait_for(self, kind: type[Message], count: int = 1, within_s: float = 20.0) -> None:
        async with asyncio.timeout(within_s):
            while sum(isinstance(m, kind) for m in self.received) < count:
                await asyncio.sleep(0.01)

    async def close(self) -> None:
        if self.pc is not None:
            with contextlib.suppress(Exception):
                await self.pc.close()
        self.pc = self._channel = None
