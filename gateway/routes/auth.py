"""Who is asking: every `/v1/` request except pairing carries a token.

The token comes as `Authorization: Bearer …`, or `?token=` where a browser
cannot set headers (a download link). The middleware turns it into a
`Principal`; handlers read only `request[USER]`, never a user named in the
request, so one user can never reach another's sessions, history or memory. A
refused token gets a bare 401, whatever the reason; the reason goes to the log.

Without `Accounts` (a gateway on one's own laptop for tests and replays) every
request acts for the one local user.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.accounts import Accounts, AuthError, Principal, TokenKind
from gateway.request_keys import AUTHENTICATED_USER, PRINCIPAL, USER
from gateway.routes.rate_limits import RateLimiter
from gateway.routes.responses import problem

log = logging.getLogger(__name__)

LOCAL_USER = "me"
# Hostile text (a sign that reads "<script>…") is rendered as text by the app;
# the policy makes sure nothing inline could run even if a bug let it in.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
OPEN_PATHS = {"/v1/pair", "/healthz"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def bearer_token(request: web.Request) -> str:
    """The request's token: the Authorization header's, else `?token=` ("" if neither)."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.startswith("Bearer ") else ""
    return token or request.query.get("token", "")


class AppAuth:
    """The middleware: token → `Principal` on the request, then the user's rate limit."""

    def __init__(
        self, accounts: Accounts | None, limiter: RateLimiter, clock: Callable[[], float]
    ) -> None:
        self.accounts = accounts
        self.limiter = limiter
        self._clock = clock

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/v1/") and request.path not in OPEN_PATHS:
            principal = self._principal(request)
            if principal is None:
                return problem(401, "unauthorized")
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
        response.headers.update(SECURITY_HEADERS)
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

    def question_refusal(self, user: str) -> str | None:
        """The question gate of `user`'s app sessions: None, or what to tell them."""
        refusal = self.check_rate(user, "question")
        return None if refusal is None else refusal[0]
