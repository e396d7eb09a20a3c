"""Request bodies and error answers as every app route reads and writes them."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; any other body is a 400 (413 if too large) in JSON."""
    try:
        body = await request.json()
    except web.HTTPRequestEntityTooLarge:
        raise web.HTTPRequestEntityTooLarge(
            max_size=request.client_max_size,
            actual_size=request.content_length or 0,
            text=json.dumps({"error": "request too large"}),
            content_type="application/json",
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body must be JSON"}), content_type="application/json"
        ) from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body must be a JSON object"}),
            content_type="application/json",
        )
    return body


def problem(status: int, detail: str) -> web.Response:
    return web.json_response({"error": detail}, status=status)
