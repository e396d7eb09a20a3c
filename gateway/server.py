"""The gateway's HTTP side: WebRTC signalling by offer/answer, and session bookkeeping.

`POST /v1/sessions` takes an SDP offer (JSON `{"sdp", "type": "offer"}`), opens
the session's websocket to the cloud, and returns the SDP answer with the
session id every message of that session must carry.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiohttp import web
from aiortc import RTCSessionDescription

from edge.link.webrtc import offers_data_channel
from gateway.config import GatewayConfig
from gateway.request_keys import AUTHENTICATED_USER
from gateway.session import GatewaySession
from protocol import DeviceStatus

log = logging.getLogger(__name__)


class Gateway:
    def __init__(self, config: GatewayConfig | None = None, *, cloud_secret: bytes) -> None:
        self.config = config or GatewayConfig()
        # Signs each session's claim to the cloud (protocol.claims); the cloud holds the same.
        self.cloud_secret = cloud_secret
        self.sessions: dict[str, GatewaySession] = {}
        # Told (user, status) whenever an edge reports its glasses (the phone app listens).
        self.device_listeners: list[Callable[[str, DeviceStatus], None]] = []
        self.app = web.Application(client_max_size=self.config.max_offer_bytes)
        self.app.add_routes(
            [
                web.post("/v1/sessions", self.create_session),
                web.get("/healthz", self.health),
            ]
        )
        self.app.on_shutdown.append(self._close_all)

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "sessions": len(self.sessions)})

    async def create_session(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _problem(400, 'body must be JSON: {"sdp": ..., "type": "offer"}')
        except web.HTTPRequestEntityTooLarge:
            return _problem(413, "offer too large")
        if not (
            isinstance(body, dict)
            and body.get("type") == "offer"
            and isinstance(body.get("sdp"), str)
        ):
            return _problem(400, 'expected {"sdp": <string>, "type": "offer"}')
        if not offers_data_channel(body["sdp"]):
            return _problem(400, "unusable SDP offer: no data channel; the edge speaks over one")
        if len(self.sessions) >= self.config.max_sessions:
            return _problem(503, "gateway is full; try again shortly")
        session_id = secrets.token_urlsafe(12)
        try:
            session = await GatewaySession.open(
                session_id,
                self.config.cloud_url,
                on_closed=self._forget,
                user=request.get(AUTHENTICATED_USER),
                cloud_secret=self.cloud_secret,
            )
        except (OSError, TimeoutError) as exc:
            log.warning("cloud unreachable at %s: %s", self.config.cloud_url, exc)
            return _problem(503, f"cloud unreachable at {self.config.cloud_url}")
        self.sessions[session_id] = session
        session.on_device_status = self._device_status
        try:
            await session.pc.setRemoteDescription(RTCSessionDescription(body["sdp"], "offer"))
            await session.pc.setLocalDescription(await session.pc.createAnswer())
        except (ValueError, AttributeError) as exc:
            await session.close()
            return _problem(400, f"unusable SDP offer: {exc}")
        local = session.pc.localDescription
        return web.json_response({"sdp": local.sdp, "type": local.type, "session_id": session_id})

    def _device_status(self, user: str, status: DeviceStatus) -> None:
        for listener in self.device_listeners:
            listener(user, status)

    def _forget(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)

    async def _close_all(self, app: web.Application) -> None:
        await asyncio.gather(*(s.close() for s in list(self.sessions.values())))

    @asynccontextmanager
    async def running(self) -> AsyncIterator[int]:
        """Serve until the context exits; yields the bound port (config port 0 picks one)."""
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port)
        await site.start()
        server = site._server
        port = self.config.port
        if server is not None and server.sockets:  # type: ignore[attr-defined]
            port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        try:
            yield port
        finally:
            await runner.cleanup()


def _problem(status: int, detail: str) -> web.Response:
    return web.json_response({"error": detail}, status=status)
