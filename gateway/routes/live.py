"""The Live page's signalling: start an app session, or resume one after a reconnect.

`POST /v1/app/sessions` takes the app's SDP offer (and, when resuming, the
session id and the last seq it received) and answers with the SDP answer and
the session id. Sessions live here, by id; another user's session id looks
exactly like one that does not exist.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable

from aiohttp import web

from edge.models import EdgeModels
from gateway.accounts import Principal
from gateway.history import History
from gateway.request_keys import PRINCIPAL, USER
from gateway.routes.responses import json_body, problem
from gateway.server import Gateway
from gateway.sessions.app_session import AppSession, AppSessionDeps, RetentionEnforcer
from gateway.sessions.upload_gate import QuestionGate

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

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.post("/v1/app/sessions", self.create_session)]

    async def create_session(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        sdp, resume, last_seq = body.get("sdp"), body.get("resume"), body.get("last_seq", 0)
        if body.get("type") != "offer" or not isinstance(sdp, str):
            return problem(400, 'expected {"sdp": <string>, "type": "offer"}')
        if not isinstance(last_seq, int) or isinstance(last_seq, bool) or last_seq < 0:
            return problem(400, "last_seq must be a whole number ≥ 0")
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
            principal: Principal = request[PRINCIPAL]
            session = await self._open(user, principal.device)
            if session is None:
                return problem(503, "the assistant is unreachable; try again shortly")
        try:
            answer = await session.connect(sdp, last_seq)
        except (ValueError, AttributeError) as exc:
            if resume is None:
                await session.close()
            return problem(400, f"unusable SDP offer: {exc}")
        return web.json_response(
            {"sdp": answer.sdp, "type": answer.type, "session_id": session.session_id}
        )

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
        except (OSError, TimeoutError) as exc:
            log.warning("cloud unreachable: %s", exc)
            return None
        self.sessions[session_id] = session
        return session

    def _forget(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)

    async def close_all(self, app: web.Application) -> None:
        await asyncio.gather(*(s.close() for s in list(self.sessions.values())))
