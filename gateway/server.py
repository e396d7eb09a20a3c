"""The gateway's HTTP side: WebRTC signalling by offer/answer, and session bookkeeping.

`POST /v1/sessions` takes an SDP offer (JSON `{"sdp", "type": "offer"}`), opens
the session's websocket to the cloud, and returns the SDP answer with the
session id every message of that session must carry.

With accounts, every session belongs to a device, and a revoked device loses
its live sessions at once (`watch_revocations`): edge sessions opened here and
any others registered in `device_session_sources` (the phone app's).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager

from aiohttp import web
from aiortc import RTCSessionDescription

from gateway.accounts import Accounts
from gateway.cloud_link import CloudConnector
from gateway.config import GatewayConfig
from gateway.offers import UnusableOffer, check_offer
from gateway.request_keys import AUTHENTICATED_USER, PRINCIPAL
from gateway.session import GatewaySession
from protocol import DeviceStatus
from protocol.limits import MAX_SESSIONS_PER_USER

log = logging.getLogger(__name__)

# How soon a device revoked by another process (`companion devices revoke`) loses its
# live sessions; one revoked through this process's Accounts loses them at once.
REVOCATION_POLL_S = 1.0
# An answered offer's peer must connect within this, or the session's slot is given back.
CONNECT_DEADLINE_S = 30.0

# A live session as revocation sees it: whose, which device, and how to end it.
DeviceSession = tuple[str, str, Callable[[], Awaitable[None]]]


class Gateway:
    def __init__(self, config: GatewayConfig | None = None, *, cloud_secret: bytes) -> None:
        self.config = config or GatewayConfig()
        # Signs each session's claim to the cloud (protocol.claims); the cloud holds the same.
        self.cloud_secret = cloud_secret
        # Set to reach the cloud another way than config.cloud_url's websocket (deploy/bus).
        self.connect_cloud: CloudConnector | None = None
        self.sessions: dict[str, GatewaySession] = {}
        # Edge sessions' (user, device), where accounts named the device.
        self._devices: dict[str, tuple[str, str]] = {}
        # Other kinds of live session (the phone app's), for revocation and per-user counts.
        self.device_session_sources: list[Callable[[], Iterable[DeviceSession]]] = []
        self._accounts: Accounts | None = None
        # Each answered session's connect deadline, until it closes.
        self.connect_deadline_s = CONNECT_DEADLINE_S
        self._deadlines: dict[str, asyncio.Task[None]] = {}
        self._revoked = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
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
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            return _problem(400, 'body must be JSON: {"sdp": ..., "type": "offer"}')
        except web.HTTPRequestEntityTooLarge:
            return _problem(413, "offer too large")
        if not (
            isinstance(body, dict)
            and body.get("type") == "offer"
            and isinstance(body.get("sdp"), str)
        ):
            return _problem(400, 'expected {"sdp": <string>, "type": "offer"}')
        try:
            check_offer(body["sdp"])
        except UnusableOffer as exc:
            return _problem(400, f"unusable SDP offer: {exc}")
        if len(self.sessions) >= self.config.max_sessions:
            return _problem(503, "gateway is full; try again shortly")
        user = request.get(AUTHENTICATED_USER)
        if user is None and self._accounts is not None:
            # Fail closed: a gateway with accounts serves only a token's user, even where
            # no middleware (the app's) was installed to read the token.
            return _problem(401, "unauthorized")
        if user is not None and self.live_sessions_of(user) >= MAX_SESSIONS_PER_USER:
            return _problem(
                429, f"at most {MAX_SESSIONS_PER_USER} live sessions per user; close one first"
            )
        session_id = secrets.token_urlsafe(12)
        try:
            session = await GatewaySession.open(
                session_id,
                self.config.cloud_url,
                on_closed=self._forget,
                user=user,
                cloud_secret=self.cloud_secret,
                connect=self.connect_cloud,
            )
        except Exception as exc:  # unreachable, timed out, or the cloud refused the claim
            log.warning("cloud unreachable at %s: %s", self.config.cloud_url, exc)
            return _problem(503, f"cloud unreachable at {self.config.cloud_url}")
        self.sessions[session_id] = session
        principal = request.get(PRINCIPAL)
        if principal is not None:
            self._devices[session_id] = (principal.user, principal.device)
        session.on_device_status = self._device_status
        try:
            await session.pc.setRemoteDescription(RTCSessionDescription(body["sdp"], "offer"))
            await session.pc.setLocalDescription(await session.pc.createAnswer())
        except Exception as exc:
            # aiortc's SDP parsing raises whatever a crafted offer provokes (AssertionError,
            # KeyError, ValueError…): any of them ends the session and frees its cloud socket.
            await session.close()
            log.info("refused an SDP offer: %s: %s", type(exc).__name__, exc)
            return _problem(400, f"unusable SDP offer ({type(exc).__name__}: {exc})"[:300])
        except BaseException:  # cancelled: the client hung up mid-offer; free the slot too
            await session.close()
            raise
        self._deadlines[session_id] = asyncio.create_task(self._connect_deadline(session))
        local = session.pc.localDescription
        return web.json_response({"sdp": local.sdp, "type": local.type, "session_id": session_id})

    async def _connect_deadline(self, session: GatewaySession) -> None:
        """An answered offer whose peer never connects gives its slot back."""
        await asyncio.sleep(self.connect_deadline_s)
        if session.pc.connectionState != "connected":
            log.info(
                "session %s: no connection within %ss", session.session_id, self.connect_deadline_s
            )
            await session.close()

    def live_sessions_of(self, user: str) -> int:
        """How many live sessions `user` holds here: edge sessions and those registered in
        `device_session_sources` (the phone app's), the count MAX_SESSIONS_PER_USER bounds."""
        edge = sum(1 for session in self.sessions.values() if session.user == user)
        others = sum(
            1 for source in self.device_session_sources for owner, _, _ in source() if owner == user
        )
        return edge + others

    def _device_status(self, user: str, status: DeviceStatus) -> None:
        for listener in self.device_listeners:
            listener(user, status)

    def _forget(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)
        self._devices.pop(session_id, None)
        deadline = self._deadlines.pop(session_id, None)
        if deadline is not None and deadline is not asyncio.current_task():
            deadline.cancel()

    # -- revocation -------------------------------------------------------------

    def watch_revocations(self, accounts: Accounts) -> None:
        """End a device's live sessions when it is revoked: at once when revoked through
        `accounts`, within REVOCATION_POLL_S when another process revoked it."""
        self._accounts = accounts
        accounts.revocation_listeners.append(self._revoked_here)

    def _revoked_here(self, user: str, device: str) -> None:
        # Called by Accounts, possibly from a worker thread.
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._revoked.set)

    def _edge_device_sessions(self) -> Iterable[DeviceSession]:
        for session_id, (user, device) in list(self._devices.items()):
            if (session := self.sessions.get(session_id)) is not None:
                yield user, device, session.close

    async def end_revoked_sessions(self) -> int:
        """Close every live session whose device may no longer speak; how many closed."""
        if self._accounts is None:
            return 0
        sources = [self._edge_device_sessions, *self.device_session_sources]
        live = [entry for source in sources for entry in source()]
        if not live:
            return 0
        revoked = await asyncio.to_thread(
            self._accounts.revoked_among, {(user, device) for user, device, _ in live}
        )
        ending = [close for user, device, close in live if (user, device) in revoked]
        for user, device in revoked:
            log.warning("device %s of %s revoked: ending its live sessions", device, user)
        await asyncio.gather(*(close() for close in ending))
        return len(ending)

    async def _watch_revocations(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REVOCATION_POLL_S):
                    await self._revoked.wait()
            self._revoked.clear()
            try:
                await self.end_revoked_sessions()
            except Exception:  # a locked or missing accounts file must not stop the watch
                log.exception("could not check live sessions for revoked devices")

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
        self._loop = asyncio.get_running_loop()
        watcher = (
            asyncio.create_task(self._watch_revocations()) if self._accounts is not None else None
        )
        try:
            yield port
        finally:
            self._loop = None
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            await runner.cleanup()


def _problem(status: int, detail: str) -> web.Response:
    return web.json_response({"error": detail}, status=status)
