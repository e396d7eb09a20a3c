"""The Glasses page: each user's glasses as their edge last reported them.

An edge session's `DeviceStatus` reaches the gateway's device listeners; it is
kept per user (with the wall time it arrived) for the page, and pushed to that
user's open app sessions, never anyone else's.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable

from aiohttp import web

from gateway.request_keys import USER
from gateway.sessions.app_session import AppSession
from protocol import DeviceStatus


class GlassesRoutes:
    def __init__(self, app_sessions: Callable[[], Iterable[AppSession]]) -> None:
        self._app_sessions = app_sessions
        # Each user's glasses as their edge last reported them, with the wall time.
        self.glasses: dict[str, tuple[DeviceStatus, float]] = {}

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.get("/v1/glasses", self.glasses_status)]

    def reported(self, user: str, status: DeviceStatus) -> None:
        """A device listener of the `Gateway`."""
        self.glasses[user] = (status, time.time())
        for session in self._app_sessions():
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
