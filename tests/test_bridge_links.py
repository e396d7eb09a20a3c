"""The links: a loopback radio that damages repeatably, and the bleak adapter (against a fake bleak)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import pytest

from edge.sources.media import AudioChunk
from firmware_bridge import bleak_link
from firmware_bridge.bleak_link import BleakLink
from firmware_bridge.codecs import CODECS, create_encoder
from firmware_bridge.errors import LinkError
from firmware_bridge.framing import AudioFramer
from firmware_bridge.loopback import LinkConditions, LoopbackLink
from firmware_bridge.omi_protocol import (
    AUDIO_CODEC_UUID,
    AUDIO_DATA_UUID,
    BATTERY_LEVEL_UUID,
    CodecId,
)
from firmware_bridge.source import GlassesSource
from firmware_bridge.transport import GlassesLink, Notification

# --- loopback ---------------------------------------------------------------------------------


async def send_through(conditions: LinkConditions, count: int = 300) -> list[bytes]:
    link = LoopbackLink(conditions)
    link.peripheral.serve({AUDIO_DATA_UUID: b""})
    await link.connect()
    await link.start_notify(AUDIO_DATA_UUID)
    for i in range(count):
        await link.peripheral.notify(AUDIO_DATA_UUID, i.to_bytes(2, "little"))
    # The radio's simulated latency and reorder hold are the scenario: wait them out so
    # every notification still in the air lands (a lost one never would, so no count to await).
    await asyncio.sleep(conditions.latency_s + conditions.max_reorder_hold_s + 0.01)
    await link.disconnect()
    return [n.data async for n in link.notifications()]


async def test_the_same_seed_damages_the_stream_the_same_way_every_time() -> None:
    bad = LinkConditions(
        loss_probability=0.1, duplicate_probability=0.1, reorder_probability=0.1, seed=42
    )
    first, second = await send_through(bad), await send_through(bad)
    assert first == second
    assert first != await send_through(LinkConditions(loss_probability=0.1, seed=43))


async def test_loss_duplicates_and_reordering_are_what_the_conditions_ask_for() -> None:
    got = await send_through(
        LinkConditions(
            loss_probability=0.2, duplicate_probability=0.1, reorder_probability=0.1, seed=1
        )
    )
    numbers = [int.from_bytes(v, "little") for v in got]
    assert 0.7 * 300 < len(set(numbers)) < 0.9 * 300
    assert len(numbers) > len(set(numbers))
    assert numbers != sorted(numbers)


async def test_a_clean_link_delivers_everything_in_order() -> None:
    got = await send_through(LinkConditions(latency_s=0.005))
    assert [int.from_bytes(v, "little") for v in got] == list(range(300))


async def test_a_blackout_loses_what_is_sent_during_it_and_nothing_else() -> None:
    conditions = LinkConditions(throughput_bytes_per_s=5 * 100, blackouts=((0.05, 0.15),))
    got = await send_through(conditions, count=40)  # 10 ms of airtime each
    numbers = [int.from_bytes(v, "little") for v in got]
    assert 0 < 40 - len(numbers) < 40
    assert numbers == sorted(numbers)
    assert numbers[0] == 0 and numbers[-1] == 39


async def test_reads_writes_and_subscriptions_fail_clearly_when_they_cannot_work() -> None:
    link = LoopbackLink()
    link.peripheral.serve({BATTERY_LEVEL_UUID: b"\x50"})
    with pytest.raises(LinkError, match="not connected"):
        await link.read(BATTERY_LEVEL_UUID)
    async with link:
        assert await link.read("2a19") == b"\x50"
        with pytest.raises(LinkError, match="no characteristic"):
            await link.start_notify(AUDIO_DATA_UUID)
        with pytest.raises(ValueError, match="does not fit MTU"):
            await link.peripheral.notify(BATTERY_LEVEL_UUID, bytes(300))
    assert not link.is_connected


def test_both_links_are_glasses_links() -> None:
    assert isinstance(LoopbackLink(), GlassesLink)
    assert isinstance(BleakLink("AA:BB:CC:DD:EE:FF"), GlassesLink)


# --- bleak adapter ----------------------------------------------------------------------------


def test_importing_the_bridge_does_not_import_bleak() -> None:
    code = "import sys, firmware_bridge, simulators.virtual_glasses; print('bleak' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


class FakeBleakError(Exception):
    pass


class FakeBleakClient:
    """Just enough of bleak.BleakClient's documented surface to drive BleakLink."""

    instances: ClassVar[list[FakeBleakClient]] = []

    def __init__(
        self, address: str, disconnected_callback: Callable[[Any], None], timeout: float
    ) -> None:
        self.address = address
        self.on_disconnect = disconnected_callback
        self.callbacks: dict[str, Callable[[Any, bytearray], None]] = {}
        self.writes: list[tuple[str, bytes, bool]] = []
        self.is_connected = False
        self.mtu_size = 247
        self.values = {
            AUDIO_CODEC_UUID: bytearray([CodecId.PCM16_16K]),
            BATTERY_LEVEL_UUID: bytearray([77]),
        }
        FakeBleakClient.instances.append(self)

    async def connect(self) -> None:
        if self.address == "unreachable":
            raise FakeBleakError("Device with address unreachable was not found")
        self.is_connected = True

    async def disconnect(self) -> None:
        self.is_connected = False

    async def start_notify(self, uuid: str, callback: Callable[[Any, bytearray], None]) -> None:
        self.callbacks[uuid] = callback

    async def read_gatt_char(self, uuid: str) -> bytearray:
        if uuid not in self.values:
            raise FakeBleakError(f"Characteristic {uuid} was not found!")
        return self.values[uuid]

    async def write_gatt_char(self, uuid: str, data: bytes, response: bool = False) -> None:
        self.writes.append((uuid, bytes(data), response))

    def radio_drops(self) -> None:
        self.is_connected = False
        self.on_disconnect(self)


@pytest.fixture
def fake_bleak(monkeypatch: pytest.MonkeyPatch) -> type[FakeBleakClient]:
    FakeBleakClient.instances = []
    module = SimpleNamespace(
        BleakClient=FakeBleakClient, exc=SimpleNamespace(BleakError=FakeBleakError)
    )
    monkeypatch.setattr(bleak_link, "_import_bleak", lambda: module)
    return FakeBleakClient


async def test_bleak_notifications_arrive_normalised_and_end_when_the_radio_drops(
    fake_bleak: type[FakeBleakClient],
) -> None:
    link = BleakLink("AA:BB:CC:DD:EE:FF")
    await link.connect()
    await link.start_notify(AUDIO_DATA_UUID.upper())
    client = fake_bleak.instances[0]
    client.callbacks[AUDIO_DATA_UUID.upper()](object(), bytearray(b"\x00\x00\x00abc"))
    client.radio_drops()
    got: list[Notification] = [n async for n in link.notifications()]
    assert [(n.uuid, n.data) for n in got] == [(AUDIO_DATA_UUID, b"\x00\x00\x00abc")]
    assert not link.is_connected


async def test_bleak_failures_become_link_errors_that_say_what_to_check(
    fake_bleak: type[FakeBleakClient],
) -> None:
    with pytest.raises(LinkError, match="check they are on"):
        await BleakLink("unreachable").connect()
    link = BleakLink("AA:BB:CC:DD:EE:FF")
    with pytest.raises(LinkError, match="not connected"):
        await link.read(BATTERY_LEVEL_UUID)
    await link.connect()
    with pytest.raises(LinkError, match="could not read"):
        await link.read("19b10005-e8f2-537e-4f6c-d104768a1214")
    await link.write(AUDIO_CODEC_UUID, b"\x01", with_response=False)
    assert fake_bleak.instances[-1].writes == [(AUDIO_CODEC_UUID, b"\x01", False)]


async def test_a_glasses_source_over_bleak_decodes_what_the_radio_delivered(
    fake_bleak: type[FakeBleakClient],
) -> None:
    link = BleakLink("AA:BB:CC:DD:EE:FF")
    source = GlassesSource(link, photo_on_start=False)
    await source.start()
    client = fake_bleak.instances[0]
    assert source.state.codec == "pcm16-16k" and source.state.battery_percent == 77
    tone = (np.sin(np.arange(3200) / 5) * 1000).astype(np.int16)
    framer = AudioFramer(mtu=client.mtu_size)
    for packet in create_encoder(CODECS[CodecId.PCM16_16K]).encode(tone):
        for value in framer.frame(packet):
            client.callbacks[AUDIO_DATA_UUID](object(), bytearray(value))
    client.radio_drops()
    chunks = [item async for item in source if isinstance(item, AudioChunk)]
    assert np.array_equal(np.concatenate([c.samples for c in chunks]), tone)
    assert source.state.connection == "disconnected"
