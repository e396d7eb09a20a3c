"""The gateway's side of the bus: each session's turns out, its answers back in.

`BusGateway.connect` stands where the cloud websocket stood
(gateway.cloud_link.connect_cloud): a `GatewaySession` sends it the session's
validated messages and reads back what the cloud says, exactly as before.
Underneath, `SessionLink` assembles whole turns (assembly.py), signs each and
adds it to the turns stream, one question at a time per session (a session's
answers stay in order, and the next question goes once the last is done);
replies come back on this gateway's own stream, read by one task and handed to
their session. A turn answered twice (a worker was thought dead and was not)
reaches the wearer once: only the attempt that answers last before "done" is
relayed, and anything for a finished turn is dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError

from cloud.turn_limits import TurnLimits
from deploy.bus import keys, streams
from deploy.bus.assembly import ReadyTurn, TurnAssembler
from deploy.bus.envelope import (
    BusError,
    InterruptEnvelope,
    ReplyEnvelope,
    TurnEnvelope,
    open_reply,
    seal_interrupt,
    seal_turn,
)
from deploy.bus.notices import NOTICE
from deploy.bus.question_rate import SharedQuestionRate
from protocol import (
    AnswerDone,
    Control,
    Error,
    Hello,
    Interrupt,
    Message,
    ProtocolError,
    Query,
    SpeechSegment,
    decode,
    encode,
)
from protocol.limits import (
    BUS_DONE_TTL_S,
    BUS_TURN_DEADLINE_S,
    BUS_TURN_STREAM_MAXLEN,
    MAX_USER_QUESTIONS_PER_MINUTE,
)

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0
STOP_WAIT_S = 2.0  # how long shutting down waits for the bus tasks
READ_BLOCK_MS = 1_000
# What a turn says once; a turn taken over by another worker may repeat it.
ONCE_PER_TURN = frozenset({"transcript", "answer_done"})
NO_ANSWER = "no answer came for that question; please ask again"
BUS_DOWN = "the cloud's queue cannot be reached just now; that was not sent, try again shortly"


@dataclass
class _InFlight:
    """A published turn: which attempt's answer is being relayed, and which were given up."""

    turn_id: int
    question: bool
    attempt: str = ""
    abandoned: set[str] = field(default_factory=set)
    # Its answer reached the wearer (AnswerDone, or an Error ending it) from `attempt`:
    # anything another attempt says about it from now on is a duplicate.
    answered: bool = False
    # Kinds said once per turn (Transcript) already relayed: a retaken turn's copy is dropped.
    relayed: set[str] = field(default_factory=set)
    deadline: asyncio.TimerHandle | None = None


@dataclass
class BusCounters:
    turns_published: int = 0
    turns_done: int = 0
    duplicates_dropped: int = 0
    forged_dropped: int = 0
    turns_given_up: int = 0


class BusGateway:
    """One gateway process's connection to the bus; `running()` while it serves."""

    def __init__(
        self,
        redis: Redis,
        secret: bytes,
        *,
        gateway_id: str | None = None,
        observation_wait_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self._secret = secret
        self.gateway_id = gateway_id or secrets.token_hex(6)
        self.observation_wait_s = observation_wait_s
        self._clock = clock
        self._wall_clock = wall_clock
        self.sessions: dict[str, SessionLink] = {}
        self._user_rates: dict[str, SharedQuestionRate] = {}
        self.counters = BusCounters()
        self.image_modes = ""

    @asynccontextmanager
    async def running(self) -> AsyncIterator[BusGateway]:
        await self._heartbeat_once()
        tasks = [asyncio.create_task(self._read_replies()), asyncio.create_task(self._heartbeat())]
        try:
            yield self
        finally:
            for task in tasks:
                task.cancel()
            # redis-py can leave a cancelled blocking XREAD waiting on its connection for
            # good (seen in tests/test_bus.py); shutting down must not wait on it.
            _, stuck = await asyncio.wait(tasks, timeout=STOP_WAIT_S)
            if stuck:
                log.warning("gateway %s: %d bus task(s) did not stop", self.gateway_id, len(stuck))
            for link in list(self.sessions.values()):
                await link.close()
            with contextlib.suppress(Exception):  # Redis gone: nothing left to tidy
                await self.redis.srem(keys.GATEWAYS, self.gateway_id)
                await self.redis.delete(
                    keys.gateway_alive(self.gateway_id),
                    keys.live_sessions(self.gateway_id),
                    keys.replies(self.gateway_id),
                )

    async def connect(self, user: str | None, session_id: str) -> SessionLink:
        """A session's link to the workers (what `connect_cloud` is without a bus)."""
        modes = await self.redis.get(keys.IMAGE_MODES)
        self.image_modes = modes.decode() if isinstance(modes, bytes) else ""
        rate = None
        if user is not None:  # counted across every gateway the user's devices are on
            rate = self._user_rates.get(user)
            if rate is None:
                rate = SharedQuestionRate(self.redis, user, MAX_USER_QUESTIONS_PER_MINUTE)
                self._user_rates[user] = rate
        link = SessionLink(self, session_id, user, TurnLimits(user_rate=rate), rate)
        self.sessions[session_id] = link
        if user is not None:
            await self.register(session_id, user)
        return link

    async def register(self, session_id: str, user: str) -> None:
        """List the session as `user`'s, for the workers' reminders."""
        await self.redis.hset(keys.live_sessions(self.gateway_id), session_id, user)

    async def publish(self, turn: TurnEnvelope) -> None:
        fields = seal_turn(self._secret, turn)
        await streams.add(self.redis, keys.TURNS, fields, maxlen=BUS_TURN_STREAM_MAXLEN)
        self.counters.turns_published += 1

    async def interrupt(self, turn_key: str, data: bytes) -> None:
        """Stop whichever worker answers `turn_key`, now or when it takes the turn."""
        sealed = seal_interrupt(self._secret, InterruptEnvelope(turn_key, data))
        await self.redis.set(keys.interrupted(turn_key), sealed, ex=BUS_DONE_TTL_S)
        await self.redis.publish(keys.INTERRUPTS, sealed)

    async def _read_replies(self) -> None:
        stream = keys.replies(self.gateway_id)
        last = b"0-0"
        while True:
            try:
                entries = await streams.read(
                    self.redis, stream, last, count=200, block_ms=READ_BLOCK_MS
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarting: keep trying, sessions keep waiting
                log.warning("reading replies failed: %s; retrying", exc)
                await asyncio.sleep(0.5)
                continue
            for entry_id, fields in entries:
                last = entry_id
                try:
                    reply = open_reply(self._secret, fields)
                except BusError as exc:
                    self.counters.forged_dropped += 1
                    log.warning("dropped a reply entry %s: %s", entry_id, exc)
                    continue
                link = self.sessions.get(reply.session_id)
                if link is not None:
                    await link.deliver(reply)

    async def _heartbeat_once(self) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.sadd(keys.GATEWAYS, self.gateway_id)
        pipe.set(keys.gateway_alive(self.gateway_id), b"1", px=keys.GATEWAY_TTL_MS)
        await pipe.execute()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self._heartbeat_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("gateway heartbeat failed: %s", exc)

    async def forget(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)
        with contextlib.suppress(Exception):
            await self.redis.hdel(keys.live_sessions(self.gateway_id), session_id)


class SessionLink:
    """One session's stand-in for the cloud websocket: `send(bytes)`, `async for`,
    `close()` (what gateway.session.GatewaySession uses of it)."""

    def __init__(
        self,
        bus: BusGateway,
        session_id: str,
        user: str | None,
        limits: TurnLimits,
        user_rate: SharedQuestionRate | None = None,
    ) -> None:
        self._bus = bus
        self._user_rate = user_rate
        self.session_id = session_id
        self.user = user
        self._turns = TurnAssembler(limits)
        self._outbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._flight: dict[str, _InFlight] = {}
        self._by_turn_id: dict[int, str] = {}
        self._next_key = 0
        self._seq = 0
        self._retry: asyncio.TimerHandle | None = None
        self._closed = False
        self._publishing = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- what GatewaySession calls -------------------------------------------------

    async def send(self, data: bytes) -> None:
        """A validated message from the edge."""
        if self._closed:
            return
        try:
            message = decode(data)
        except ProtocolError as exc:  # the session decoded it already; cannot happen
            self._reply(self._error("bad_message", str(exc)))
            return
        if self._turns.hello is None and not isinstance(message, Hello):
            self._reply(self._error("hello_required", "send Hello first", message.seq))
            return
        try:
            await self._file(message, data)
        except (RedisError, OSError) as exc:  # the bus is down: say so, keep the session
            log.warning("session %s: bus unavailable: %s", self.session_id, exc)
            self._reply(self._error("cloud_unavailable", BUS_DOWN, message.seq))

    async def _file(self, message: Message, data: bytes) -> None:
        if isinstance(message, Interrupt) and message.turn_id in self._by_turn_id:
            await self._bus.interrupt(self._by_turn_id[message.turn_id], data)
            return
        if self._user_rate is not None and _asks(message):
            await self._user_rate.refresh()  # the user's questions on every gateway
        refusal = self._turns.file(message, data, self._bus._clock())
        if refusal is not None:
            log.info("session %s: refused %s: %s", self.session_id, message.kind, refusal.text)
            self._reply(
                self._error(refusal.code, refusal.text, message.seq, turn_id=refusal.turn_id)
            )
            return
        if isinstance(message, Hello):
            if self.user is None and message.user:  # no accounts: the Hello names the user
                await self._bus.register(self.session_id, message.user)
            self._reply(Control(session_id=self.session_id, seq=0, sent_at=self._bus._clock(),
                                action="images", value=self._bus.image_modes))  # fmt: skip
        await self._publish_ready()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._replies()

    async def _replies(self) -> AsyncIterator[bytes]:
        while (data := await self._outbox.get()) is not None:
            yield data

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
        for key in list(self._flight):
            self._finish(key)
        for task in self._tasks:
            task.cancel()
        self._outbox.put_nowait(None)
        await self._bus.forget(self.session_id)

    # -- turns out -----------------------------------------------------------------

    async def _publish_ready(self) -> None:
        async with self._publishing:
            speaker = self.user if self.user is not None else getattr(self._turns.hello, "user", "")
            ready: list[ReadyTurn] = self._turns.take_notes()
            if not any(f.question for f in self._flight.values()):
                taken = self._turns.take_question(self._bus._clock(), self._bus.observation_wait_s)
                if isinstance(taken, ReadyTurn):
                    ready.append(taken)
                elif taken is not None:
                    self._retry_at(taken)
            for turn in ready:
                self._next_key += 1
                key = f"{self._bus.gateway_id}.{self.session_id}.{self._next_key}"
                flight = self._flight[key] = _InFlight(turn.turn_id, turn.question)
                flight.deadline = asyncio.get_running_loop().call_later(
                    BUS_TURN_DEADLINE_S, self._give_up, key
                )
                if turn.question:
                    self._by_turn_id[turn.turn_id] = key
                    self._turns.in_flight += 1
                await self._bus.publish(
                    TurnEnvelope(
                        turn_key=key,
                        gateway_id=self._bus.gateway_id,
                        session_id=self.session_id,
                        user=speaker or "",
                        issued_at=self._bus._wall_clock(),
                        messages=turn.messages,
                    )
                )

    def _retry_at(self, when: float) -> None:
        if self._retry is not None:
            self._retry.cancel()
        loop = asyncio.get_running_loop()
        delay = max(0.0, when - self._bus._clock())
        self._retry = loop.call_later(delay, self._publish_later)

    def _publish_later(self) -> None:
        task = asyncio.get_running_loop().create_task(self._publish_ready())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- replies in ----------------------------------------------------------------

    async def deliver(self, reply: ReplyEnvelope) -> None:
        """A worker's reply for this session: relayed once, in order, re-numbered here."""
        if reply.turn_key == NOTICE:
            self._relay(reply.payload)
            return
        turn = self._flight.get(reply.turn_key)
        if turn is None or reply.attempt in turn.abandoned:
            self._bus.counters.duplicates_dropped += 1
            return
        if turn.attempt != reply.attempt:
            if turn.answered and reply.kind == "message":
                self._bus.counters.duplicates_dropped += 1  # answered already, by another
                return
            if turn.attempt:  # another worker took the turn over: its answer is the one
                log.warning("turn %s: answered again by %s", reply.turn_key, reply.attempt)
                turn.abandoned.add(turn.attempt)
            turn.attempt = reply.attempt
        if reply.kind == "message":
            self._relay_once(turn, reply.payload)
        elif reply.kind == "state":
            with contextlib.suppress(ProtocolError):
                control = decode(reply.payload)
                if isinstance(control, Control):
                    self._turns.keep_control(control, reply.payload)
        else:  # done
            self._finish(reply.turn_key)
            self._bus.counters.turns_done += 1
            await self._publish_ready()

    def _finish(self, key: str) -> _InFlight | None:
        turn = self._flight.pop(key, None)
        if turn is None:
            return None
        if turn.deadline is not None:
            turn.deadline.cancel()
        if turn.question:
            self._by_turn_id.pop(turn.turn_id, None)
            self._turns.in_flight -= 1
        return turn

    def _give_up(self, key: str) -> None:
        """No worker finished the turn in time (Redis lost it, or none is running): the
        wearer is told, and the session's next question may go."""
        turn = self._finish(key)
        if turn is None or self._closed:
            return
        self._bus.counters.turns_given_up += 1
        log.warning("session %s: turn %s got no answer; given up", self.session_id, key)
        if turn.question and not turn.answered:
            self._reply(self._error("cloud_unavailable", NO_ANSWER, turn_id=turn.turn_id))
        self._tasks.add(task := asyncio.get_running_loop().create_task(self._publish_ready()))
        task.add_done_callback(self._tasks.discard)

    def _relay_once(self, turn: _InFlight, payload: bytes) -> None:
        try:
            message = decode(payload)
        except ProtocolError as exc:
            log.warning("session %s: a worker sent an unreadable message: %s", self.session_id, exc)
            return
        if message.kind in ONCE_PER_TURN and message.kind in turn.relayed:
            self._bus.counters.duplicates_dropped += 1
            return
        turn.relayed.add(message.kind)
        if isinstance(message, AnswerDone | Error):
            turn.answered = True
        self._reply(message)

    def _relay(self, payload: bytes) -> None:
        try:
            message = decode(payload)
        except ProtocolError as exc:
            log.warning("session %s: a worker sent an unreadable message: %s", self.session_id, exc)
            return
        self._reply(message)

    def _reply(self, message: Message) -> None:
        if self._closed:
            return
        self._seq += 1  # one numbering for the session, whichever worker wrote it
        self._outbox.put_nowait(encode(dataclasses.replace(message, seq=self._seq)))

    def _error(self, code: str, text: str, ref_seq: int = -1, *, turn_id: int = -1) -> Error:
        return Error(
            session_id=self.session_id,
            seq=0,
            sent_at=self._bus._clock(),
            code=code,
            message=text,
            ref_seq=ref_seq,
            turn_id=turn_id,
        )


def _asks(message: Message) -> bool:
    """Whether filing `message` completes a question (and so counts against the rate)."""
    return isinstance(message, Query) or (isinstance(message, SpeechSegment) and message.last)
