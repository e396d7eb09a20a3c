"""Network faults between the edge and the gateway: delay, loss, a drop and a reconnect.

The data channel is reliable and ordered (SCTP), so a lost packet is not a
lost message: the sender retransmits and everything behind it waits. The
model says so: each transmission is lost with probability `loss`, each loss
costs a retransmission timeout, and a message never overtakes the one before
it (head-of-line blocking). A drop is different: the connection goes away at
`drop_at_s` (seconds after the first link opened), whatever was in flight is
gone, and for `reconnect_ms` no new connection can be made. Reconnecting (a
new gateway session, the Hello and the unanswered turns sent again) is the
edge's own job, edge/link/resuming.py, so the simulator tests the product's
recovery rather than doing it for it.

`FaultModel` is pure and seeded (times in, arrival times out), so a scenario
gives the same faults on every run; `FaultyNetwork` and its `FaultyLink`s are
the thin asyncio layer that applies it around a real `GatewayClient`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

from edge.errors import EdgeError
from edge.link.client import GatewayClient, GatewayUnreachable
from edge.link.interface import Connect, Link
from protocol import Message

Direction = Literal["up", "down"]

# A message lost this many times in a row is delivered anyway: the channel
# is reliable, and the bound keeps a high loss rate from stalling forever.
MAX_RETRANSMISSIONS = 8


@dataclass(frozen=True, kw_only=True)
class NetworkFaults:
    """What a scenario step asks of the network; all zero is a perfect link."""

    delay_ms: float = 0.0
    loss: float = 0.0
    drop_at_s: float | None = None
    seed: int = 0
    retransmit_ms: float = 200.0
    reconnect_ms: float = 500.0

    def __post_init__(self) -> None:
        if self.delay_ms < 0:
            raise ValueError("delay_ms must be 0 or more")
        if not 0.0 <= self.loss < 1.0:
            raise ValueError("loss must be at least 0 and below 1")
        if self.drop_at_s is not None and self.drop_at_s < 0:
            raise ValueError("drop_at_s must be 0 or more")

    @property
    def perfect(self) -> bool:
        return self.delay_ms == 0 and self.loss == 0 and self.drop_at_s is None


class FaultModel:
    """Arrival times for messages on one link; no clock, no I/O."""

    def __init__(self, faults: NetworkFaults) -> None:
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._last_arrival: dict[Direction, float] = {"up": 0.0, "down": 0.0}
        self.retransmissions = 0

    def arrival(self, direction: Direction, sent_at: float) -> float:
        """When a message sent at `sent_at` (s since the link opened) reaches the far side."""
        lost = 0
        while lost < MAX_RETRANSMISSIONS and self._rng.random() < self.faults.loss:
            lost += 1
        self.retransmissions += lost
        at = sent_at + (self.faults.delay_ms + lost * self.faults.retransmit_ms) / 1000.0
        at = max(at, self._last_arrival[direction])
        self._last_arrival[direction] = at
        return at

    def outage(self) -> tuple[float, float] | None:
        """The seconds during which the link is down, if it drops."""
        if self.faults.drop_at_s is None:
            return None
        return self.faults.drop_at_s, self.faults.drop_at_s + self.faults.reconnect_ms / 1000.0

    def lost_in_drop(self, sent_at: float, arrival: float) -> bool:
        """True when the message was on the wire (or sent) while the link was down."""
        outage = self.outage()
        if outage is None:
            return False
        down, up = outage
        return sent_at < up and arrival >= down

    def reconnected(self) -> None:
        """A new connection starts empty: nothing queues behind the old one's traffic."""
        outage = self.outage()
        if outage is not None:
            for direction in self._last_arrival:
                self._last_arrival[direction] = max(self._last_arrival[direction], outage[1])


class FaultyNetwork:
    """The network of one scenario step: every link opened through it shares one
    `FaultModel` and one timeline, so the drop happens once, a connection attempt
    during the outage fails, and one after it succeeds."""

    def __init__(
        self,
        faults: NetworkFaults,
        *,
        connect: Connect = GatewayClient,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model = FaultModel(faults)
        self.connect_inner = connect
        self.clock = clock
        self.started_at: float | None = None
        self.lost_messages = 0
        self.links: list[FaultyLink] = []

    def now(self) -> float:
        """Seconds since the first link opened."""
        return 0.0 if self.started_at is None else self.clock() - self.started_at

    def is_down(self) -> bool:
        outage = self.model.outage()
        return (
            self.started_at is not None
            and outage is not None
            and outage[0] <= self.now() < outage[1]
        )

    def connect(self, gateway_url: str) -> FaultyLink:
        """A `Connect`: a link to the gateway through this network."""
        return FaultyLink(gateway_url, self)


class FaultyLink:
    """A `Link` that applies its network's faults to a real link's traffic both ways.

    At the drop the link closes, as a real connection would; reconnecting is the
    edge's job (edge/link/resuming.py), through the same network.
    """

    def __init__(self, gateway_url: str, network: FaultyNetwork) -> None:
        self._url = gateway_url
        self.network = network
        self.model = network.model
        self.closed = asyncio.Event()
        self._inner: Link | None = None
        self._upstream: asyncio.Queue[tuple[float, Message]] = asyncio.Queue()
        self._downstream: asyncio.Queue[tuple[float, Message]] = asyncio.Queue()
        self._inbox: asyncio.Queue[Message | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def session_id(self) -> str:
        return self._inner.session_id if self._inner is not None else ""

    @property
    def bytes_sent(self) -> int:
        return self._inner.bytes_sent if self._inner is not None else 0

    @property
    def messages_sent(self) -> int:
        return self._inner.messages_sent if self._inner is not None else 0

    @property
    def lost_messages(self) -> int:
        return self.network.lost_messages

    async def __aenter__(self) -> Self:
        network = self.network
        if network.is_down():
            raise GatewayUnreachable("the network is down (a simulated drop); try again")
        reconnecting = network.started_at is not None
        self._inner = await network.connect_inner(self._url).__aenter__()
        if network.started_at is None:
            network.started_at = network.clock()
        if reconnecting:
            self.model.reconnected()
        network.links.append(self)
        self._start(self._send_due())
        self._start(self._deliver_due())
        self._start(self._read(self._inner))
        outage = self.model.outage()
        if outage is not None and network.now() < outage[0]:
            self._start(self._drop(outage[0]))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._shut()

    async def _shut(self) -> None:
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        for task in self._tasks:
            if task is not current:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._inner is not None:
            await self._inner.__aexit__(None, None, None)
        self._close()

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.create_task(work))

    async def send(self, message: Message) -> None:
        if self.closed.is_set():
            raise EdgeError("the data channel is not open")
        sent_at = self.network.now()
        arrival = self.model.arrival("up", sent_at)
        if self.model.lost_in_drop(sent_at, arrival):
            self.network.lost_messages += 1
            return
        self._upstream.put_nowait((arrival, message))

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[Message]:
        while (message := await self._inbox.get()) is not None:
            yield message

    async def _wait_until(self, at: float) -> None:
        wait = at - self.network.now()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _send_due(self) -> None:
        while True:
            arrival, message = await self._upstream.get()
            await self._wait_until(arrival)
            assert self._inner is not None
            await self._inner.send(message)

    async def _read(self, inner: Link) -> None:
        async for message in inner:
            received_at = self.network.now()
            arrival = self.model.arrival("down", received_at)
            if self.model.lost_in_drop(received_at, arrival):
                self.network.lost_messages += 1
                continue
            self._downstream.put_nowait((arrival, message))
        self._close()  # the gateway went away

    async def _deliver_due(self) -> None:
        while True:
            arrival, message = await self._downstream.get()
            await self._wait_until(arrival)
            self._inbox.put_nowait(message)

    async def _drop(self, at: float) -> None:
        """The connection goes away at `at`: whatever was in flight is gone with it."""
        await self._wait_until(at)
        await self._shut()

    def _close(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self._inbox.put_nowait(None)


def faulty_connect(faults: NetworkFaults) -> Connect:
    """The `connect` an `EdgeSession` takes: every link it opens (the first and each
    reconnection) goes through one network with these faults."""
    if faults.perfect:
        return GatewayClient
    return FaultyNetwork(faults).connect
