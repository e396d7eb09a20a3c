"""Network faults: the pure, seeded model, and the link layer that applies it."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, ClassVar, Self

import pytest

from edge.client import GatewayClient
from protocol import Hello, Message, Query, Transcript
from simulators.network_faults import (
    MAX_RETRANSMISSIONS,
    FaultModel,
    FaultyLink,
    NetworkFaults,
    faulty_connect,
)


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
    async with FaultyLink("memory://", faults, connect=MemoryLink) as link:
        for turn in range(1, 11):
            await link.send(_query(link.session_id, turn))
        heard = [(await _next_transcript(link)).turn_id for _ in range(10)]
    assert heard == list(range(1, 11))
    assert link.bytes_sent == 100 and link.messages_sent == 10
    assert link.closed.is_set()


async def test_a_drop_reconnects_resends_hello_and_renames_the_session() -> None:
    MemoryLink.opened.clear()
    faults = NetworkFaults(drop_at_s=0.05, reconnect_ms=50)
    async with FaultyLink("memory://", faults, connect=MemoryLink) as link:
        first_id = link.session_id
        hello = Hello(session_id=first_id, seq=0, sent_at=0.0, user="alice", device="test")
        await link.send(hello)
        await link.send(_query(first_id, 1))
        assert (await _next_transcript(link)).turn_id == 1
        while link.reconnects == 0:
            await asyncio.sleep(0.01)
        await link.send(_query(first_id, 2))  # the session still stamps the old id
        assert (await _next_transcript(link)).turn_id == 2
        assert not link.closed.is_set()
    old, new = MemoryLink.opened
    assert old.closed.is_set() and new.session_id != first_id
    assert isinstance(new.sent[0], Hello) and new.sent[0].user == "alice"
    assert new.sent[0].session_id == new.session_id
    assert [m.session_id for m in new.sent] == [new.session_id] * 2
    assert link.bytes_sent == 40


async def test_the_far_side_closing_closes_the_link() -> None:
    MemoryLink.opened.clear()
    async with FaultyLink("memory://", NetworkFaults(delay_ms=1), connect=MemoryLink) as link:
        await MemoryLink.opened[0].__aexit__(None, None, None)
        assert [m async for m in link] == []
        assert link.closed.is_set()


def test_a_perfect_network_uses_the_plain_client() -> None:
    assert isinstance(faulty_connect(NetworkFaults())("http://127.0.0.1:9"), GatewayClient)
    assert isinstance(faulty_connect(NetworkFaults(delay_ms=1))("http://127.0.0.1:9"), FaultyLink)
