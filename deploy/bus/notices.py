"""Telling sessions on any gateway something unasked (a reminder came due), once.

Gateways list their live sessions in Redis (a hash per gateway, beside a
heartbeat key that expires when the gateway dies). Every worker runs the cloud's
ReminderScheduler over that list; the scheduler claims each due reminder in the
shared store (`claim_due_reminders`, one UPDATE … RETURNING), so however many
workers see it come due, exactly one tells the user's sessions, and the wearer
hears it once. No Redis key is needed for that: the store's row is the claim.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis

from deploy.bus import keys, streams
from deploy.bus.envelope import ReplyEnvelope, seal_reply
from protocol import Notification, encode
from protocol.limits import BUS_REPLY_STREAM_MAXLEN

NOTICE = "notice"  # the turn key of a reply that belongs to no turn


@dataclass(frozen=True)
class RemoteSession:
    """A session some gateway holds, as the reminder scheduler sees it (Notifiable)."""

    redis: Redis
    secret: bytes
    gateway_id: str
    session_id: str

    async def notify(self, text: str, *, category: str, ref: str, due: str) -> None:
        notice = Notification(
            session_id=self.session_id, seq=0, sent_at=time.monotonic(),
            text=text, category=category, ref=ref, due=due,
        )  # fmt: skip
        reply = ReplyEnvelope(self.session_id, NOTICE, NOTICE, "message", encode(notice))
        await streams.add(
            self.redis,
            keys.replies(self.gateway_id),
            seal_reply(self.secret, reply),
            maxlen=BUS_REPLY_STREAM_MAXLEN,
        )


class LiveSessions:
    """The sessions every live gateway holds, by user; `refresh()` before each look."""

    def __init__(self, redis: Redis, secret: bytes) -> None:
        self._redis = redis
        self._secret = secret
        self._by_user: dict[str, list[RemoteSession]] = {}

    async def refresh(self) -> None:
        by_user: dict[str, list[RemoteSession]] = {}
        for raw in await self._redis.smembers(keys.GATEWAYS):
            gateway_id = _text(raw)
            if not await self._redis.exists(keys.gateway_alive(gateway_id)):
                await self._redis.srem(keys.GATEWAYS, gateway_id)  # it died: forget it
                await self._redis.delete(keys.live_sessions(gateway_id), keys.replies(gateway_id))
                continue
            sessions = await self._redis.hgetall(keys.live_sessions(gateway_id))
            for session_id, user in sessions.items():
                by_user.setdefault(_text(user), []).append(
                    RemoteSession(self._redis, self._secret, gateway_id, _text(session_id))
                )
        self._by_user = by_user

    def users(self) -> list[str]:
        """Everyone with a session open on some gateway (as of the last `refresh`)."""
        return list(self._by_user)

    def sessions_of(self, user: str) -> list[RemoteSession]:
        return self._by_user.get(user, [])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
