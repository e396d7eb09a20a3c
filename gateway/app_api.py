"""The phone app's side of the gateway: its pages, its HTTP API, and who is asking.

`AppApi` only assembles: the auth and rate-limit middleware (`routes.auth`)
and one route module per area of the app (`routes.pages`, `pairing`, `live`,
`memory`, `history`, `glasses`), installed on a `Gateway`. Every URL and
response is defined in those modules.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from edge.models import EdgeModels
from gateway.accounts import Accounts
from gateway.history import History
from gateway.memory_access import MemoryAccess
from gateway.routes.auth import AppAuth
from gateway.routes.conversations import ConversationAccess, ConversationRoutes
from gateway.routes.glasses import GlassesRoutes
from gateway.routes.history import HistoryRoutes
from gateway.routes.live import LiveSessions
from gateway.routes.memory import MemoryRoutes
from gateway.routes.pages import page_routes, static_routes
from gateway.routes.pairing import PairingRoutes
from gateway.routes.rate_limits import DEFAULT_LIMITS, RateLimiter
from gateway.server import Gateway
from gateway.sessions.app_session import RESUME_GRACE_S, AppSession
from protocol import DeviceStatus

log = logging.getLogger(__name__)


class AppApi:
    """Installs the app's routes and the auth + rate-limit middleware on a `Gateway`."""

    def __init__(
        self,
        gateway: Gateway,
        edge_models: EdgeModels,
        *,
        accounts: Accounts | None = None,
        memory: MemoryAccess | None = None,
        history: History | None = None,
        conversations: ConversationAccess | None = None,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
        resume_grace_s: float = RESUME_GRACE_S,
    ) -> None:
        self.gateway = gateway
        self.accounts = accounts
        self.memory = memory
        self.history = history
        self.conversations = conversations
        self.auth = AppAuth(accounts, limiter or RateLimiter(dict(DEFAULT_LIMITS)), clock)
        self.live = LiveSessions(
            gateway,
            edge_models,
            history=history,
            question_gate_for=lambda user: lambda: self.auth.question_refusal(user),
            enforce_retention=self.enforce_retention,
            grace_s=resume_grace_s,
        )
        self._glasses = GlassesRoutes(lambda: list(self.sessions.values()))
        app = gateway.app
        app.middlewares.append(self.auth.middleware)
        app.add_routes(
            [
                *page_routes(),
                *PairingRoutes(accounts).routes(),
                *self.live.routes(),
                *MemoryRoutes(memory).routes(),
                *HistoryRoutes(history).routes(),
                *ConversationRoutes(conversations).routes(),
                *self._glasses.routes(),
                *static_routes(),
            ]
        )
        app.on_shutdown.append(self.live.close_all)
        gateway.device_listeners.append(self._glasses.reported)

    @property
    def limiter(self) -> RateLimiter:
        return self.auth.limiter

    @property
    def sessions(self) -> dict[str, AppSession]:
        """Open app sessions by id."""
        return self.live.sessions

    @property
    def glasses(self) -> dict[str, tuple[DeviceStatus, float]]:
        """Each user's glasses as their edge last reported them, with the wall time."""
        return self._glasses.glasses

    async def enforce_retention(self, user: str, max_age_s: float) -> tuple[int, int]:
        """Retention covers all the user keeps: (history turns, memories) deleted."""
        turns = memories = 0
        if self.history is not None:
            turns = await asyncio.to_thread(self.history.enforce_retention, user, max_age_s)
        if self.memory is not None:
            memories = await asyncio.to_thread(self.memory.forget_older_than, user, max_age_s)
        if self.conversations is not None:  # noted conversations and their memories
            memories += await asyncio.to_thread(
                self.conversations.forget_older_than, user, max_age_s
            )
        log.info("retention for %s: %d turns and %d memories deleted", user, turns, memories)
        return turns, memories
