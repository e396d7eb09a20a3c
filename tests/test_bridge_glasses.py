"""Virtual glasses → loopback radio → GlassesSource: what the edge gets is what was recorded."""

from __future__ import annotations

import asyncio
import itertools

import numpy as np
import pytest

from edge.sources.media import AudioChunk, VideoFrame
from firmware_bridge.loopback import LinkConditions, LoopbackLink
from firmware_bridge.omi_protocol import (
    AUDIO_CODEC_UUID,
    AUDIO_DATA_UUID,
    PHOTO_CONTROL_UUID,
    PHOTO_DATA_UUID,
    ButtonEvent,
    CodecId,
)
from firmware_bridge.source import GlassesSource
from simulators.virtual_glasses import VirtualGlasses


@pytest.fixture(scope="module")
def speech(speech_0870: np.ndarray) -> np.ndarray:
    return speech_0870


@pytest.fixture(scope="module")
def cat(cat_image: np.ndarray) -> np.ndarray:
    return cat_image


async def collect(source: GlassesSource) -> tuple[np.ndarray, list[AudioChunk], list[VideoFrame]]:
    chunks: list[AudioChunk] = []
    frames: list[VideoFrame] = []
    async with asyncio.timeout(30):
        async for item in source:
            if isinstance(item, AudioChunk):
                chunks.append(item)
            else:
                frames.append(item)
    samples = np.concatenate([c.samples for c in chunks]) if chunks else np.zeros(0, np.int16)
    return samples, chunks, frames


async def test_the_edge_gets_the_recordings_audio_and_a_photo_after_a_single_shot(
    speech: np.ndarray, cat: np.ndarray
) -> None:
    link = LoopbackLink(mtu=247)
    async with VirtualGlasses(link, audio=speech, photos=[cat], disconnect_when_done=True):
        source = GlassesSource(link)
        samples, chunks, frames = await collect(source)
    assert abs(samples.size - speech.size) <= 160
    n = speech.size - 400
    delay = int(np.argmax([np.dot(speech[:n] / 1e4, samples[d : d + n] / 1e4) for d in range(400)]))
    assert np.corrcoef(speech[:n], samples[delay : delay + n])[0, 1] > 0.95
    assert len(frames) == 1 and frames[0].image.shape == cat.shape
    assert source.state.connection == "disconnected"
    assert source.state.codec == "opus-16k" and source.state.battery_percent == 100
    assert all(len(c.samples) == 512 for c in chunks[:-1])
    assert all(b.t == pytest.approx(a.t + a.duration) for a, b in itertools.pairwise(chunks))


async def test_a_lossy_link_at_the_smallest_mtu_keeps_the_audio_on_time(
    speech: np.ndarray,
) -> None:
    conditions = LinkConditions(
        loss_probability=0.03, duplicate_probability=0.02, reorder_probability=0.05, seed=4
    )
    link = LoopbackLink(conditions, mtu=23)
    glasses = VirtualGlasses(
        link, audio=speech, codec=CodecId.PCM16_16K, start_counter=60000, disconnect_when_done=True
    )
    async with glasses:
        source = GlassesSource(link, photo_on_start=False)
        samples, _, _ = await collect(source)
    state = source.state
    assert state.lost_audio_packets > 0 and state.audio.duplicates > 0
    assert speech.size - 5 * 160 <= samples.size <= speech.size
    heard = samples[: speech.size]
    matches = np.all(heard.reshape(-1, 160) == speech[: heard.size].reshape(-1, 160), axis=1)
    assert matches.sum() + state.lost_audio_packets >= heard.size // 160


async def test_a_link_drop_mid_stream_ends_the_source_cleanly_as_disconnected(
    speech: np.ndarray, cat: np.ndarray
) -> None:
    link = LoopbackLink(mtu=185)
    async with VirtualGlasses(link, audio=speech, photos=[cat]) as glasses:
        source = GlassesSource(link)
        received = 0
        async with asyncio.timeout(30):
            async for item in source:
                if isinstance(item, AudioChunk):
                    received += item.samples.size
                    if received >= speech.size // 3 and link.is_connected:
                        await glasses.drop_link()
    assert source.state.connection == "disconnected"
    assert speech.size // 3 <= received < speech.size


async def test_a_scheduled_drop_out_during_real_time_streaming_ends_without_an_exception(
    speech: np.ndarray,
) -> None:
    link = LoopbackLink(LinkConditions(latency_s=0.01, disconnect_after_s=0.3), mtu=247)
    async with VirtualGlasses(link, audio=speech, pace_audio=True, clock_rate=4.0):
        source = GlassesSource(link)
        samples, _, _ = await collect(source)
    assert source.state.connection == "disconnected"
    assert 0 < samples.size < speech.size


async def test_glasses_taken_off_hear_silence_and_take_no_photos(
    speech: np.ndarray, cat: np.ndarray
) -> None:
    link = LoopbackLink()
    glasses = VirtualGlasses(
        link,
        audio=speech[:16000],
        photos=[cat],
        codec=CodecId.PCM16_16K,
        disconnect_when_done=True,
    )
    glasses.take_off()
    async with glasses:
        samples, _, frames = await collect(GlassesSource(link))
    assert samples.size == 16000 and not samples.any()
    assert frames == []


async def test_photos_come_at_the_requested_interval_and_stop_when_asked(cat: np.ndarray) -> None:
    link = LoopbackLink()
    glasses = VirtualGlasses(
        link, audio=np.zeros(16000 * 60, np.int16), photos=[cat], pace_audio=True, clock_rate=50.0
    )
    async with glasses:
        source = GlassesSource(link, photo_interval_s=5)
        frames = 0
        async with asyncio.timeout(30):
            async for item in source:
                if isinstance(item, VideoFrame):
                    frames += 1
                    if frames == 3:
                        await source.set_photo_interval(0)
                        # Time passing is the scenario: a photo already on its way still
                        # finishes, then three intervals (at 50x) bring no new one.
                        await asyncio.sleep(0.1)
                        sent = glasses.stats.photos_sent
                        await asyncio.sleep(0.3)
                        assert glasses.stats.photos_sent == sent
                        break
        await source.aclose()
    assert frames == 3


async def test_button_taps_and_battery_drain_reach_the_state(speech: np.ndarray) -> None:
    link = LoopbackLink()
    taps: list[ButtonEvent] = []
    glasses = VirtualGlasses(
        link, audio=speech, pace_audio=True, battery_drain_per_hour=36_000.0
    )  # 10 % a second
    async with glasses:
        source = GlassesSource(link, photo_on_start=False, on_button=taps.append)
        async with asyncio.timeout(30):
            async for _ in source:
                if source.state.battery_percent is not None and source.state.battery_percent < 95:
                    await glasses.tap(ButtonEvent.DOUBLE_TAP)
                    if taps:
                        break
        await source.aclose()
    assert taps == [ButtonEvent.DOUBLE_TAP]
    assert source.state.last_button is ButtonEvent.DOUBLE_TAP
    assert source.state.battery_percent is not None and source.state.battery_percent < 95


async def test_an_unknown_codec_skips_audio_but_still_delivers_photos(
    speech: np.ndarray, cat: np.ndarray
) -> None:
    link = LoopbackLink()
    async with VirtualGlasses(link, audio=speech, photos=[cat], disconnect_when_done=True):
        link.peripheral.set_value(AUDIO_CODEC_UUID, b"\x63")
        source = GlassesSource(link)
        samples, _, frames = await collect(source)
    assert samples.size == 0 and len(frames) == 1
    assert source.state.audio_skipped > 0
    assert source.state.last_problem is not None and "99" in source.state.last_problem


async def test_garbage_notifications_are_counted_and_the_stream_goes_on(
    speech: np.ndarray,
) -> None:
    link = LoopbackLink()
    glasses = VirtualGlasses(
        link, audio=speech[:32000], codec=CodecId.MULAW_16K, disconnect_when_done=True
    )
    async with glasses:
        source = GlassesSource(link, photo_on_start=False)
        await source.start()
        for junk in (b"", b"\x01", b"\x00\x00", b"\xff" * 3):
            await link.peripheral.notify(AUDIO_DATA_UUID, junk)
        samples, _, _ = await collect(source)
    assert source.state.audio.garbled == 4
    assert samples.size == 32000


async def test_glasses_without_a_camera_still_stream_audio_and_say_what_is_missing(
    speech: np.ndarray,
) -> None:
    link = LoopbackLink()
    glasses = VirtualGlasses(
        link, audio=speech[:16000], codec=CodecId.PCM16_16K, disconnect_when_done=True
    )
    async with glasses:
        del link.peripheral.values[PHOTO_DATA_UUID], link.peripheral.values[PHOTO_CONTROL_UUID]
        source = GlassesSource(link)
        samples, _, frames = await collect(source)
    assert np.array_equal(samples, speech[:16000]) and frames == []
    assert source.state.last_problem is not None and "ask for a photo" in source.state.last_problem


async def test_glasses_vanishing_during_set_up_end_the_stream_quietly() -> None:
    link = LoopbackLink(LinkConditions(latency_s=0.01, disconnect_after_s=0.005))
    async with VirtualGlasses(link, audio=np.zeros(16000, np.int16)):
        source = GlassesSource(link)
        samples, _, frames = await collect(source)
    assert samples.size == 0 and frames == []
    assert source.state.connection == "disconnected"
