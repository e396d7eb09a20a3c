"""A cloud worker on the bus: takes whole turns from the turns stream and answers them.

Any worker answers any turn: each carries its session's settings and all its
messages (assembly.py), so the worker builds a Conversation for it, files the
messages as the cloud's websocket would, runs it until the turn is finished,
and publishes every message it says to the turn's gateway. The turn is
acknowledged (XACK) only after "done" is published, so a worker that dies
mid-answer leaves it pending; another worker's XAUTOCLAIM takes it once it has
been idle `claim_idle_ms`, and it is answered again from the start.

Exactly once: before answering, a worker takes the turn's idempotency key
(`SET NX` with a lease of `claim_idle_ms`, renewed at a third of it together
with the entry's idle time); when done it sets the key to "done" for a day. A
worker that finds the key "done" only acknowledges; one that finds another's
live lease leaves the turn to it. If a worker stalls past its lease and the
turn is answered elsewhere, the gateway relays only the newer attempt and
drops everything for a finished turn.

A malformed, unsigned, forged or stale entry is logged, copied to the dead
letter stream and acknowledged: it never stops the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import time
from collections.abc import Callable
from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from cloud.config import CloudConfig
from cloud.conversation import Conversation, Models, local_now
from cloud.tools.reminders import ReminderScheduler
from cloud.turn_limits import TurnLimits
from deploy.bus import keys, streams
from deploy.bus.envelope import (
    BusError,
    ReplyEnvelope,
    TurnEnvelope,
    open_interrupt,
    open_turn,
    seal_reply,
)
from deploy.bus.notices import LiveSessions
from protocol import (
    Control,
    Error,
    Message,
    Observation,
    PrivacyMode,
    ProtocolError,
    Query,
    SpeechSegment,
    decode,
    encode,
)
from protocol.limits import (
    BUS_CLAIM_IDLE_MS,
    BUS_DONE_TTL_S,
    BUS_MAX_DELIVERIES,
    BUS_REPLY_STREAM_MAXLEN,
    BUS_TURN_MAX_AGE_S,
    BUS_WORKER_TURNS,
)
from protocol.privacy import may_leave

log = logging.getLogger(__name__)

READ_BLOCK_MS = 500
FINISHED_POLL_S = 0.005
SLOW_TURN_S = 10.0  # a turn slower than this is logged
# Renew the lease only if it is still ours (a stalled worker must not take it back).
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


@dataclasses.dataclass
class WorkerCounters:
    turns_answered: int = 0
    turns_claimed: int = 0
    already_done: int = 0
    dead_lettered: int = 0
    reminders_sent: int = 0


class BusWorker:
    """One worker process's consumer on the turns stream; `run()` until cancelled."""

    def __init__(
        self,
        redis: Redis,
        secret: bytes,
        models: Models,
        config: CloudConfig | None = None,
        *,
        worker_id: str | None = None,
        claim_idle_ms: int = BUS_CLAIM_IDLE_MS,
        max_turns: int = BUS_WORKER_TURNS,
        wall_clock: Callable[[], float] = time.time,
        local_clock: Callable[[], datetime] = local_now,
    ) -> None:
        self.redis = redis
        self._secret = secret
        self.models = models
        # The gateway already waited for a visual turn's observation before sending it.
        self.config = dataclasses.replace(config or CloudConfig(), observation_wait_s=0.0)
        self.worker_id = worker_id or secrets.token_hex(6)
        self.claim_idle_ms = claim_idle_ms
        self.max_turns = max_turns
        self._wall_clock = wall_clock
        self._local_clock = local_clock
        self._answering: dict[str, Conversation] = {}
        self._slots = asyncio.Semaphore(max_turns)
        self._renew = redis.register_script(_RENEW)
        self.counters = WorkerCounters()
        self.ready = asyncio.Event()

    async def run(self) -> None:
        """Consume turns (and claim dead workers' turns) until cancelled."""
        await self._create_group()
        await self.redis.set(keys.IMAGE_MODES, self._image_modes().encode())
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._listen_for_interrupts())
            if self.models.users is not None:
                tasks.create_task(self._deliver_reminders())
            self.ready.set()
            last_claim = 0.0
            while True:
                await self._slots.acquire()
                free = 1 + self._slots_free()
                entries: list[streams.Entry] = []
                try:
                    if time.monotonic() - last_claim > self.claim_idle_ms / 2000:
                        last_claim = time.monotonic()
                        entries = await streams.autoclaim(
                            self.redis, keys.TURNS, keys.WORKERS, self.worker_id,
                            min_idle_ms=self.claim_idle_ms, count=free,
                        )  # fmt: skip
                        self.counters.turns_claimed += len(entries)
                        entries = await self._drop_poison(entries)
                    if not entries:
                        entries = await streams.read_group(
                            self.redis, keys.TURNS, keys.WORKERS, self.worker_id,
                            count=free, block_ms=READ_BLOCK_MS,
                        )  # fmt: skip
                except (RedisError, OSError) as exc:
                    log.warning("reading turns failed: %s; retrying", exc)
                    self._slots.release()
                    await asyncio.sleep(0.5)
                    if "NOGROUP" in str(exc):  # Redis restarted without its data: start anew
                        with contextlib.suppress(RedisError, OSError):
                            await self._create_group()
                    continue
                if not entries:
                    self._slots.release()
                    continue
                for index, (entry_id, fields) in enumerate(entries):
                    if index > 0:
                        await self._slots.acquire()
                    tasks.create_task(self._take(entry_id, fields))

    async def _drop_poison(self, claimed: list[streams.Entry]) -> list[streams.Entry]:
        """Claimed turns that were already taken BUS_MAX_DELIVERIES times are dead-lettered."""
        kept = []
        for entry_id, fields in claimed:
            if await streams.deliveries(self.redis, keys.TURNS, keys.WORKERS, entry_id) > (
                BUS_MAX_DELIVERIES
            ):
                await self._dead_letter(entry_id, fields, "taken too many times unanswered")
            else:
                kept.append((entry_id, fields))
        return kept

    async def _create_group(self) -> None:
        with contextlib.suppress(ResponseError):  # BUSYGROUP: another worker made it
            await self.redis.xgroup_create(keys.TURNS, keys.WORKERS, id="0", mkstream=True)

    def _slots_free(self) -> int:
        return max(0, self._slots._value)

    def _image_modes(self) -> str:
        """Which answer modes' backends look at the keyframe (Conversation tells a session)."""

        async def nowhere(message: Message) -> None:
            return None

        return Conversation("-", self.models, nowhere, config=self.config).image_modes().value

    # -- one turn ------------------------------------------------------------------

    async def _take(self, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        try:
            await self._answer_entry(entry_id, fields)
        except asyncio.CancelledError:
            raise
        except Exception:  # Redis went away mid-turn: it stays pending, another will claim it
            log.exception("turn entry %s not finished; left for another worker", entry_id)
        finally:
            self._slots.release()

    async def _answer_entry(self, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        try:
            turn = open_turn(
                self._secret, fields, now=self._wall_clock(), max_age_s=BUS_TURN_MAX_AGE_S
            )
        except BusError as exc:
            await self._dead_letter(entry_id, fields, str(exc))
            return
        taken_at = time.monotonic()
        attempt = f"{self.worker_id}:{entry_id.decode()}:{secrets.token_hex(2)}"
        state = keys.turn_state(turn.turn_key)
        if not await self.redis.set(state, attempt.encode(), nx=True, px=self.claim_idle_ms):
            if await self.redis.get(state) == b"done":
                self.counters.already_done += 1
                await self.redis.xack(keys.TURNS, keys.WORKERS, entry_id)
            return  # another live worker holds it and will acknowledge it
        keeping = asyncio.create_task(self._keep_lease(state, attempt, entry_id))
        try:
            answering = asyncio.create_task(self._answer(turn, attempt))
            done, _ = await asyncio.wait({answering, keeping}, return_when=asyncio.FIRST_COMPLETED)
            if answering not in done:  # the lease was lost: someone else answers it now
                answering.cancel()
                log.warning("turn %s: lease lost; left to the worker that took it", turn.turn_key)
                return
            answering.result()
        finally:
            keeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeping
        await self._reply(turn, attempt, "done")
        await self.redis.set(state, b"done", ex=BUS_DONE_TTL_S)
        await self.redis.xack(keys.TURNS, keys.WORKERS, entry_id)
        self.counters.turns_answered += 1
        took = time.monotonic() - taken_at
        if took > SLOW_TURN_S:
            log.warning("turn %s took %.1f s from taking to done", turn.turn_key, took)

    async def _keep_lease(self, state: str, attempt: str, entry_id: bytes) -> None:
        """Renew the turn's lease and the entry's idle time; returns when the lease is lost."""
        while True:
            await asyncio.sleep(self.claim_idle_ms / 3000)
            renewed = await self._renew(keys=[state], args=[attempt, self.claim_idle_ms])
            if not renewed:
                return
            await streams.touch(self.redis, keys.TURNS, keys.WORKERS, self.worker_id, entry_id)

    async def _answer(self, turn: TurnEnvelope, attempt: str) -> None:
        async def send(message: Message) -> None:
            await self._reply(turn, attempt, "message", encode(message))

        conversation = Conversation(
            turn.session_id,
            self.models,
            send,
            config=self.config,
            user=turn.user,
            limits=TurnLimits(),  # the session's own ceilings were checked at its gateway
        )
        self._answering[turn.turn_key] = conversation
        try:
            expected = 0
            settings_seen = False
            before = conversation.settings
            for data in turn.messages:
                try:
                    message = decode(data)
                except ProtocolError as exc:
                    await send(_error(turn.session_id, "bad_message", str(exc)))
                    continue
                if message.session_id != turn.session_id:
                    continue  # a turn only speaks for its own session
                is_setting = message.kind in ("hello", "control")
                if not is_setting and not settings_seen:
                    settings_seen, before = True, conversation.settings
                if (refusal := conversation.receive(message)) is not None:
                    await send(refusal)
                elif _starts_work(message, conversation.settings.privacy):
                    expected += 1
            sealed = await self.redis.get(keys.interrupted(turn.turn_key))
            if isinstance(sealed, bytes):
                self._interrupt(sealed)
            runner = asyncio.create_task(conversation.run())
            try:
                # Conversation counts finished turns (memory written too) but has no event.
                while conversation.turns_finished < expected:  # noqa: ASYNC110
                    await asyncio.sleep(FINISHED_POLL_S)
            finally:
                runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runner
            if conversation.settings.shopping != before.shopping:  # the wearer's words changed it
                value = "on" if conversation.settings.shopping else "off"
                control = Control(
                    session_id=turn.session_id, seq=0, sent_at=time.monotonic(),
                    action="shopping", value=value,
                )  # fmt: skip
                await self._reply(turn, attempt, "state", encode(control))
        finally:
            self._answering.pop(turn.turn_key, None)

    async def _reply(
        self, turn: TurnEnvelope, attempt: str, kind: str, payload: bytes = b""
    ) -> None:
        reply = ReplyEnvelope(turn.session_id, turn.turn_key, attempt, kind, payload)  # type: ignore[arg-type]
        await streams.add(
            self.redis,
            keys.replies(turn.gateway_id),
            seal_reply(self._secret, reply),
            maxlen=BUS_REPLY_STREAM_MAXLEN,
        )

    async def _dead_letter(self, entry_id: bytes, fields: dict[bytes, bytes], reason: str) -> None:
        log.warning("turn entry %s refused and dead-lettered: %s", entry_id, reason)
        kept = {b"entry": entry_id, b"reason": reason.encode(), **fields}
        await streams.add(self.redis, keys.DEAD_TURNS, kept, maxlen=keys.DEAD_MAXLEN)
        await self.redis.xack(keys.TURNS, keys.WORKERS, entry_id)
        self.counters.dead_lettered += 1

    # -- interrupts and reminders ----------------------------------------------------

    async def _listen_for_interrupts(self) -> None:
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(keys.INTERRUPTS)
        try:
            async for item in pubsub.listen():
                if item.get("type") == "message" and isinstance(item.get("data"), bytes):
                    self._interrupt(item["data"])
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _interrupt(self, sealed: bytes) -> None:
        try:
            interrupt = open_interrupt(self._secret, sealed)
            message = decode(interrupt.payload)
        except ProtocolError as exc:  # BusError is one
            log.warning("ignored an interrupt: %s", exc)
            return
        conversation = self._answering.get(interrupt.turn_key)
        if conversation is not None and message.session_id == conversation.session_id:
            conversation.receive(message)

    async def _deliver_reminders(self) -> None:
        """Every worker looks; the store's claim of each due reminder lets one of them say it.

        Every user with a live session is opened here, so the reminders of a user this
        worker never answered (the one that did died) still fire."""
        users = self.models.users
        assert users is not None
        live = LiveSessions(self.redis, self._secret)
        scheduler = ReminderScheduler(users, live.sessions_of, clock=self._local_clock, poll_s=0.0)
        while True:
            try:
                await live.refresh()
                for user in set(live.users()) - set(users.users()):
                    await asyncio.to_thread(users.open, user)
                self.counters.reminders_sent += await scheduler.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivering reminders failed; trying again")
            await asyncio.sleep(self.config.reminder_poll_s)


def _starts_work(message: Message, privacy: PrivacyMode) -> bool:
    """Whether filing `message` queued a turn for the conversation to finish (a question
    always does, answered or refused; a scene note only where the privacy mode lets it)."""
    if isinstance(message, SpeechSegment):
        return message.last
    if isinstance(message, Observation):
        return message.turn_id == 0 and may_leave(message, privacy)
    return isinstance(message, Query)


def _error(session_id: str, code: str, text: str) -> Message:
    return Error(session_id=session_id, seq=0, sent_at=time.monotonic(), code=code, message=text)
