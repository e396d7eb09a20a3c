"""The cloud's websocket server: one connection per session, msgpack messages.

The gateway opens one connection for each edge session and relays protocol
messages both ways. A malformed message gets an Error reply; the connection
and the session go on.

Only the gateway may open a session, and only for the user it vouches for:
every connection must present a session claim signed with the secret the
gateway and the cloud share (protocol.claims) or it is refused with 401 before
the websocket upgrade; a request from a browser (any `Origin` header) is
refused with 403; and the session's user is the claim's, whatever its Hello
says. A claim opens one connection once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from cloud.config import CloudConfig
from cloud.conversation import Conversation, Models, local_now
from cloud.tools.reminders import ReminderScheduler
from cloud.turn_limits import QuestionRate, TurnLimits
from protocol import MAX_MESSAGE_BYTES, Error, Hello, Message, ProtocolError, decode, encode
from protocol.claims import ClaimError, SessionClaim, claim_from_header, verify_claim
from protocol.limits import MAX_USER_QUESTIONS_PER_MINUTE
from protocol.secret_file import SECRET_BYTES

log = logging.getLogger(__name__)


class CloudServer:
    """Accepts gateway connections and runs a Conversation for each."""

    def __init__(
        self,
        models: Models,
        config: CloudConfig | None = None,
        *,
        check_token: Callable[[str], str | None] | None = None,
        gateway_secret: bytes | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.models = models
        # Shared with the gateway only. None: a fresh random one for this process, handed
        # to the in-process gateway (deploy.local_stack); a separate gateway needs it given.
        self.gateway_secret = gateway_secret or secrets.token_bytes(SECRET_BYTES)
        if len(self.gateway_secret) < SECRET_BYTES:
            raise ValueError(f"the gateway secret must be at least {SECRET_BYTES} bytes")
        self._wall_clock = wall_clock
        # Claims checked before the upgrade, waiting for their connection's handler.
        self._claims: dict[ServerConnection, SessionClaim] = {}
        # Signatures already used, until they expire: a claim opens one connection.
        self._spent: dict[str, float] = {}
        self._user_rates: dict[str, QuestionRate] = {}
        self.config = config or CloudConfig()
        # Token → user for the OpenAI-compatible endpoint (the gateway's accounts), if any.
        self.check_token = check_token
        self.sessions: dict[str, Conversation] = {}
        # Where the OpenAI-compatible endpoint listens while running, when configured.
        self.openai_url: str | None = None

    def check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Before the upgrade: refuse browsers and anyone without a fresh, genuine claim."""
        if request.headers.get("Origin") is not None:
            log.warning("refused a cloud connection from a browser origin")
            return connection.respond(HTTPStatus.FORBIDDEN, "browsers may not connect here\n")
        now = self._wall_clock()
        try:
            token = claim_from_header(request.headers.get("Authorization"))
            claim = verify_claim(self.gateway_secret, token, now=now)
        except ClaimError as exc:
            log.warning("refused a cloud connection: %s", exc)
            return connection.respond(
                HTTPStatus.UNAUTHORIZED, "a gateway session claim is required\n"
            )
        self._spent = {t: exp for t, exp in self._spent.items() if exp >= now}
        if token in self._spent or claim.session_id in self.sessions:
            log.warning("refused a replayed claim for session %s", claim.session_id)
            return connection.respond(HTTPStatus.UNAUTHORIZED, "this claim was already used\n")
        self._spent[token] = claim.expires_at
        self._claims[connection] = claim
        return None

    async def handle(self, connection: ServerConnection) -> None:
        claim = self._claims.pop(connection, None)
        if claim is None:  # not through check_request: never serve it
            await connection.close(code=1008, reason="no session claim")
            return

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
                        refusal = _refuse_hello(claim, message)
                        if refusal is not None:
                            await send(refusal)
                            continue
                        user = message.user if claim.user is None else claim.user
                        conversation = Conversation(
                            message.session_id,
                            self.models,
                            send,
                            config=self.config,
                            user=user,
                            limits=TurnLimits(user_rate=self._user_rate(user)),
                        )
                        self.sessions[message.session_id] = conversation
                        conversation.receive(message)  # its privacy and answer modes
                        runner = tasks.create_task(conversation.run())
                        await send(conversation.image_modes())  # the keyframe only if looked at
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
                    if (refusal := conversation.receive(message)) is not None:
                        await send(refusal)
            except ConnectionClosed:
                pass
            finally:
                if runner is not None:
                    runner.cancel()
                if conversation is not None:
                    self.sessions.pop(conversation.session_id, None)

    def _user_rate(self, user: str) -> QuestionRate:
        """The question rate all of `user`'s sessions share (kept while the server runs:
        one small window per user who ever connected, and only the gateway can add users)."""
        return self._user_rates.setdefault(user, QuestionRate(MAX_USER_QUESTIONS_PER_MINUTE))

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
            process_request=self.check_request,
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
            workers=self.models.workers,
        )
        async with endpoint.running(self.config.host, self.config.openai_port) as port:
            self.openai_url = f"http://{self.config.host}:{port}/v1"
            try:
                yield
            finally:
                self.openai_url = None


def _refuse_hello(claim: SessionClaim, hello: Hello) -> Error | None:
    """An Error if the Hello asks for another session or user than the gateway vouched for."""
    if hello.session_id != claim.session_id:
        return _error(hello.session_id, "wrong_session", "Hello names another session", hello.seq)
    if claim.user is not None and hello.user != claim.user:
        log.warning("session %s: a Hello claimed another user; refused", claim.session_id)
        return _error(hello.session_id, "wrong_user", "Hello names another user", hello.seq)
    return None


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
