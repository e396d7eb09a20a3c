"""A pair of glasses for the whole of an edge session: reconnects, acts on taps, reports status.

`GlassesSource` is one connection; real glasses drop out (out of range,
taken off to charge) and come back. `GlassesDevice` keeps one media stream
going across connections, on one timeline, and turns what happens to the
glasses into `DeviceStatus` messages the edge sends upstream, so the phone
app can show the battery, the link and whether the glasses are worn:

    device = GlassesDevice(BleakLink(address), name=f"omi:{address}")
    await session.run(device.media(), reporters=[device.report])

A single tap goes into the media stream as an `edge.sources.media.ButtonPress` (the
talk button, for the edge's turn-taking) and asks the glasses for a photo
(the wearer's "look at this").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Final

from edge.sources.media import AudioChunk, ButtonPress, MediaItem, VideoFrame
from firmware_bridge.errors import LinkError
from firmware_bridge.source import GlassesSource, GlassesState
from firmware_bridge.transport import GlassesLink
from protocol import DeviceStatus, Message, Sequencer

log = logging.getLogger(__name__)

MAX_PENDING_EVENTS: Final = 64
"""Status events waiting to be sent; past this the oldest go (the newest state matters)."""
DRAIN_WAIT_S: Final = 1.0
"""How long the end of the stream waits for the last status (e.g. "disconnected") to leave."""

Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DeviceSnapshot:
    """The glasses at the moment of one event: the body of a `DeviceStatus`."""

    event: str
    connection: str
    battery_percent: int
    worn: bool
    lost_audio_packets: int
    photos: int
    problem: str
    notes: bool = False


class GlassesDevice:
    """Glasses over one `GlassesLink`, reconnected after drops while `reconnect()` says so.

    `retry_s` is the first wait before reconnecting, doubled up to
    `max_retry_s`. `source_options` go to each `GlassesSource`.
    """

    def __init__(
        self,
        link: GlassesLink,
        *,
        name: str,
        reconnect: Callable[[], bool] = lambda: True,
        retry_s: float = 1.0,
        max_retry_s: float = 30.0,
        photo_on_tap: bool = True,
        clock: Callable[[], float] = time.monotonic,
        **source_options: Any,
    ) -> None:
        self.link = link
        self.name = name
        self.reconnect = reconnect
        self.retry_s = retry_s
        self.max_retry_s = max_retry_s
        self.photo_on_tap = photo_on_tap
        self.source_options = source_options
        self.source: GlassesSource | None = None
        self.connections = 0
        self.photos = 0
        self.taps = 0
        self._clock = clock
        self._lost_before = 0
        self._events: deque[DeviceSnapshot] = deque(maxlen=MAX_PENDING_EVENTS)
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._reporting = False
        self._tapped = False
        # Conversation notes are being taken: reported in every status, for the LED.
        self.notes = False

    @property
    def state(self) -> GlassesState:
        """The current (or last) connection's state."""
        return self.source.state if self.source is not None else GlassesState()

    async def media(self) -> AsyncIterator[MediaItem]:
        """Audio chunks and photos from every connection, on one timeline from the first.

        Raises `LinkError` only when the glasses could not be reached even once
        and `reconnect()` gives up; after that, drops end in a reconnect or,
        when `reconnect()` says no, in the end of the stream.
        """
        first_t0: float | None = None
        end = 0.0  # of the timeline so far: a new connection never goes back before it
        wait = self.retry_s
        try:
            while True:
                source = GlassesSource(self.link, on_event=self._on_event, **self.source_options)
                self.source = source
                try:
                    await source.start()
                except LinkError as error:
                    if not self.reconnect():
                        if first_t0 is None:
                            raise
                        break
                    self._note("reconnecting", connection="reconnecting", problem=str(error))
                    await asyncio.sleep(wait)
                    wait = min(wait * 2, self.max_retry_s)
                    continue
                self.connections += 1
                wait = self.retry_s
                first_t0 = source.connected_at if first_t0 is None else first_t0
                # Audio sent faster than real time runs ahead of the clock: continue after it.
                offset = max(source.connected_at - first_t0, end)
                async for item in source:
                    if isinstance(item, VideoFrame):
                        self.photos += 1
                    elif isinstance(item, AudioChunk):
                        end = max(end, item.t + offset + item.duration)
                    yield replace(item, t=item.t + offset) if offset else item
                    if self._tapped:
                        self._tapped = False
                        yield ButtonPress(end)  # the glasses' button is the talk button
                        if self.photo_on_tap:
                            await self._take_photo(source)
                self._lost_before += source.state.lost_audio_packets
                if not self.reconnect():
                    break
                self._note("reconnecting", connection="reconnecting")
                await asyncio.sleep(wait)
        finally:
            if self.source is not None and self.source.link.is_connected:
                await self.source.aclose()
            if self._reporting:
                try:
                    async with asyncio.timeout(DRAIN_WAIT_S):
                        await self._drained.wait()
                except TimeoutError:
                    log.warning("glasses: the last device status was not sent in time")

    async def report(self, out: Sequencer, send: Send) -> None:
        """Send a `DeviceStatus` for every event, until cancelled (an edge session reporter)."""
        self._reporting = True
        try:
            while True:
                while self._events:
                    snapshot = self._events.popleft()
                    try:
                        await send(self.status(out, snapshot))
                    except Exception as error:  # the link upstream is gone; the edge goes on
                        log.warning("glasses: could not send the device status: %s", error)
                self._drained.set()
                self._wake.clear()
                await self._wake.wait()
        finally:
            self._reporting = False
            self._drained.set()

    def status(self, out: Sequencer, snapshot: DeviceSnapshot) -> DeviceStatus:
        return out.make(
            DeviceStatus,
            device=self.name,
            connection=snapshot.connection,
            event=snapshot.event,
            battery_percent=snapshot.battery_percent,
            worn=snapshot.worn,
            lost_audio_packets=snapshot.lost_audio_packets,
            photos=snapshot.photos,
            problem=snapshot.problem,
            notes=snapshot.notes,
        )

    def set_notes(self, on: bool) -> None:
        """The wearer turned conversation notes on or off: a status says so at once, so
        glasses with an LED light it while the people nearby are being noted."""
        if on != self.notes:
            self.notes = on
            self._note("notes:on" if on else "notes:off")

    def pending(self) -> list[DeviceSnapshot]:
        """Events not yet reported (what `report` would send next)."""
        return list(self._events)

    def _on_event(self, event: str) -> None:
        if event == "button:single_tap":
            self.taps += 1
            self._tapped = True
        self._note(event)

    def _note(self, event: str, *, connection: str | None = None, problem: str = "") -> None:
        state = self.state
        snapshot = DeviceSnapshot(
            event=event,
            connection=connection or state.connection,
            battery_percent=-1 if state.battery_percent is None else state.battery_percent,
            worn=state.worn is not False,
            lost_audio_packets=self._lost_before + state.lost_audio_packets,
            photos=self.photos,
            problem=(problem or state.last_problem or "")[:500],
            notes=self.notes,
        )
        self._events.append(snapshot)
        self._drained.clear()
        self._wake.set()

    async def _take_photo(self, source: GlassesSource) -> None:
        try:
            await source.take_photo()
        except LinkError as error:
            log.warning("glasses: could not ask for a photo after the tap: %s", error)
