"""An in-memory BLE link with a radio you can make as bad as you like, repeatably.

`LoopbackLink` is the central's side (a `GlassesLink`); its `peripheral` is
the glasses' side, where `simulators.virtual_glasses` serves characteristics
and sends notifications. Between them `LinkConditions` models what a real
link does to notifications: limited throughput (the sender waits for airtime,
as the firmware waits for free TX buffers), latency, loss, duplicates,
reordering, blackouts and a dropped connection. Every random choice comes
from one seeded generator, in the order notifications are sent, so a test
sees the same damage on every run.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from firmware_bridge.errors import LinkError
from firmware_bridge.omi_protocol import max_notification_bytes, normalize_uuid
from firmware_bridge.transport import Notification, NotificationStream

WriteHandler = Callable[[str, bytes], None]


@dataclass(frozen=True, slots=True)
class LinkConditions:
    """What the simulated radio does. Times are seconds from the moment of connecting."""

    throughput_bytes_per_s: float | None = None
    """Notification bytes (value + 3-byte ATT header) per second; None: unlimited."""
    latency_s: float = 0.0
    loss_probability: float = 0.0
    duplicate_probability: float = 0.0
    reorder_probability: float = 0.0
    """Chance a notification is overtaken by the next 1..`max_reorder` ones."""
    max_reorder: int = 3
    max_reorder_hold_s: float = 0.05
    """A held notification goes anyway after this long, if too few others came to overtake it."""
    blackouts: tuple[tuple[float, float], ...] = ()
    """(start, end) intervals in which every notification sent is lost."""
    disconnect_after_s: float | None = None
    seed: int = 0


@dataclass(slots=True)
class LinkStats:
    sent: int = 0
    delivered: int = 0
    lost: int = 0
    blacked_out: int = 0
    duplicated: int = 0
    reordered: int = 0
    bytes_sent: int = 0


@dataclass(slots=True, eq=False)
class _Held:
    notification: Notification
    overtakers_left: int


@dataclass(slots=True)
class LoopbackPeripheral:
    """The glasses' end: a GATT table, a write handler, and `notify()` into the radio."""

    link: LoopbackLink
    values: dict[str, bytes] = field(default_factory=dict)
    on_write: WriteHandler | None = None

    def serve(self, values: dict[str, bytes], on_write: WriteHandler | None = None) -> None:
        """Publish characteristics (UUID → current value) and whom to tell about writes."""
        self.values = {normalize_uuid(uuid): value for uuid, value in values.items()}
        self.on_write = on_write

    def set_value(self, uuid: str, value: bytes) -> None:
        self.values[normalize_uuid(uuid)] = value

    @property
    def is_connected(self) -> bool:
        return self.link.is_connected

    def is_subscribed(self, uuid: str) -> bool:
        return self.link.is_connected and normalize_uuid(uuid) in self.link.subscribed

    async def wait_subscribed(self, uuid: str) -> None:
        """Until the central asks for these notifications (firmware sends nothing before)."""
        while not self.is_subscribed(uuid):
            await self.link.state_changed()

    async def wait_disconnected(self) -> None:
        while self.link.is_connected:
            await self.link.state_changed()

    async def notify(self, uuid: str, data: bytes) -> bool:
        """Send one notification through the radio; False if nobody was listening."""
        return await self.link.carry(normalize_uuid(uuid), data)

    async def drop(self) -> None:
        """The radio link dies (out of range, battery pulled)."""
        self.link.drop()


class LoopbackLink:
    """The central's end of an in-memory link: implements `GlassesLink`."""

    def __init__(self, conditions: LinkConditions | None = None, *, mtu: int = 247) -> None:
        self.conditions = conditions or LinkConditions()
        self._mtu = mtu
        self._max_value = max_notification_bytes(mtu)
        self.peripheral = LoopbackPeripheral(self)
        self.stats = LinkStats()
        self.subscribed: set[str] = set()
        self._rng = random.Random(self.conditions.seed)
        self._connected = False
        self._connected_at = 0.0
        self._busy_until = 0.0
        self._held: list[_Held] = []
        self._stream = NotificationStream()
        self._changed = asyncio.Event()
        self._drop_timer: asyncio.TimerHandle | None = None

    @property
    def is_connected(self) -> bool:
        return self._connected

    @property
    def mtu(self) -> int:
        return self._mtu

    async def __aenter__(self) -> LoopbackLink:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.disconnect()

    async def connect(self) -> None:
        if self._connected:
            return
        loop = asyncio.get_running_loop()
        self._connected = True
        self._connected_at = loop.time()
        self._busy_until = self._connected_at
        self._stream = NotificationStream()
        self.subscribed = set()
        self._held = []
        if self.conditions.disconnect_after_s is not None:
            self._drop_timer = loop.call_later(self.conditions.disconnect_after_s, self.drop)
        self._signal()

    async def disconnect(self) -> None:
        self.drop()

    def drop(self) -> None:
        """Both ends see the link go down; what is in flight is lost."""
        if not self._connected:
            return
        self._connected = False
        if self._drop_timer is not None:
            self._drop_timer.cancel()
            self._drop_timer = None
        self._held = []
        self._stream.close()
        self._signal()

    async def start_notify(self, uuid: str) -> None:
        uuid = normalize_uuid(uuid)
        self._require(uuid)
        await self._round_trip()
        self.subscribed.add(uuid)
        self._signal()

    def notifications(self) -> AsyncIterator[Notification]:
        return self._stream

    async def read(self, uuid: str) -> bytes:
        uuid = normalize_uuid(uuid)
        self._require(uuid)
        await self._round_trip()
        self._require(uuid)
        return self.peripheral.values[uuid]

    async def write(self, uuid: str, data: bytes, *, with_response: bool = True) -> None:
        uuid = normalize_uuid(uuid)
        self._require(uuid)
        await asyncio.sleep(self.conditions.latency_s)
        self._require(uuid)
        if self.peripheral.on_write is not None:
            self.peripheral.on_write(uuid, bytes(data))
        if with_response:
            await asyncio.sleep(self.conditions.latency_s)

    async def state_changed(self) -> None:
        """Until the next connect, subscribe or drop."""
        await self._changed.wait()

    def _signal(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _require(self, uuid: str) -> None:
        if not self._connected:
            raise LinkError("the loopback link is not connected; connect() first")
        if uuid not in self.peripheral.values:
            raise LinkError(f"the glasses have no characteristic {uuid}")

    async def _round_trip(self) -> None:
        await asyncio.sleep(2 * self.conditions.latency_s)

    # --- the radio --------------------------------------------------------------------------

    async def carry(self, uuid: str, data: bytes) -> bool:
        """Airtime, then loss, duplication, reordering and latency, then the central's queue."""
        if len(data) > self._max_value:
            raise ValueError(
                f"a {len(data)}-byte notification does not fit MTU {self._mtu} "
                f"(at most {self._max_value} bytes)"
            )
        if not self._connected or uuid not in self.subscribed:
            await asyncio.sleep(0)
            return False
        loop = asyncio.get_running_loop()
        rate = self.conditions.throughput_bytes_per_s
        if rate:
            start = max(loop.time(), self._busy_until)
            self._busy_until = start + (len(data) + 3) / rate
            await asyncio.sleep(self._busy_until - loop.time())
        else:
            await asyncio.sleep(0)
        if not self._connected:
            return False
        self.stats.sent += 1
        self.stats.bytes_sent += len(data)
        sent_at = loop.time()
        lost = self._rng.random() < self.conditions.loss_probability
        duplicated = self._rng.random() < self.conditions.duplicate_probability
        reordered = self._rng.random() < self.conditions.reorder_probability
        overtakers = self._rng.randint(1, max(1, self.conditions.max_reorder))
        if self._in_blackout(sent_at - self._connected_at):
            self.stats.blacked_out += 1
            return True
        if lost:
            self.stats.lost += 1
            return True
        notification = Notification(uuid, bytes(data), sent_at)
        copies = [notification, notification] if duplicated else [notification]
        self.stats.duplicated += int(duplicated)
        if reordered:
            self.stats.reordered += 1
            held = _Held(copies.pop(0), overtakers)
            self._held.append(held)
            due = sent_at + self.conditions.latency_s + self.conditions.max_reorder_hold_s
            loop.call_at(due, self._release, held)
        for copy in copies:
            self._schedule(copy, sent_at)
        return True

    def _schedule(self, notification: Notification, sent_at: float) -> None:
        """Deliver after the latency; held notifications go once enough others overtook them."""
        loop = asyncio.get_running_loop()
        due = sent_at + self.conditions.latency_s
        loop.call_at(due, self._deliver, notification)
        released = []
        for held in self._held:
            held.overtakers_left -= 1
            if held.overtakers_left <= 0:
                released.append(held)
        for held in released:
            self._held.remove(held)
            loop.call_at(due, self._deliver, held.notification)

    def _release(self, held: _Held) -> None:
        if held in self._held:
            self._held.remove(held)
            self._deliver(held.notification)

    def _deliver(self, notification: Notification) -> None:
        if not self._connected:
            return
        self.stats.delivered += 1
        loop = asyncio.get_running_loop()
        self._stream.put(Notification(notification.uuid, notification.data, loop.time()))

    def _in_blackout(self, since_connect: float) -> bool:
        return any(start <= since_connect < end for start, end in self.conditions.blackouts)
