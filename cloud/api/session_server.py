"""The cloud's websocket server: one connection per session, msgpack messages.

The gateway opens one connection for each edge session and relays protocol
messages both ways. A malformed message gets an Error reply; the connection
and the session go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from cloud.config import CloudConfig
from cloud.conversation import Conversation, Models, local_now
from cloud.tools.reminders import ReminderScheduler
from protocol import MAX_MESSAGE_BYTES, Error, Hello, Message, ProtocolError, decode, encode

log = logging.getLogger(__name__)


class CloudServer:
    """Accepts gateway connections and runs a Conversation for each."""

    def __init__(
        self,
        models: Models,
        config: CloudConfig | None = None,
        *,
        check_token: Callable[[str], str | None] | None = None,
    ) -> None:
        self.models = models
        self.config = config or CloudConfig()
        # Token → user for the OpenAI-compatible endpoint (the gateway's accounts), if any.
        self.check_token = check_token
        self.sessions: dict[str, Conversation] = {}
        # Where the OpenAI-compatible endpoint listens while running, when configured.
        self.openai_url: str | None = None

    async def handle(self, connection: ServerConnection) -> None:
        async def send(message: Message) -> None:
            try:
                await connection.send(encode(message))
            except ConnectionClosed:
                log.info("gateway went away before %s could be sent", message.kind)

        conversation: Conversation | None = None
        async with asyncio.TaskGroup() as tasks:
            runner: asyncio.Task[None] | None = None
            try:
                async for data in connection:
                    try:
                        message = decode(data if isinstance(data, bytes) else data.encode())
                    except ProtocolError as exc:
                        await send(_error("?", "bad_message", str(exc)))
                        continue
                    if conversation is None:
                        if not isinstance(message, Hello):
                            await send(
                                _error(message.session_id, "hello_required", "send Hello first")
                            )
                            continue
                        conversation = Conversation(
                            message.session_id,
                            self.models,
                            send,
                            config=self.config,
                            user=message.user,
                        )
                        self.sessions[message.session_id] = conversation
                        runner = tasks.create_task(conversation.run())
                        continue
                    if message.session_id != conversation.session_id:
                        await send(
                            _error(
                                conversation.session_id,
                                "wrong_session",
                                "message belongs to another session",
                                message.seq,
                            )
                        )
                        continue
                    conversation.receive(message)
            except ConnectionClosed:
                pass
            finally:
                if runner is not None:
                    runner.cancel()
                if conversation is not None:
                    self.sessions.pop(conversation.session_id, None)

    def sessions_of(self, user: str) -> list[Conversation]:
        """The user's open sessions (a wearer may have the glasses and the phone app open)."""
        return [c for c in self.sessions.values() if c.user == user]

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Server]:
        """Serve until the context exits; the bound port is on the returned server."""
        async with serve(
            self.handle,
            self.config.host,
            self.config.port,
            max_size=MAX_MESSAGE_BYTES * 2,
            ping_interval=20,
        ) as server:
            scheduler: asyncio.Task[None] | None = None
            if self.models.users is not None:
                reminders = ReminderScheduler(
                    self.models.users,
                    self.sessions_of,
                    clock=local_now,
                    poll_s=self.config.reminder_poll_s,
                )
                scheduler = asyncio.create_task(reminders.run())
            try:
                async with contextlib.AsyncExitStack() as extras:
                    if self.config.openai_port is not None:
                        await extras.enter_async_context(self._openai_endpoint())
                    yield server
            finally:
                if scheduler is not None:
                    scheduler.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await scheduler

    @asynccontextmanager
    async def _openai_endpoint(self) -> AsyncIterator[None]:
        """The same model for OpenAI-compatible clients, sharing the turns' lock."""
        from cloud.api.memory_chat import MemoryPersonaliser
        from cloud.api.openai_endpoint import OpenAiEndpoint

        assert self.config.openai_port is not None
        users = self.models.users
        endpoint = OpenAiEndpoint(
            self.models.reasoner,
            lock=self.models.lock,
            api_key=self.config.openai_serve_key,
            timeout_s=self.config.answer_timeout_s,
            check_token=self.check_token,
            personalise=MemoryPersonaliser(users, self.config) if users is not None else None,
            transcriber=self.models.transcriber,
        )
        async with endpoint.running(self.config.host, self.config.openai_port) as port:
            self.openai_url = f"http://{self.config.host}:{port}/v1"
            try:
                yield
            finally:
                self.openai_url = None


def _error(session_id: str, code: str, text: str, ref_seq: int = -1) -> Error:
    # Errors about the connection itself are not part of a conversation's sequence.
    return Error(
        session_id=session_id,
        seq=0,
        sent_at=time.monotonic(),
        code=code,
        message=text,
        ref_seq=ref_seq,
    )
