"""Virtual glasses → loopback radio → GlassesDevice: what happens to the glasses reaches upstream.

Each test runs the device's media stream (as the edge runtime would) beside
its status reporter (as an edge session would), and reads the DeviceStatus
messages it sent.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

import numpy as np
import pytest

from edge.sources.media import AudioChunk, ButtonPress, MediaItem, VideoFrame
from firmware_bridge.device import GlassesDevice
from firmware_bridge.loopback import LoopbackLink
from firmware_bridge.omi_protocol import ButtonEvent, CodecId
from protocol import DeviceStatus, Message, Sequencer
from simulators.virtual_glasses import VirtualGlasses


@pytest.fixture(scope="module")
def speech(speech_0870: np.ndarray) -> np.ndarray:
    return speech_0870


@pytest.fixture(scope="module")
def cat(cat_image: np.ndarray) -> np.ndarray:
    return cat_image


async def run_device(
    device: GlassesDevice, on_item: Callable[[MediaItem], object] | None = None
) -> tuple[list[MediaItem], list[DeviceStatus]]:
    """Consume the device's media to its end while its reporter sends statuses to a list."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    items: list[MediaItem] = []
    reporter = asyncio.create_task(device.report(Sequencer("s-1"), send))
    try:
        async with asyncio.timeout(60):
            async for item in device.media():
                items.append(item)
                if on_item is not None:
                    result = on_item(item)
                    if asyncio.iscoroutine(result):
                        await result
    finally:
        reporter.cancel()
    statuses = [m for m in sent if isinstance(m, DeviceStatus)]
    assert len(statuses) == len(sent)
    return items, statuses


def samples_of(items: list[MediaItem]) -> np.ndarray:
    chunks = [i.samples for i in items if isinstance(i, AudioChunk)]
    return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)


async def test_connecting_the_battery_and_the_end_are_reported_upstream(
    speech: np.ndarray,
) -> None:
    link = LoopbackLink()
    glasses = VirtualGlasses(
        link,
        audio=speech[:16000],
        codec=CodecId.MULAW_16K,
        battery_percent=73.0,
        disconnect_when_done=True,
    )
    async with glasses:
        device = GlassesDevice(link, name="virtual:test", reconnect=lambda: False)
        items, statuses = await run_device(device)
    assert samples_of(items).size == 16000
    events = [s.event for s in statuses]
    assert events[0] == "connected" and events[-1] == "disconnected"
    assert "battery" in events
    battery = next(s for s in statuses if s.event == "battery")
    assert battery.battery_percent == 73 and battery.connection == "connected"
    assert statuses[-1].connection == "disconnected"
    assert {s.device for s in statuses} == {"virtual:test"}
    assert [s.seq for s in statuses] == sorted(s.seq for s in statuses)


async def test_a_single_tap_takes_a_photo_and_is_reported(
    speech: np.ndarray, cat: np.ndarray
) -> None:
    link = LoopbackLink()
    glasses = VirtualGlasses(link, audio=speech, photos=[cat], pace_audio=True, clock_rate=8.0)
    tapped = False

    async def on_item(item: MediaItem) -> None:
        nonlocal tapped
        if isinstance(item, VideoFrame):
            await glasses.stop()  # the photo came: enough
            await glasses.drop_link()
        elif not tapped and item.t > 0.5:
            tapped = True
            await glasses.tap(ButtonEvent.SINGLE_TAP)

    async with glasses:
        device = GlassesDevice(
            link, name="virtual:tap", reconnect=lambda: False, photo_on_start=False
        )
        items, statuses = await run_device(device, on_item)
    frames = [i for i in items if isinstance(i, VideoFrame)]
    assert tapped and len(frames) == 1 and frames[0].image.shape == cat.shape
    presses = [i for i in items if isinstance(i, ButtonPress)]
    assert len(presses) == 1 and presses[0].t > 0.5
    assert device.taps == 1
    taps = [s for s in statuses if s.event == "button:single_tap"]
    assert len(taps) == 1 and taps[0].photos == 0
    assert statuses[-1].photos == 1


async def test_other_taps_are_reported_but_take_no_photo(
    speech: np.ndarray, cat: np.ndarray
) -> None:
    link = LoopbackLink()
    glasses = VirtualGlasses(
        link,
        audio=speech[:48000],
        photos=[cat],
        pace_audio=True,
        clock_rate=8.0,
        disconnect_when_done=True,
    )
    tapped = False

    async def on_item(item: MediaItem) -> None:
        nonlocal tapped
        if not tapped and item.t > 0.5:
            tapped = True
            await glasses.tap(ButtonEvent.LONG_TAP)

    async with glasses:
        device = GlassesDevice(
            link, name="virtual:tap", reconnect=lambda: False, photo_on_start=False
        )
        items, statuses = await run_device(device, on_item)
    assert not any(isinstance(i, VideoFrame | ButtonPress) for i in items)
    assert [s.event for s in statuses].count("button:long_tap") == 1


async def test_taking_the_glasses_off_and_putting_them_on_is_reported(
    speech: np.ndarray,
) -> None:
    link = LoopbackLink()
    glasses = VirtualGlasses(
        link,
        audio=speech,
        codec=CodecId.PCM16_16K,
        pace_audio=True,
        clock_rate=8.0,
        disconnect_when_done=True,
    )

    took_off = False

    def on_item(item: MediaItem) -> None:
        nonlocal took_off
        if not took_off and item.t > 1.0:
            took_off = True
            glasses.take_off()
        elif took_off and device.state.worn is False and not glasses.worn:
            glasses.put_on()

    async with glasses:
        device = GlassesDevice(link, name="virtual:wear", reconnect=lambda: False)
        _, statuses = await run_device(device, on_item)
    events = [s.event for s in statuses]
    assert "taken_off" in events and "put_on" in events
    assert events.index("taken_off") < events.index("put_on")
    off = next(s for s in statuses if s.event == "taken_off")
    on = next(s for s in statuses if s.event == "put_on")
    assert off.worn is False and on.worn is True


async def test_battery_drain_is_reported_as_it_happens(speech: np.ndarray) -> None:
    link = LoopbackLink()
    glasses = VirtualGlasses(
        link,
        audio=speech[:64000],
        pace_audio=True,
        clock_rate=4.0,
        battery_drain_per_hour=36_000.0,
        disconnect_when_done=True,
    )  # 10 % a second of virtual time
    async with glasses:
        device = GlassesDevice(link, name="virtual:battery", reconnect=lambda: False)
        _, statuses = await run_device(device)
    levels = [s.battery_percent for s in statuses if s.event == "battery"]
    assert len(levels) >= 3
    assert levels == sorted(levels, reverse=True) and levels[-1] < levels[0]


async def test_a_link_drop_reconnects_and_the_audio_goes_on_on_one_timeline(
    speech: np.ndarray,
) -> None:
    link = LoopbackLink()
    glasses = VirtualGlasses(link, audio=speech, codec=CodecId.PCM16_16K, disconnect_when_done=True)
    dropped = False

    async def on_item(item: MediaItem) -> None:
        nonlocal dropped
        if not dropped and isinstance(item, AudioChunk) and item.t > 1.0:
            dropped = True
            await glasses.drop_link()

    async with glasses:
        device = GlassesDevice(
            link,
            name="virtual:drop",
            reconnect=lambda: not glasses.audio_sent.is_set(),
            retry_s=0.05,
        )
        items, statuses = await run_device(device, on_item)
    events = [s.event for s in statuses]
    assert events[:1] == ["connected"] and events[-1] == "disconnected"
    assert "reconnecting" in events
    assert events.count("connected") == 2 and events.count("disconnected") == 2
    assert device.connections == 2
    chunks = [i for i in items if isinstance(i, AudioChunk)]
    assert all(b.t >= a.t for a, b in itertools.pairwise(chunks))
    heard = samples_of(items).size
    assert speech.size * 0.9 <= heard <= speech.size
