"""The phone app itself: its page and its static files (no token needed to load them)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

APP_DIR = Path(__file__).resolve().parent.parent / "app"


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(APP_DIR / "index.html", headers={"Cache-Control": "no-store"})


def page_routes() -> list[web.AbstractRouteDef]:
    return [web.get("/", index)]


def static_routes() -> list[web.AbstractRouteDef]:
    """Registered last, after every API route."""
    return [web.static("/app", APP_DIR)]
