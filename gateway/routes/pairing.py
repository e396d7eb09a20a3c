"""Pairing a phone and the tokens it then uses.

A pairing code (shown by `companion`) buys a long-lived device token; a device
token buys short-lived session tokens, which every other request carries.
Pairing is the one route anyone may call, so its attempts are rate-limited per
client address (PAIRING_LIMIT): guessing codes costs minutes per handful.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

from aiohttp import web

from gateway.accounts import Accounts, AuthError, Principal
from gateway.request_keys import PRINCIPAL, USER
from gateway.routes.auth import LOCAL_USER, bearer_token
from gateway.routes.rate_limits import PAIRING_LIMIT, RateLimiter
from gateway.routes.responses import json_body, problem

log = logging.getLogger(__name__)


class PairingRoutes:
    def __init__(
        self,
        accounts: Accounts | None,
        *,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.accounts = accounts
        # Keyed by client address, not user: nobody is signed in when pairing.
        self.limiter = limiter or RateLimiter({"pair": PAIRING_LIMIT})
        self._clock = clock

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.post("/v1/pair", self.pair),
            web.post("/v1/token", self.token),
            web.get("/v1/me", self.me),
        ]

    async def pair(self, request: web.Request) -> web.Response:
        if self.accounts is None:
            return problem(404, "this gateway has no accounts; no pairing needed")
        verdict = self.limiter.check(request.remote or "?", "pair", self._clock())
        if not verdict.allowed:
            retry = max(1, math.ceil(verdict.retry_after_s))
            return web.json_response(
                {
                    "error": f"too many pairing attempts from here; try again in {retry} s",
                    "retry_after_s": verdict.retry_after_s,
                },
                status=429,
                headers={"Retry-After": str(retry)},
            )
        body = await json_body(request)
        code, name = body.get("code"), body.get("device", "phone")
        if not isinstance(code, str) or not isinstance(name, str):
            return problem(400, 'expected {"code": <pairing code>, "device": <name>}')
        try:
            device_token = await asyncio.to_thread(self.accounts.redeem_pairing_code, code, name)
        except AuthError as exc:
            log.info("refused a pairing code: %s", exc)
            return problem(401, "unauthorized")
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
        # The middleware has checked this is a device token.
        return web.json_response(
            {
                "user": request[USER],
                "session_token": self.accounts.session_token(bearer_token(request)),
            }
        )

    async def me(self, request: web.Request) -> web.Response:
        principal: Principal = request[PRINCIPAL]
        return web.json_response({"user": principal.user, "device": principal.device})
