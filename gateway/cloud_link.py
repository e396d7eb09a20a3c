"""The gateway's websocket to the cloud for one session, opened with the gateway's word
for who the session speaks for (a signed claim; see protocol.claims)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake

from gateway.errors import GatewayError
from protocol import MAX_MESSAGE_BYTES
from protocol.claims import CLAIM_TTL_S, SessionClaim, authorization_header

CLOUD_OPEN_TIMEOUT_S = 5.0

# Opens a session's link to the cloud for (user, session id) some other way than the
# websocket (deploy/bus: through Redis to any worker); what it returns relays the same
# messages: `send(bytes)`, `async for` the replies, `close()`.
CloudConnector = Callable[[str | None, str], Awaitable[ClientConnection]]


class CloudRefused(GatewayError, ConnectionError):
    """The cloud refused the session (a bad claim: the gateway's and the cloud's secrets
    differ). An OSError, so callers treat it like an unreachable cloud."""


async def connect_cloud(
    cloud_url: str, *, user: str | None, session_id: str, secret: bytes
) -> ClientConnection:
    """Open the session's cloud websocket, presenting a short-lived claim for `user`.

    `user` is None only for a gateway without accounts, which cannot know who is
    speaking: the cloud then takes the user from the session's Hello. The cloud
    refuses the upgrade (websockets InvalidStatus, 401) if the claim is not good.
    """
    claim = SessionClaim(user=user, session_id=session_id, expires_at=time.time() + CLAIM_TTL_S)
    try:
        return await connect(
            cloud_url,
            max_size=MAX_MESSAGE_BYTES * 2,
            open_timeout=CLOUD_OPEN_TIMEOUT_S,
            additional_headers={"Authorization": authorization_header(secret, claim)},
        )
    except InvalidHandshake as exc:
        raise CloudRefused(
            f"the cloud at {cloud_url} refused the session ({exc}); "
            "do the gateway and the cloud share the same secret?"
        ) from exc
