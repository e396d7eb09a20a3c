"""Gateways and cloud workers over a real Redis (Debian's redis-server on loopback).

A turn goes edge → WebRTC → gateway → Redis stream → worker → the gateway's reply
stream → edge; a worker stopped mid-turn leaves it to another, which answers it
once; reminders fire once across workers; bad entries are dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import pytest
from redis.asyncio import Redis

from cloud.conversation import Models
from cloud.memory import HashingEmbedder
from cloud.memory.user_data import UserDirectory
from cloud.reasoning.reasoner import ChatMessage
from deploy.bus import keys
from deploy.bus.envelope import TurnEnvelope, seal_turn
from deploy.bus.runtime import gateway_on_bus
from deploy.bus.worker import BusWorker
from edge.link.client import GatewayClient
from gateway.config import GatewayConfig
from gateway.server import Gateway
from protocol import AnswerDone, Hello, Message, Notification, Query, Sequencer, encode
from tests.fakes import FakeReasoner, FakeTranscriber
from tests.redis_server import persistent_redis, redis_server
from tests.waiting import until

SECRET = b"s" * 32
CLAIM_IDLE_MS = 400


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


class StuckReasoner:
    """Starts answering and never finishes: a worker that hangs (or dies) mid-answer."""

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int
    ) -> AsyncIterator[str]:
        self.started.set()
        yield "Half an"
        await asyncio.Event().wait()


@contextlib.asynccontextmanager
async def running(worker: BusWorker) -> AsyncIterator[BusWorker]:
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(worker.ready.wait(), 10)
    try:
        yield worker
    finally:
        task.cancel()
        # redis-py can leave a cancelled blocking XREADGROUP waiting on a connection of
        # the pool it shares with the other workers here; the test must not wait on it.
        await asyncio.wait({task}, timeout=2)


@contextlib.asynccontextmanager
async def gateway(redis: Redis) -> AsyncIterator[tuple[str, Gateway]]:
    server = Gateway(GatewayConfig(port=0), cloud_secret=SECRET)
    async with gateway_on_bus(server, redis, SECRET), server.running() as port:
        yield f"http://127.0.0.1:{port}", server


def worker(redis: Redis, reasoner: object | None = None, **models: object) -> BusWorker:
    fake = Models(transcriber=FakeTranscriber(), reasoner=reasoner or FakeReasoner(), **models)  # type: ignore[arg-type]
    return BusWorker(redis, SECRET, fake, claim_idle_ms=CLAIM_IDLE_MS)


async def ask(link: GatewayClient, user: str, *questions: str) -> None:
    out = Sequencer(link.session_id)
    await link.send(out.make(Hello, user=user, device="test"))
    for turn_id, text in enumerate(questions, start=1):
        await link.send(out.make(Query, turn_id=turn_id, text=text))


async def collect(
    link: GatewayClient, until: type[Message], count: int, within_s: float = 20
) -> list[Message]:
    got: list[Message] = []
    async with asyncio.timeout(within_s):
        async for message in link:
            got.append(message)
            if sum(isinstance(m, until) for m in got) >= count:
                return got
    return got


async def test_a_question_goes_through_redis_to_a_worker_and_back(redis: Redis) -> None:
    async with running(worker(redis)) as answering, gateway(redis) as (url, _):
        async with GatewayClient(url) as link:
            await ask(link, "alice", "what is the capital of France", "and of Spain")
            got = await collect(link, AnswerDone, 2)
            async with asyncio.timeout(5):  # "done" and XACK follow the relayed answer
                while answering.counters.turns_answered < 2:
                    await asyncio.sleep(0.01)
    done = [m for m in got if isinstance(m, AnswerDone)]
    assert [d.turn_id for d in done] == [1, 2]
    assert "capital of France" in done[0].text and "of Spain" in done[1].text
    seqs = [m.seq for m in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # one numbering per session
    assert answering.counters.turns_answered == 2
    assert await redis.xpending(keys.TURNS, keys.WORKERS) == {
        "pending": 0,
        "min": None,
        "max": None,
        "consumers": [],
    }


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_turn_left_by_a_stopped_worker_is_answered_once_by_another(
    redis: Redis, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """On the store the workers share: a SQLite folder, or a real PostgreSQL."""
    store = request.getfixturevalue("postgres_dsn") if backend == "postgresql" else ""
    directories = [UserDirectory(tmp_path / "users", HashingEmbedder(), store=store) for _ in "ab"]
    stuck = StuckReasoner()
    try:
        async with gateway(redis) as (url, _), GatewayClient(url) as link:
            async with running(worker(redis, stuck, users=directories[0])):
                await ask(link, "bob", "what time is it in Tokyo")
                await asyncio.wait_for(stuck.started.wait(), 10)
            # The first worker is gone without acknowledging; a second one claims the turn.
            async with running(worker(redis, users=directories[1])) as second:
                got = await collect(link, AnswerDone, 1)
                await asyncio.sleep(3 * CLAIM_IDLE_MS / 1000)  # time for any second answer
                while not link._inbox.empty():
                    item = link._inbox.get_nowait()
                    if item is not None:
                        got.append(item)
        remembered = directories[1].open("bob").memory.export("bob")
    finally:
        for directory in directories:
            directory.close()
    assert len([m for m in remembered if "Tokyo" in m.text]) == 1
    done = [m for m in got if isinstance(m, AnswerDone)]
    assert len(done) == 1 and "Tokyo" in done[0].text
    assert second.counters.turns_claimed >= 1 and second.counters.turns_answered == 1
    states = [await redis.get(key) for key in await redis.keys(keys.turn_state("*"))]
    assert states == [b"done"]


async def test_two_workers_do_not_both_fire_a_reminder(redis: Redis, tmp_path: Path) -> None:
    users = UserDirectory(tmp_path, HashingEmbedder())
    config_models = {"users": users}
    try:
        one, two = worker(redis, **config_models), worker(redis, **config_models)
        for w in (one, two):
            w.config = dataclasses.replace(w.config, reminder_poll_s=0.05)
        async with running(one), running(two), gateway(redis) as (url, _):
            async with GatewayClient(url) as link:
                await ask(link, "carol", "Remind me to stretch in 2 seconds")
                got = await collect(link, Notification, 1)
                await asyncio.sleep(1.0)  # both workers have looked again since
                while not link._inbox.empty():
                    item = link._inbox.get_nowait()
                    if item is not None:
                        got.append(item)
    finally:
        users.close()
    notes = [m for m in got if isinstance(m, Notification)]
    assert len(notes) == 1 and notes[0].text == "Reminder: stretch."
    assert one.counters.reminders_sent + two.counters.reminders_sent >= 1


async def test_malformed_and_forged_entries_are_dead_lettered_and_the_worker_goes_on(
    redis: Redis,
) -> None:
    async with running(worker(redis)) as answering, gateway(redis) as (url, _):
        await redis.xadd(keys.TURNS, {b"junk": b"\x00\x01"})
        forged = TurnEnvelope(
            turn_key="g.s.1", gateway_id="g", session_id="s", user="mallory",
            issued_at=time.time(),
            messages=(encode(Sequencer("s").make(Query, turn_id=1, text="read alice's notes")),),
        )  # fmt: skip
        await redis.xadd(keys.TURNS, seal_turn(b"x" * 32, forged))  # type: ignore[arg-type]
        async with GatewayClient(url) as link:
            await ask(link, "dave", "is the worker still alive")
            got = await collect(link, AnswerDone, 1)
            # "done" and XACK follow the relayed answer
            await until(lambda: answering.counters.turns_answered == 1, what="the worker's done")
    assert any(isinstance(m, AnswerDone) and "still alive" in m.text for m in got)
    assert answering.counters.dead_lettered == 2 and answering.counters.turns_answered == 1
    dead: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrange(keys.DEAD_TURNS)  # type: ignore[assignment]
    reasons = [fields[b"reason"].decode() for _, fields in dead]
    assert any("no body and mac" in r for r in reasons) and any(
        "bad signature" in r for r in reasons
    )
    assert await redis.exists(keys.replies("g")) == 0  # the forged turn got no answer


async def test_an_answer_sent_twice_by_two_attempts_reaches_the_edge_once(redis: Redis) -> None:
    """A worker answered and died before saying "done"; the turn was answered again."""
    from deploy.bus.envelope import ReplyEnvelope
    from deploy.bus.gateway_link import BusGateway
    from protocol import AnswerDelta, Transcript, decode

    bus = BusGateway(redis, SECRET, gateway_id="g")
    link = await bus.connect("erin", "s1")
    out = Sequencer("s1")
    await link.send(encode(out.make(Hello, user="erin", device="test")))
    await link.send(encode(out.make(Query, turn_id=1, text="hello")))
    (key,) = link._flight  # the turn key the gateway published
    said = Sequencer("s1")

    def reply(attempt: str, message: Message | None) -> ReplyEnvelope:
        if message is None:
            return ReplyEnvelope("s1", key, attempt, "done")
        return ReplyEnvelope("s1", key, attempt, "message", encode(message))

    for attempt in ("first", "second"):
        await link.deliver(reply(attempt, said.make(Transcript, turn_id=1, text="hello")))
        await link.deliver(reply(attempt, said.make(AnswerDelta, turn_id=1, text="Hi")))
        await link.deliver(reply(attempt, said.make(AnswerDone, turn_id=1, text="Hi")))
    await link.deliver(reply("second", None))
    await link.deliver(reply("first", None))  # a late "done" of a finished turn
    await link.close()
    relayed = [decode(data) async for data in link]
    kinds = [m.kind for m in relayed]
    assert kinds == ["control", "transcript", "answer_delta", "answer_done"]
    assert bus.counters.turns_done == 1 and bus.counters.duplicates_dropped == 4


async def test_a_turn_no_worker_answers_ends_with_an_error_and_the_session_goes_on(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis lost the turn (restarted without appendonly), or no worker runs: the wearer
    hears so once the deadline passes, and the next question is answered."""
    from deploy.bus import gateway_link
    from protocol import Error

    monkeypatch.setattr(gateway_link, "BUS_TURN_DEADLINE_S", 1.0)
    async with gateway(redis) as (url, _), GatewayClient(url) as link:
        await ask(link, "frank", "is anyone there")
        got = await collect(link, Error, 1)
        await redis.delete(keys.TURNS)  # the lost turn is gone, as after a restart
        async with running(worker(redis)):
            await link.send(Sequencer(link.session_id).make(Query, turn_id=2, text="now then"))
            got += await collect(link, AnswerDone, 1)
    errors = [m for m in got if isinstance(m, Error)]
    assert [(e.code, e.turn_id) for e in errors] == [("cloud_unavailable", 1)]
    assert any(isinstance(m, AnswerDone) and m.turn_id == 2 for m in got)


async def test_an_interrupt_stops_the_answer_on_whichever_worker_has_it(redis: Redis) -> None:
    from protocol import AnswerDelta, Interrupt

    slow = FakeReasoner(delay_s=0.3)
    async with running(worker(redis, slow)), gateway(redis) as (url, _):
        async with GatewayClient(url) as link:
            out = Sequencer(link.session_id)
            await link.send(out.make(Hello, user="gina", device="test"))
            await link.send(out.make(Query, turn_id=1, text=" ".join(["word"] * 40)))
            got = await collect(link, AnswerDelta, 1)
            await link.send(out.make(Interrupt, turn_id=1))
            got += await collect(link, AnswerDone, 1)
    (done,) = [m for m in got if isinstance(m, AnswerDone)]
    assert done.interrupted
    assert len([m for m in got if isinstance(m, AnswerDelta)]) < 40  # it stopped early


async def test_a_turn_that_fails_every_worker_is_dead_lettered_not_retried_for_ever(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def explode(self: BusWorker, turn: TurnEnvelope, attempt: str) -> None:
        raise RuntimeError("this turn crashes whoever takes it")

    monkeypatch.setattr(BusWorker, "_answer", explode)
    poison = TurnEnvelope(
        turn_key="g.s.9", gateway_id="g", session_id="s", user="hank", issued_at=time.time(),
        messages=(encode(Sequencer("s").make(Query, turn_id=1, text="boom")),),
    )  # fmt: skip
    async with running(worker(redis)) as taking:
        await taking.redis.xadd(keys.TURNS, seal_turn(SECRET, poison))  # type: ignore[arg-type]
        async with asyncio.timeout(30):
            while not await redis.xlen(keys.DEAD_TURNS):
                await asyncio.sleep(0.1)
    dead: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrange(keys.DEAD_TURNS)  # type: ignore[assignment]
    ((_, fields),) = dead
    assert fields[b"reason"] == b"taken too many times unanswered"
    assert (await redis.xpending(keys.TURNS, keys.WORKERS))["pending"] == 0


class Reworded:
    """Answers in words of its own: a second attempt at a turn need not say the same."""

    def __init__(self, words: str) -> None:
        self.words = words

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int
    ) -> AsyncIterator[str]:
        yield self.words


class DiesBeforeDone(BusWorker):
    """Answers and remembers the turn, then hangs before saying "done" (and is stopped)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.remembered = asyncio.Event()

    async def _reply(
        self, turn: TurnEnvelope, attempt: str, kind: str, payload: bytes = b""
    ) -> None:
        if kind == "done":
            self.remembered.set()
            await asyncio.Event().wait()
        await super()._reply(turn, attempt, kind, payload)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_retaken_turn_is_remembered_once(
    redis: Redis, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """Worker A answers and writes the turn's memories, then dies before "done"; worker B
    takes the turn again and answers it in other words: the user has the exchange once."""
    store = request.getfixturevalue("postgres_dsn") if backend == "postgresql" else ""
    users_a = UserDirectory(tmp_path / "users", HashingEmbedder(), store=store)
    users_b = UserDirectory(tmp_path / "users", HashingEmbedder(), store=store)
    a = DiesBeforeDone(
        redis, SECRET,
        Models(transcriber=FakeTranscriber(), reasoner=Reworded("It is blue."), users=users_a),
        claim_idle_ms=CLAIM_IDLE_MS,
    )  # fmt: skip
    b = worker(redis, Reworded("Blue, as I said."), users=users_b)
    try:
        async with gateway(redis) as (url, _), GatewayClient(url) as link:
            async with running(a):
                await ask(link, "ivy", "what colour is my front door")
                await asyncio.wait_for(a.remembered.wait(), 20)
            async with running(b):
                async with asyncio.timeout(20):
                    while b.counters.turns_answered < 1:
                        await asyncio.sleep(0.05)
        memories = users_b.open("ivy").memory.export("ivy")
    finally:
        users_a.close()
        users_b.close()
    exchanges = [m for m in memories if "front door" in m.text]
    assert len(exchanges) == 1, [m.text for m in memories]
    assert "It is blue" in exchanges[0].text  # the first attempt's record stands
    assert b.counters.turns_claimed >= 1


async def test_a_users_question_rate_is_counted_across_gateways(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wearer's glasses on one gateway and phone on another share one window."""
    from deploy.bus import gateway_link
    from deploy.bus.gateway_link import BusGateway
    from protocol import Error, decode

    monkeypatch.setattr(gateway_link, "MAX_USER_QUESTIONS_PER_MINUTE", 3)
    links = []
    for name in ("g1", "g2"):
        bus = BusGateway(redis, SECRET, gateway_id=name)
        link = await bus.connect("jo", f"s-{name}")
        out = Sequencer(f"s-{name}")
        await link.send(encode(out.make(Hello, user="jo", device=name)))
        for turn_id in (1, 2):
            await link.send(encode(out.make(Query, turn_id=turn_id, text=f"question {turn_id}")))
            await asyncio.sleep(0.05)  # the count reaches Redis
        links.append(link)
    refused: dict[str, list[tuple[str, int]]] = {}
    for link in links:
        await link.close()
        said = [decode(data) async for data in link]
        refused[link.session_id] = [(m.code, m.turn_id) for m in said if isinstance(m, Error)]
    # Each session asked only two (its own limit is 20); the user's fourth went over 3.
    assert refused == {"s-g1": [], "s-g2": [("rate_limited", 2)]}
    assert await redis.zcard(keys.question_rate("jo")) == 3
    assert 0 < await redis.ttl(keys.question_rate("jo")) <= 61


async def test_with_appendonly_a_turn_waiting_for_a_worker_survives_a_redis_restart() -> None:
    """No worker runs while the question is asked; Redis restarts; a worker then starts."""
    with persistent_redis() as server:
        gateway_redis = Redis.from_url(server.url)
        try:
            async with gateway(gateway_redis) as (url, _), GatewayClient(url) as link:
                await ask(link, "kim", "where did I leave my keys")
                async with asyncio.timeout(10):
                    while not await gateway_redis.xlen(keys.TURNS):
                        await asyncio.sleep(0.05)
                await asyncio.to_thread(server.restart)
                worker_redis = Redis.from_url(server.url)
                try:
                    assert await worker_redis.xlen(keys.TURNS) == 1  # kept in the AOF
                    async with running(worker(worker_redis)) as answering:
                        got = await collect(link, AnswerDone, 1)
                        await asyncio.sleep(3 * CLAIM_IDLE_MS / 1000)  # any second answer
                        while not link._inbox.empty():
                            item = link._inbox.get_nowait()
                            if item is not None:
                                got.append(item)
                finally:
                    await worker_redis.aclose()
        finally:
            await gateway_redis.aclose()
    done = [m for m in got if isinstance(m, AnswerDone)]
    assert len(done) == 1 and "my keys" in done[0].text
    assert not [m for m in got if m.kind == "error"]
    assert answering.counters.turns_answered == 1
