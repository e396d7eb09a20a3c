"""The edge's link to the gateway: a WebRTC peer with one ordered data channel.

Signalling is one HTTP request (offer in, answer and session id out). After
that every protocol message travels on the "context" data channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from types import TracebackType

import aiohttp
from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription

from edge.errors import EdgeError
from edge.link.webrtc import CONTEXT_CHANNEL, rtc_configuration
from protocol import Message, ProtocolError, decode, encode

log = logging.getLogger(__name__)


class GatewayUnreachable(EdgeError):
    """The gateway did not answer signalling or the peer connection never opened."""


class GatewayClient:
    """`async with GatewayClient(url) as link:` — `link.send(m)`, `async for m in link`."""

    def __init__(
        self, gateway_url: str, *, connect_timeout_s: float = 15.0, token: str | None = None
    ) -> None:
        self.gateway_url = gateway_url.rstrip("/")
        # A gateway with accounts wants a session token; a device token (`companion token`)
        # is exchanged for a fresh one on every connect, so a link that reconnects hours
        # later is not refused for a session token that expired meanwhile.
        self._token = token
        self._headers: dict[str, str] = {}
        self.session_id = ""
        self.bytes_sent = 0
        self.messages_sent = 0
        self._timeout = connect_timeout_s
        self._pc = RTCPeerConnection(rtc_configuration())
        self._channel: RTCDataChannel | None = None
        self._inbox: asyncio.Queue[Message | None] = asyncio.Queue()
        self.closed = asyncio.Event()

    async def __aenter__(self) -> GatewayClient:
        try:
            await asyncio.wait_for(self._connect(), self._timeout)
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _connect(self) -> None:
        channel = self._pc.createDataChannel(CONTEXT_CHANNEL, ordered=True)
        self._channel = channel
        opened = asyncio.Event()
        channel.on("open", opened.set)
        channel.on("message", self._on_message)
        channel.on("close", self._on_close)

        @self._pc.on("connectionstatechange")
        def on_state() -> None:
            if self._pc.connectionState in ("failed", "closed"):
                self._on_close()

        await self._pc.setLocalDescription(await self._pc.createOffer())
        offer = self._pc.localDescription
        url = f"{self.gateway_url}/v1/sessions"
        try:
            async with aiohttp.ClientSession() as http:
                self._headers = await self._authorization(http)
                async with http.post(
                    url, json={"sdp": offer.sdp, "type": offer.type}, headers=self._headers
                ) as reply:
                    body = await reply.json(content_type=None)
                    if reply.status != 200:
                        detail = body.get("error") if isinstance(body, dict) else reply.reason
                        raise GatewayUnreachable(f"gateway refused the session: {detail}")
        except aiohttp.ClientError as exc:
            raise GatewayUnreachable(
                f"gateway unreachable at {self.gateway_url} ({exc.__class__.__name__}); "
                "is `companion serve` running?"
            ) from None
        self.session_id = str(body["session_id"])
        await self._pc.setRemoteDescription(RTCSessionDescription(body["sdp"], body["type"]))
        try:
            await asyncio.wait_for(opened.wait(), self._timeout)
        except TimeoutError:
            raise GatewayUnreachable("the data channel to the gateway did not open") from None

    async def _authorization(self, http: aiohttp.ClientSession) -> dict[str, str]:
        """The header to open the session with: a device token is exchanged for a session
        token (`POST /v1/token`); any other token is presented as it is, and a wrong one
        is refused "unauthorized" when the session opens."""
        if not self._token:
            return {}
        presented = {"Authorization": f"Bearer {self._token}"}
        async with http.post(f"{self.gateway_url}/v1/token", headers=presented) as reply:
            body = await reply.json(content_type=None) if reply.status == 200 else None
        session_token = body.get("session_token") if isinstance(body, dict) else None
        if isinstance(session_token, str) and session_token:
            return {"Authorization": f"Bearer {session_token}"}
        return presented

    def _on_message(self, data: bytes | str) -> None:
        try:
            self._inbox.put_nowait(decode(data))
        except ProtocolError as exc:
            log.warning("dropped a malformed message from the gateway: %s", exc)

    def _on_close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self._inbox.put_nowait(None)

    async def send(self, message: Message) -> None:
        self.send_raw(encode(message))

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are: for tests of how the far side copes with bad input."""
        if self._channel is None or self._channel.readyState != "open":
            raise EdgeError("the data channel is not open")
        self._channel.send(data)
        self.bytes_sent += len(data)
        self.messages_sent += 1

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[Message]:
        while (message := await self._inbox.get()) is not None:
            yield message

    async def close(self) -> None:
        self._on_close()
        with contextlib.suppress(Exception):
            await self._pc.close()
