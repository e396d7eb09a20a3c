"""The Conversations page: the user's noted conversations listed, read and deleted.

Notes are opt-in; each conversation they made has its timed transcript with
speaker labels, a summary and its action items (cloud/notes). The gateway
reads them through `ConversationAccess` (given by the deployment, as memory
is) and only ever for the token's user.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Protocol

from aiohttp import web

from gateway.request_keys import USER
from gateway.routes.responses import problem

ConversationJson = dict[str, Any]
# Conversation ids are "conv-" and 16 hex digits; anything else is nobody's.
_ID = re.compile(r"conv-[0-9a-f]{16}")
LIST_LIMIT = 100


class ConversationAccess(Protocol):
    """One user's conversation records; every call names the user whose they are."""

    def list_conversations(self, user: str, limit: int) -> list[ConversationJson]: ...

    def conversation(self, user: str, conversation_id: str) -> ConversationJson | None: ...

    def delete_conversation(self, user: str, conversation_id: str) -> bool:
        """Delete the record and the memories made from it; False if there was none."""
        ...

    def forget_older_than(self, user: str, max_age_s: float) -> int: ...


class ConversationRoutes:
    def __init__(self, conversations: ConversationAccess | None) -> None:
        self.conversations = conversations

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get("/v1/conversations", self.list_conversations),
            web.get("/v1/conversations/{conversation_id}", self.get_conversation),
            web.delete("/v1/conversations/{conversation_id}", self.delete_conversation),
        ]

    def _access(self) -> ConversationAccess:
        if self.conversations is None:
            raise web.HTTPServiceUnavailable(
                text=json.dumps({"error": "conversation notes are not enabled on this gateway"}),
                content_type="application/json",
            )
        return self.conversations

    async def list_conversations(self, request: web.Request) -> web.Response:
        if self.conversations is None:
            return web.json_response({"conversations": []})
        listed = await asyncio.to_thread(
            self.conversations.list_conversations, request[USER], LIST_LIMIT
        )
        return web.json_response({"conversations": listed})

    async def get_conversation(self, request: web.Request) -> web.Response:
        conversation_id = request.match_info["conversation_id"]
        access = self._access()
        found = None
        if _ID.fullmatch(conversation_id):
            found = await asyncio.to_thread(access.conversation, request[USER], conversation_id)
        if found is None:
            return problem(404, "no such conversation")
        return web.json_response(found)

    async def delete_conversation(self, request: web.Request) -> web.Response:
        conversation_id = request.match_info["conversation_id"]
        access = self._access()
        deleted = False
        if _ID.fullmatch(conversation_id):
            deleted = await asyncio.to_thread(
                access.delete_conversation, request[USER], conversation_id
            )
        if not deleted:
            return problem(404, "no such conversation")
        return web.json_response({"deleted": conversation_id})
