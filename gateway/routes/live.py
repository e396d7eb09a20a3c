"""The Live page's signalling: start an app session, or resume one after a reconnect.

`POST /v1/app/sessions` takes the app's SDP offer (and, when resuming, the
session id and the last seq it received) and answers with the SDP answer and
the session id. Sessions live here, by id; another user's session id looks
exactly like one that does not exist.

Whatever a crafted offer makes aiortc raise, the answer is a 400 and a new
session is closed with everything it opened; an answered offer whose peer never
connects gives its slot back after the gateway's connect deadline; and a user
holds at most MAX_SESSIONS_PER_USER live sessions, the glasses' included.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Iterable

from aiohttp import web
from aiortc import RTCPeerConnection

from edge.models import EdgeModels
from gateway.accounts import Principal
from gateway.history import History
from gateway.offers import UnusableOffer, check_offer
from gateway.request_keys import PRINCIPAL, USER
from gateway.routes.responses import json_body, problem
from gateway.server import DeviceSession, Gateway
from gateway.sessions.app_session import AppSession, AppSessionDeps, RetentionEnforcer
from gateway.sessions.upload_gate import QuestionGate
from protocol.limits import MAX_SESSIONS_PER_USER

log = logging.getLogger(__name__)


class LiveSessions:
    def __init__(
        self,
        gateway: Gateway,
        edge_models: EdgeModels,
        *,
        history: History | None,
        question_gate_for: Callable[[str], QuestionGate],
        enforce_retention: RetentionEnforcer,
        grace_s: float,
    ) -> None:
        self.gateway = gateway
        self._edge_models = edge_models
        self._history = history
        self._question_gate_for = question_gate_for
        self._enforce_retention = enforce_retention
        self._grace_s = grace_s
        self.sessions: dict[str, AppSession] = {}
        # Each answered offer's connect deadline, until its peer connects or the session ends.
        self._deadlines: dict[str, asyncio.Task[None]] = {}
        # The gateway counts these with its edge sessions (per-user limit) and ends those of
        # a revoked device.
        gateway.device_session_sources.append(self.device_sessions)

    def deadlines_pending(self) -> int:
        """How many answered offers still wait for their connect deadline."""
        return len(self._deadlines)

    def device_sessions(self) -> Iterable[DeviceSession]:
        return [(s.user, s.device, s.close) for s in list(self.sessions.values())]

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.post("/v1/app/sessions", self.create_session)]

    async def create_session(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        sdp, resume, last_seq = body.get("sdp"), body.get("resume"), body.get("last_seq", 0)
        if body.get("type") != "offer" or not isinstance(sdp, str):
            return problem(400, 'expected {"sdp": <string>, "type": "offer"}')
        if not isinstance(last_seq, int) or isinstance(last_seq, bool) or last_seq < 0:
            return problem(400, "last_seq must be a whole number ≥ 0")
        try:
            check_offer(sdp)
        except UnusableOffer as exc:
            return problem(400, f"unusable SDP offer: {exc}")
        user: str = request[USER]
        session: AppSession | None
        if resume is not None:
            session = self.sessions.get(resume) if isinstance(resume, str) else None
            # Another user's session id looks exactly like one that does not exist.
            if session is None or session.user != user or session.closed.is_set():
                return problem(404, "no such session to resume; start a new one")
        else:
            if len(self.sessions) + len(self.gateway.sessions) >= self.gateway.config.max_sessions:
                return problem(503, "gateway is full; try again shortly")
            if self.gateway.live_sessions_of(user) >= MAX_SESSIONS_PER_USER:
                return problem(
                    429, f"at most {MAX_SESSIONS_PER_USER} live sessions per user; close one first"
                )
            principal: Principal = request[PRINCIPAL]
            session = await self._open(user, principal.device)
            if session is None:
                return problem(503, "the assistant is unreachable; try again shortly")
        try:
            answer = await session.connect(sdp, last_seq)
        except Exception as exc:
            # aiortc's SDP parsing raises whatever a crafted offer provokes (AssertionError,
            # KeyError, ValueError…). A new session ends with all it opened; a resumed one
            # keeps the connection it had (PeerLink negotiates before it replaces).
            if resume is None:
                await session.close()
            log.info("refused an SDP offer: %s: %s", type(exc).__name__, exc)
            return problem(400, f"unusable SDP offer ({type(exc).__name__}: {exc})"[:300])
        except BaseException:  # cancelled: the client hung up mid-offer
            if resume is None:
                await session.close()
            raise
        self._watch_connect(session)
        return web.json_response(
            {"sdp": answer.sdp, "type": answer.type, "session_id": session.session_id}
        )

    def _watch_connect(self, session: AppSession) -> None:
        """Start (or restart, on a resume) the session's connect deadline."""
        previous = self._deadlines.pop(session.session_id, None)
        if previous is not None:
            previous.cancel()
        pc = session.link.pc
        if pc is not None:
            self._deadlines[session.session_id] = asyncio.create_task(
                self._connect_deadline(session, pc)
            )

    async def _connect_deadline(self, session: AppSession, pc: RTCPeerConnection) -> None:
        """An answered offer whose peer never connects gives the session's slot back.

        Only while `pc` is still the session's connection and never got past
        connecting: a connection that came and went is the resume grace's to judge.
        """
        await asyncio.sleep(self.gateway.connect_deadline_s)
        self._deadlines.pop(session.session_id, None)
        if session.link.pc is pc and pc.connectionState in ("new", "connecting"):
            log.info(
                "session %s: no connection within %ss",
                session.session_id,
                self.gateway.connect_deadline_s,
            )
            await session.close()

    async def _open(self, user: str, device: str) -> AppSession | None:
        """A new session for `user`, or None if the cloud cannot be reached."""
        session_id = secrets.token_urlsafe(12)
        deps = AppSessionDeps(
            edge_models=self._edge_models,
            history=self._history,
            question_gate=self._question_gate_for(user),
            on_closed=self._forget,
            enforce_retention=self._enforce_retention,
            grace_s=self._grace_s,
        )
        try:
            session = await AppSession.open(
                session_id,
                user,
                device,
                self.gateway.config.cloud_url,
                deps,
                cloud_secret=self.gateway.cloud_secret,
            )
        except Exception as exc:  # unreachable, timed out, or the cloud refused the claim
            log.warning("cloud unreachable: %s", exc)
            return None
        self.sessions[session_id] = session
        return session

    def _forget(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)
        deadline = self._deadlines.pop(session_id, None)
        if deadline is not None and deadline is not asyncio.current_task():
            deadline.cancel()

    async def close_all(self, app: web.Application) -> None:
        await asyncio.gather(*(s.close() for s in list(self.sessions.values())))
