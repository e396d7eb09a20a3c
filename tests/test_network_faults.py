"""Network faults (the pure, seeded model and the link layer that applies it) and the
edge's recovery from a drop: reconnect, Hello again, resend the unanswered turns."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, ClassVar, Self

import pytest

from edge.errors import EdgeError
from edge.link.client import GatewayClient, GatewayUnreachable
from edge.link.pending_turns import PendingTurns
from edge.link.resuming import ResumingLink
from protocol import AnswerDone, Error, Hello, Message, Query, Transcript
from simulators.network_faults import (
    MAX_RETRANSMISSIONS,
    FaultModel,
    FaultyLink,
    FaultyNetwork,
    NetworkFaults,
    faulty_connect,
)
from tests.waiting import until


def test_a_perfect_link_delivers_at_once() -> None:
    model = FaultModel(NetworkFaults())
    assert [model.arrival("up", t) for t in (0.0, 0.5, 1.0)] == [0.0, 0.5, 1.0]
    assert NetworkFaults().perfect


def test_delay_adds_to_every_message_both_ways() -> None:
    model = FaultModel(NetworkFaults(delay_ms=150))
    assert model.arrival("up", 1.0) == pytest.approx(1.15)
    assert model.arrival("down", 2.0) == pytest.approx(2.15)


def test_the_same_seed_gives_the_same_losses() -> None:
    faults = NetworkFaults(delay_ms=20, loss=0.3, seed=11)
    first, second = FaultModel(faults), FaultModel(faults)
    times = [i * 0.01 for i in range(200)]
    assert [first.arrival("up", t) for t in times] == [second.arrival("up", t) for t in times]
    other = FaultModel(NetworkFaults(delay_ms=20, loss=0.3, seed=12))
    assert [other.arrival("up", t) for t in times] != [first.arrival("up", t) for t in times]


def test_loss_costs_retransmissions_at_the_expected_rate() -> None:
    model = FaultModel(NetworkFaults(loss=0.2, retransmit_ms=100, seed=3))
    for i in range(5000):
        model.arrival("up", i * 10.0)  # far apart: no head-of-line blocking
    # Geometric: loss / (1 - loss) = 0.25 retransmissions per message.
    assert 0.2 < model.retransmissions / 5000 < 0.3


def test_a_message_never_overtakes_the_one_before_it() -> None:
    model = FaultModel(NetworkFaults(delay_ms=10, loss=0.5, retransmit_ms=200, seed=5))
    arrivals = [model.arrival("up", i * 0.001) for i in range(500)]
    assert arrivals == sorted(arrivals)
    assert max(arrivals) > 0.5  # some were held up behind a retransmission


def test_retransmissions_are_bounded_even_at_high_loss() -> None:
    model = FaultModel(NetworkFaults(loss=0.99, retransmit_ms=100, seed=1))
    assert model.arrival("down", 0.0) <= MAX_RETRANSMISSIONS * 0.1 + 1e-9


def test_messages_in_flight_at_the_drop_are_lost_and_later_ones_are_not() -> None:
    model = FaultModel(NetworkFaults(delay_ms=100, drop_at_s=2.0, reconnect_ms=500))
    assert model.outage() == (2.0, 2.5)
    assert not model.lost_in_drop(1.0, 1.1)  # delivered before the drop
    assert model.lost_in_drop(1.95, 2.05)  # on the wire when it dropped
    assert model.lost_in_drop(2.2, 2.3)  # sent while the link was down
    assert not model.lost_in_drop(2.6, 2.7)  # after the reconnect
    assert not FaultModel(NetworkFaults()).lost_in_drop(1.0, 1000.0)


@pytest.mark.parametrize(
    "faults",
    [{"delay_ms": -1}, {"loss": 1.0}, {"loss": -0.1}, {"drop_at_s": -2}],
)
def test_impossible_faults_are_refused(faults: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        NetworkFaults(**faults)


class MemoryLink:
    """An in-memory gateway connection: records what is sent, replies on demand."""

    opened: ClassVar[list[MemoryLink]] = []
    ids = itertools.count(1)

    def __init__(self, url: str) -> None:
        self.session_id = f"s{next(self.ids)}"
        self.sent: list[Message] = []
        self.bytes_sent = 0
        self.messages_sent = 0
        self.closed = asyncio.Event()
        self._inbox: asyncio.Queue[Message | None] = asyncio.Queue()

    async def __aenter__(self) -> Self:
        MemoryLink.opened.append(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.closed.set()
        self._inbox.put_nowait(None)

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        self.bytes_sent += 10
        self.messages_sent += 1
        if isinstance(message, Query):  # the far side answers each question
            self._inbox.put_nowait(
                Transcript(
                    session_id=self.session_id,
                    seq=0,
                    sent_at=0.0,
                    turn_id=message.turn_id,
                    text=message.text,
                )
            )

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[Message]:
        while (message := await self._inbox.get()) is not None:
            yield message


def _query(session: str, turn: int) -> Query:
    return Query(session_id=session, seq=turn, sent_at=0.0, turn_id=turn, text=f"q{turn}")


async def _next_transcript(link: FaultyLink) -> Transcript:
    async for message in link:
        assert isinstance(message, Transcript)
        return message
    raise AssertionError("the link closed")


async def test_delayed_lossy_link_still_delivers_everything_in_order() -> None:
    MemoryLink.opened.clear()
    faults = NetworkFaults(delay_ms=5, loss=0.3, retransmit_ms=5, seed=2)
    async with FaultyNetwork(faults, connect=MemoryLink).connect("memory://") as link:
        for turn in range(1, 11):
            await link.send(_query(link.session_id, turn))
        heard = [(await _next_transcript(link)).turn_id for _ in range(10)]
    assert heard == list(range(1, 11))
    assert link.bytes_sent == 100 and link.messages_sent == 10
    assert link.closed.is_set()


async def test_a_drop_closes_the_link_and_the_network_stays_down_for_a_while() -> None:
    MemoryLink.opened.clear()
    network = FaultyNetwork(NetworkFaults(drop_at_s=0.05, reconnect_ms=100), connect=MemoryLink)
    async with network.connect("memory://") as link:
        await link.send(_query(link.session_id, 1))
        assert (await _next_transcript(link)).turn_id == 1
        async with asyncio.timeout(5):
            await link.closed.wait()
        assert [m async for m in link] == []
        with pytest.raises(EdgeError):
            await link.send(_query(link.session_id, 2))
        with pytest.raises(GatewayUnreachable):
            await network.connect("memory://").__aenter__()  # still down
        await until(lambda: not network.is_down())
        async with network.connect("memory://") as again:  # back up: and no second drop
            await asyncio.sleep(0.1)  # time passing on the new link is the scenario: it holds
            await again.send(_query(again.session_id, 2))
            assert (await _next_transcript(again)).turn_id == 2
    assert MemoryLink.opened[0].closed.is_set() and len(MemoryLink.opened) == 2


async def test_the_far_side_closing_closes_the_link() -> None:
    MemoryLink.opened.clear()
    network = FaultyNetwork(NetworkFaults(delay_ms=1), connect=MemoryLink)
    async with network.connect("memory://") as link:
        await MemoryLink.opened[0].__aexit__(None, None, None)
        assert [m async for m in link] == []
        assert link.closed.is_set()


def test_a_perfect_network_uses_the_plain_client() -> None:
    assert faulty_connect(NetworkFaults()) is GatewayClient
    assert isinstance(faulty_connect(NetworkFaults(delay_ms=1))("http://127.0.0.1:9"), FaultyLink)


class AnsweringLink(MemoryLink):
    """A gateway that answers each question `answer_after_s` later, unless the link is gone."""

    answer_after_s = 0.2

    async def send(self, message: Message) -> None:
        await super().send(message)
        if isinstance(message, Query):
            asyncio.get_running_loop().call_later(self.answer_after_s, self._answer, message)

    def _answer(self, query: Query) -> None:
        if not self.closed.is_set():
            self._inbox.put_nowait(
                AnswerDone(
                    session_id=self.session_id,
                    seq=0,
                    sent_at=0.0,
                    turn_id=query.turn_id,
                    text=f"answer to {query.text}",
                    mode="fast",
                )
            )


async def test_the_edge_reconnects_after_a_drop_and_resends_its_unanswered_turn() -> None:
    MemoryLink.opened.clear()
    network = FaultyNetwork(NetworkFaults(drop_at_s=0.1, reconnect_ms=200), connect=AnsweringLink)
    answers: list[AnswerDone] = []
    async with ResumingLink("memory://", network.connect, backoff_s=(0.05,)) as link:
        first_id = link.session_id
        await link.send(Hello(session_id=first_id, seq=1, sent_at=0.0, user="alice", device="t"))
        await link.send(_query(first_id, 2))  # answered before the drop would come at 0.2 s…
        await until(network.is_down)  # …but the link dropped at 0.1 s and is down until 0.3 s
        await link.send(_query(first_id, 3))  # asked while reconnecting
        async with asyncio.timeout(5):
            async for message in link:
                if isinstance(message, AnswerDone):
                    answers.append(message)
                    if len(answers) == 2:
                        break
    assert sorted(a.turn_id for a in answers) == [2, 3]
    assert link.reconnects == 1 and not link.pending.unanswered
    old, new = MemoryLink.opened
    assert old.closed.is_set()
    assert isinstance(new.sent[0], Hello) and new.sent[0].user == "alice"
    assert {m.session_id for m in new.sent} == {new.session_id} != {first_id}
    assert [m.turn_id for m in new.sent if isinstance(m, Query)].count(2) == 1


async def test_the_edge_gives_up_when_the_gateway_never_comes_back() -> None:
    MemoryLink.opened.clear()
    network = FaultyNetwork(NetworkFaults(drop_at_s=0.05, reconnect_ms=60_000), connect=MemoryLink)
    async with ResumingLink(
        "memory://", network.connect, reconnect_for_s=0.3, backoff_s=(0.05,)
    ) as link:
        await link.send(_query(link.session_id, 1))
        async with asyncio.timeout(5):
            await link.closed.wait()
        assert link.reconnects == 0
        assert link.pending.unanswered == (1,)  # kept: nothing answered it


def test_a_turn_is_forgotten_once_answered_and_resent_in_order_otherwise() -> None:
    pending = PendingTurns()
    pending.sent(Hello(session_id="a", seq=1, sent_at=0.0, user="u", device="d"))
    for seq, turn in ((2, 1), (3, 2), (4, 1)):
        pending.sent(Query(session_id="a", seq=seq, sent_at=0.0, turn_id=turn, text="q"))
    pending.received(Transcript(session_id="a", seq=1, sent_at=0.0, turn_id=2, text="heard"))
    assert pending.unanswered == (1, 2)  # a transcript is not the end of a turn
    pending.received(
        AnswerDone(session_id="a", seq=2, sent_at=0.0, turn_id=2, text="x", mode="fast")
    )
    pending.received(Transcript(session_id="a", seq=3, sent_at=0.0, turn_id=1, text=" "))
    assert pending.unanswered == ()  # an empty transcript ends a turn with nothing said
    pending.sent(Query(session_id="a", seq=5, sent_at=0.0, turn_id=1, text="late"))
    assert pending.unanswered == ()  # a finished turn stays finished
    pending.sent(Query(session_id="a", seq=6, sent_at=0.0, turn_id=3, text="open"))
    pending.received(Error(session_id="a", seq=4, sent_at=0.0, code="x", message="y"))
    resent = pending.resume("b")
    assert [(type(m).__name__, m.seq) for m in resent] == [("Hello", 1), ("Query", 6)]
    assert {m.session_id for m in resent} == {"b"}
