"""The phone app's side of the gateway: its pages, its HTTP API, and who is asking.

Every `/v1/` request except pairing carries a token (`Authorization: Bearer …`,
or `?token=` where a browser cannot set headers, like a download link). The
middleware turns it into a `Principal`; handlers read only `request[USER]`,
never a user named in the request, so one user can never reach another's
sessions, history or memory. A refused token gets a bare 401, whatever the
reason; the reason goes to the log.

Without `Accounts` (a gateway on one's own laptop for tests and replays) every
request acts for the one local user.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from edge.models import EdgeModels
from gateway.accounts import Accounts, AuthError, Principal, TokenKind
from gateway.app_session import AppSession
from gateway.history import History
from gateway.memory_access import MemoryAccess, MemoryRefused, NoSuchMemory
from gateway.rate_limits import DEFAULT_LIMITS, RateLimiter
from gateway.request_keys import AUTHENTICATED_USER, PRINCIPAL, USER
from gateway.server import Gateway
from protocol import DeviceStatus

log = logging.getLogger(__name__)

APP_DIR = Path(__file__).resolve().parent / "app"
LOCAL_USER = "me"
MAX_MEMORY_TEXT = 4000
# Hostile text (a sign that reads "<script>…") is rendered as text by the app;
# the policy makes sure nothing inline could run even if a bug let it in.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_OPEN_PATHS = {"/v1/pair", "/healthz"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class AppApi:
    """Installs the app's routes and the auth + rate-limit middleware on a `Gateway`."""

    def __init__(
        self,
        gateway: Gateway,
        edge_models: EdgeModels,
        *,
        accounts: Accounts | None = None,
        memory: MemoryAccess | None = None,
        history: History | None = None,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
        resume_grace_s: float = 120.0,
    ) -> None:
        self.gateway = gateway
        self.edge_models = edge_models
        self.accounts = accounts
        self.memory = memory
        self.history = history
        self.limiter = limiter or RateLimiter(dict(DEFAULT_LIMITS))
        self._clock = clock
        self._grace_s = resume_grace_s
        self.sessions: dict[str, AppSession] = {}
        app = gateway.app
        app.middlewares.append(self._middleware)
        app.add_routes(
            [
                web.get("/", self.index),
                web.post("/v1/pair", self.pair),
                web.post("/v1/token", self.token),
                web.get("/v1/me", self.me),
                web.post("/v1/app/sessions", self.create_session),
                web.get("/v1/memories", self.list_memories),
                web.post("/v1/memories", self.add_memory),
                web.get("/v1/memories/export", self.export_memories),
                web.patch("/v1/memories/{memory_id}", self.edit_memory),
                web.delete("/v1/memories/{memory_id}", self.delete_memory),
                web.get("/v1/history", self.list_history),
                web.get("/v1/glasses", self.glasses_status),
                web.get("/v1/history/{turn}/keyframe.jpg", self.keyframe),
                web.static("/app", APP_DIR),
            ]
        )
        app.on_shutdown.append(self._close_sessions)
        # Each user's glasses as their edge last reported them, with the wall time.
        self.glasses: dict[str, tuple[DeviceStatus, float]] = {}
        gateway.device_listeners.append(self._glasses_reported)

    # -- who is asking --------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/v1/") and request.path not in _OPEN_PATHS:
            principal = self._principal(request)
            if principal is None:
                return _problem(401, "unauthorized")
            request[USER] = principal.user
            request[PRINCIPAL] = principal
            if self.accounts is not None:
                # Edge clients' Hello is bound to this user (gateway/session.py).
                request[AUTHENTICATED_USER] = principal.user
            kind = "session" if request.path.endswith("/sessions") else "api"
            refusal = self.check_rate(principal.user, kind)
            if refusal is not None:
                retry = refusal[1]
                return web.json_response(
                    {"error": refusal[0], "retry_after_s": retry},
                    status=429,
                    headers={"Retry-After": str(max(1, math.ceil(retry)))},
                )
        response = await handler(request)
        response.headers.update(_SECURITY_HEADERS)
        return response

    def _principal(self, request: web.Request) -> Principal | None:
        if self.accounts is None:
            return Principal(user=LOCAL_USER, device="local", kind="session", expires=math.inf)
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.startswith("Bearer ") else request.query.get("token")
        if not token:
            return None
        try:
            # A device token may fetch a session token and nothing else.
            kind: TokenKind = "device" if request.path == "/v1/token" else "session"
            return self.accounts.verify(token, kind=kind)
        except AuthError as exc:
            log.info("refused a token on %s: %s", request.path, exc)
            return None

    def check_rate(self, user: str, kind: str) -> tuple[str, float] | None:
        """None when allowed, else (what to tell the user, seconds until allowed)."""
        verdict = self.limiter.check(user, kind, self._clock())
        if verdict.allowed:
            return None
        limit = self.limiter.limits[kind]
        what = {"session": "connections", "api": "requests", "question": "questions"}[kind]
        return (
            f"rate limit: at most {limit.describe()} {what}; try again in "
            f"{math.ceil(verdict.retry_after_s)} s",
            verdict.retry_after_s,
        )

    # -- pages and credentials ------------------------------------------------

    async def index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(APP_DIR / "index.html", headers={"Cache-Control": "no-store"})

    async def pair(self, request: web.Request) -> web.Response:
        if self.accounts is None:
            return _problem(404, "this gateway has no accounts; no pairing needed")
        body = await _json_body(request)
        code, name = body.get("code"), body.get("device", "phone")
        if not isinstance(code, str) or not isinstance(name, str):
            return _problem(400, 'expected {"code": <pairing code>, "device": <name>}')
        try:
            device_token = await asyncio.to_thread(self.accounts.redeem_pairing_code, code, name)
        except AuthError as exc:
            log.info("refused a pairing code: %s", exc)
            return _problem(401, "unauthorized")
        principal = self.accounts.verify(device_token)
        return web.json_response(
            {
                "user": principal.user,
                "device_token": device_token,
                "session_token": self.accounts.session_token(device_token),
            }
        )

    async def token(self, request: web.Request) -> web.Response:
        if self.accounts is None:
            return web.json_response({"user": LOCAL_USER, "session_token": "local"})
        header = request.headers.get("Authorization", "")
        device_token = header[7:].strip() if header.startswith("Bearer ") else ""
        device_token = device_token or request.query.get("token", "")
        return web.json_response(
            {"user": request[USER], "session_token": self.accounts.session_token(device_token)}
        )

    async def me(self, request: web.Request) -> web.Response:
        principal: Principal = request[PRINCIPAL]
        return web.json_response({"user": principal.user, "device": principal.device})

    # -- live sessions --------------------------------------------------------

    async def create_session(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        sdp, resume, last_seq = body.get("sdp"), body.get("resume"), body.get("last_seq", 0)
        if body.get("type") != "offer" or not isinstance(sdp, str):
            return _problem(400, 'expected {"sdp": <string>, "type": "offer"}')
        if not isinstance(last_seq, int) or isinstance(last_seq, bool) or last_seq < 0:
            return _problem(400, "last_seq must be a whole number ≥ 0")
        user: str = request[USER]
        session: AppSession | None
        if resume is not None:
            session = self.sessions.get(resume) if isinstance(resume, str) else None
            # Another user's session id looks exactly like one that does not exist.
            if session is None or session.user != user or session.closed.is_set():
                return _problem(404, "no such session to resume; start a new one")
        else:
            if len(self.sessions) + len(self.gateway.sessions) >= self.gateway.config.max_sessions:
                return _problem(503, "gateway is full; try again shortly")
            session_id = secrets.token_urlsafe(12)
            principal: Principal = request[PRINCIPAL]
            try:
                session = await AppSession.open(
                    session_id,
                    user,
                    principal.device,
                    self.gateway.config.cloud_url,
                    self.edge_models,
                    history=self.history,
                    question_gate=lambda: self._question_refusal(user),
                    on_closed=self._forget,
                    grace_s=self._grace_s,
                    enforce_retention=self.enforce_retention,
                    cloud_secret=self.gateway.cloud_secret,
                )
            except (OSError, TimeoutError) as exc:
                log.warning("cloud unreachable: %s", exc)
                return _problem(503, "the assistant is unreachable; try again shortly")
            self.sessions[session_id] = session
        try:
            answer = await session.connect(sdp, last_seq)
        except (ValueError, AttributeError) as exc:
            if resume is None:
                await session.close()
            return _problem(400, f"unusable SDP offer: {exc}")
        return web.json_response(
            {"sdp": answer.sdp, "type": answer.type, "session_id": session.session_id}
        )

    def _forget(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)

    async def enforce_retention(self, user: str, max_age_s: float) -> tuple[int, int]:
        """Retention covers all the user keeps: (history turns, memories) deleted."""
        turns = memories = 0
        if self.history is not None:
            turns = await asyncio.to_thread(self.history.enforce_retention, user, max_age_s)
        if self.memory is not None:
            memories = await asyncio.to_thread(self.memory.forget_older_than, user, max_age_s)
        log.info("retention for %s: %d turns and %d memories deleted", user, turns, memories)
        return turns, memories

    def _question_refusal(self, user: str) -> str | None:
        refusal = self.check_rate(user, "question")
        return None if refusal is None else refusal[0]

    async def _close_sessions(self, app: web.Application) -> None:
        await asyncio.gather(*(s.close() for s in list(self.sessions.values())))

    # -- glasses --------------------------------------------------------------

    def _glasses_reported(self, user: str, status: DeviceStatus) -> None:
        self.glasses[user] = (status, time.time())
        for session in self.sessions.values():
            if session.user == user:
                session.send_to_app(dataclasses.replace(status, session_id=session.session_id))

    async def glasses_status(self, request: web.Request) -> web.Response:
        reported = self.glasses.get(request[USER])
        if reported is None:
            return web.json_response({"glasses": None})
        status, seen = reported
        return web.json_response(
            {
                "glasses": {
                    "device": status.device,
                    "connection": status.connection,
                    "event": status.event,
                    "battery_percent": status.battery_percent,
                    "worn": status.worn,
                    "problem": status.problem,
                    "last_seen": seen,
                }
            }
        )

    # -- memory ---------------------------------------------------------------

    def _memory(self) -> MemoryAccess:
        if self.memory is None:
            raise web.HTTPServiceUnavailable(
                text=json.dumps({"error": "memory is not enabled on this gateway"}),
                content_type="application/json",
            )
        return self.memory

    async def list_memories(self, request: web.Request) -> web.Response:
        query = request.query.get("q", "")[:500]
        items = await asyncio.to_thread(self._memory().list_memories, request[USER], query, 100)
        return web.json_response({"memories": items})

    async def add_memory(self, request: web.Request) -> web.Response:
        text = (await _json_body(request)).get("text")
        if not isinstance(text, str) or len(text) > MAX_MEMORY_TEXT:
            return _problem(400, f'expected {{"text": <up to {MAX_MEMORY_TEXT} characters>}}')
        try:
            item = await asyncio.to_thread(self._memory().remember, request[USER], text)
        except MemoryRefused as exc:
            return _problem(400, str(exc))
        return web.json_response(item, status=201)

    async def edit_memory(self, request: web.Request) -> web.Response:
        text = (await _json_body(request)).get("text")
        if not isinstance(text, str) or len(text) > MAX_MEMORY_TEXT:
            return _problem(400, f'expected {{"text": <up to {MAX_MEMORY_TEXT} characters>}}')
        memory_id = request.match_info["memory_id"]
        try:
            item = await asyncio.to_thread(self._memory().edit, request[USER], memory_id, text)
        except NoSuchMemory:
            return _problem(404, "no such memory")
        except MemoryRefused as exc:
            return _problem(400, str(exc))
        return web.json_response(item)

    async def delete_memory(self, request: web.Request) -> web.Response:
        memory_id = request.match_info["memory_id"]
        try:
            await asyncio.to_thread(self._memory().delete, request[USER], memory_id)
        except NoSuchMemory:
            return _problem(404, "no such memory")
        return web.json_response({"deleted": memory_id})

    async def export_memories(self, request: web.Request) -> web.Response:
        items = await asyncio.to_thread(self._memory().export, request[USER])
        return web.json_response(
            {"user": request[USER], "memories": items},
            headers={"Content-Disposition": 'attachment; filename="companion-memories.json"'},
        )

    # -- history --------------------------------------------------------------

    async def list_history(self, request: web.Request) -> web.Response:
        if self.history is None:
            return web.json_response({"turns": []})
        turns = await asyncio.to_thread(self.history.turns, request[USER])
        return web.json_response(
            {
                "turns": [
                    {
                        "id": t.id,
                        "time": t.time,
                        "question": t.question,
                        "answer": t.answer,
                        "mode": t.mode,
                        "latency_ms": t.latency_ms,
                        "keyframe": t.has_keyframe,
                    }
                    for t in turns
                ]
            }
        )

    async def keyframe(self, request: web.Request) -> web.Response:
        turn = request.match_info["turn"]
        if self.history is None or not turn.isdigit():
            return _problem(404, "no such keyframe")
        jpeg = await asyncio.to_thread(self.history.keyframe, request[USER], int(turn))
        if jpeg is None:
            return _problem(404, "no such keyframe")
        return web.Response(body=jpeg, content_type="image/jpeg")


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except web.HTTPRequestEntityTooLarge:
        raise web.HTTPRequestEntityTooLarge(
            max_size=request.client_max_size,
            actual_size=request.content_length or 0,
            text=json.dumps({"error": "request too large"}),
            content_type="application/json",
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body must be JSON"}), content_type="application/json"
        ) from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body must be a JSON object"}),
            content_type="application/json",
        )
    return body


def _problem(status: int, detail: str) -> web.Response:
    return web.json_response({"error": detail}, status=status)
