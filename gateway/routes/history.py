"""The History page: the user's past turns, and the keyframe each one sent."""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway.history import History
from gateway.request_keys import USER
from gateway.routes.responses import problem


class HistoryRoutes:
    def __init__(self, history: History | None) -> None:
        self.history = history

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get("/v1/history", self.list_history),
            web.get("/v1/history/{turn}/keyframe.jpg", self.keyframe),
        ]

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
        # isascii: str.isdigit() also accepts digits like "²" that int() refuses.
        if self.history is None or not (turn.isascii() and turn.isdigit()):
            return problem(404, "no such keyframe")
        jpeg = await asyncio.to_thread(self.history.keyframe, request[USER], int(turn))
        if jpeg is None:
            return problem(404, "no such keyframe")
        return web.Response(body=jpeg, content_type="image/jpeg")
