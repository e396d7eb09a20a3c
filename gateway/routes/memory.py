"""The Memory page: the user's memories listed, searched, added, edited, deleted, exported."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from gateway.memory_access import MemoryAccess, MemoryRefused, NoSuchMemory
from gateway.request_keys import USER
from gateway.routes.responses import json_body, problem

MAX_MEMORY_TEXT = 4000
MAX_QUERY_CHARS = 500
LIST_LIMIT = 100


class MemoryRoutes:
    def __init__(self, memory: MemoryAccess | None) -> None:
        self.memory = memory

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get("/v1/memories", self.list_memories),
            web.post("/v1/memories", self.add_memory),
            web.get("/v1/memories/export", self.export_memories),
            web.patch("/v1/memories/{memory_id}", self.edit_memory),
            web.delete("/v1/memories/{memory_id}", self.delete_memory),
        ]

    def _memory(self) -> MemoryAccess:
        if self.memory is None:
            raise web.HTTPServiceUnavailable(
                text=json.dumps({"error": "memory is not enabled on this gateway"}),
                content_type="application/json",
            )
        return self.memory

    async def list_memories(self, request: web.Request) -> web.Response:
        query = request.query.get("q", "")[:MAX_QUERY_CHARS]
        memory = self._memory()
        items = await asyncio.to_thread(memory.list_memories, request[USER], query, LIST_LIMIT)
        return web.json_response({"memories": items})

    async def add_memory(self, request: web.Request) -> web.Response:
        text = (await json_body(request)).get("text")
        if not isinstance(text, str) or len(text) > MAX_MEMORY_TEXT:
            return _bad_text()
        try:
            item = await asyncio.to_thread(self._memory().remember, request[USER], text)
        except MemoryRefused as exc:
            return problem(400, str(exc))
        return web.json_response(item, status=201)

    async def edit_memory(self, request: web.Request) -> web.Response:
        text = (await json_body(request)).get("text")
        if not isinstance(text, str) or len(text) > MAX_MEMORY_TEXT:
            return _bad_text()
        memory_id = request.match_info["memory_id"]
        try:
            item = await asyncio.to_thread(self._memory().edit, request[USER], memory_id, text)
        except NoSuchMemory:
            return problem(404, "no such memory")
        except MemoryRefused as exc:
            return problem(400, str(exc))
        return web.json_response(item)

    async def delete_memory(self, request: web.Request) -> web.Response:
        memory_id = request.match_info["memory_id"]
        try:
            await asyncio.to_thread(self._memory().delete, request[USER], memory_id)
        except NoSuchMemory:
            return problem(404, "no such memory")
        return web.json_response({"deleted": memory_id})

    async def export_memories(self, request: web.Request) -> web.Response:
        items = await asyncio.to_thread(self._memory().export, request[USER])
        return web.json_response(
            {"user": request[USER], "memories": items},
            headers={"Content-Disposition": 'attachment; filename="companion-memories.json"'},
        )


def _bad_text() -> web.Response:
    return problem(400, f'expected {{"text": <up to {MAX_MEMORY_TEXT} characters>}}')
