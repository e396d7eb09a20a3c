"""Replaying files as a live source: merged, ordered, paced, with a silent tail."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

from edge.errors import MediaError
from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk, MediaItem, VideoFrame
from simulators.replay import replay


class FakeClock:
    """Time that moves only when the replay sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:  # the fake clock's: no real time passes
        self.now += seconds
        self.slept += seconds


async def collect(*args: object, **kwargs: object) -> list[MediaItem]:
    return [item async for item in replay(*args, **kwargs)]  # type: ignore[arg-type]


def audio_of(items: list[MediaItem]) -> list[AudioChunk]:
    return [i for i in items if isinstance(i, AudioChunk)]


def video_of(items: list[MediaItem]) -> list[VideoFrame]:
    return [i for i in items if isinstance(i, VideoFrame)]


async def test_audio_comes_as_512_sample_chunks_then_a_second_of_silence(
    recordings: Path,
) -> None:
    speech = recordings / "speech" / "librivox-0880.wav"  # 2.99 s

    items = await collect(None, speech)

    chunks = audio_of(items)
    assert all(len(c.samples) == CHUNK_SAMPLES for c in chunks)
    assert [c.t for c in chunks] == [i * CHUNK_SAMPLES / SAMPLE_RATE for i in range(len(chunks))]
    total = len(chunks) * CHUNK_SAMPLES / SAMPLE_RATE
    assert 2.99 + 1.0 <= total < 2.99 + 1.0 + CHUNK_SAMPLES / SAMPLE_RATE
    tail = np.concatenate([c.samples for c in chunks])[round(2.99 * SAMPLE_RATE) :]
    assert not tail.any()


async def test_raw_audio_is_replayed_with_its_format(recordings: Path) -> None:
    raw = recordings / "speech" / "goforward-16k-s16le.raw"

    items = await collect(None, raw, audio_format="s16le:16000", tail_silence_s=0.0)

    samples = np.concatenate([c.samples for c in audio_of(items)])
    expected = np.fromfile(raw, dtype="<i2")
    assert np.array_equal(samples[: len(expected)], expected)


async def test_video_and_audio_are_merged_in_timestamp_order(recordings: Path) -> None:
    items = await collect(
        recordings / "video" / "help.mkv", recordings / "speech" / "librivox-0880.wav"
    )

    times = [i.t for i in items]
    assert times == sorted(times)
    assert audio_of(items) and video_of(items)


async def test_shorter_video_loops_for_the_whole_audio(recordings: Path) -> None:
    # realshort.mp4 lasts 1.2 s; the speech plus its silent tail about 4 s.
    items = await collect(
        recordings / "video" / "realshort.mp4", recordings / "speech" / "librivox-0880.wav"
    )

    frames = video_of(items)
    audio_end = audio_of(items)[-1].t + CHUNK_SAMPLES / SAMPLE_RATE
    assert frames[-1].t < audio_end
    assert frames[-1].t > audio_end - 0.1
    gaps = np.diff([f.t for f in frames])
    assert gaps.min() > 0 and gaps.max() < 0.05  # no jump or stall at the loop points
    assert len(frames) == pytest.approx(audio_end * 30, abs=3)


async def test_longer_video_stops_with_the_audio(recordings: Path) -> None:
    items = await collect(
        recordings / "video" / "bottle-detection.mp4",  # 40 s
        recordings / "speech" / "librivox-0880.wav",
        tail_silence_s=0.0,
    )

    frames = video_of(items)
    assert frames[-1].t < 3.0
    assert items[-1] == audio_of(items)[-1] or items[-1].t < 3.0


async def test_still_image_is_shown_throughout_the_audio(recordings: Path) -> None:
    items = await collect(
        recordings / "images" / "page.png", recordings / "speech" / "librivox-0880.wav"
    )

    frames = video_of(items)
    audio_end = audio_of(items)[-1].t + CHUNK_SAMPLES / SAMPLE_RATE
    assert [f.t for f in frames] == pytest.approx([i / 5 for i in range(len(frames))])
    assert audio_end - 0.2 <= frames[-1].t < audio_end


async def test_gif_alone_plays_once(recordings: Path) -> None:
    items = await collect(recordings / "video" / "face-demographics-walking.gif", None)

    assert len(video_of(items)) == 35 and not audio_of(items)


async def test_still_image_alone_is_shown_for_a_second(recordings: Path) -> None:
    items = await collect(recordings / "images" / "page.png", None)

    assert [f.t for f in video_of(items)] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8])


async def test_frame_rate_cap_thins_the_video(recordings: Path) -> None:
    items = await collect(recordings / "video" / "help.mkv", None, video_fps_cap=10.0)

    frames = video_of(items)
    assert len(frames) == pytest.approx(58 / 3, abs=1)
    assert np.diff([f.t for f in frames]).min() >= 0.099


async def test_realtime_hands_each_item_out_when_a_live_device_would(
    recordings: Path,
) -> None:
    clock = FakeClock()
    started = clock.now
    late: list[float] = []
    async for item in replay(
        recordings / "video" / "realshort.mp4",
        recordings / "video" / "realshort.mp4",
        speed="realtime",
        tail_silence_s=0.5,
        clock=clock,
        sleep=clock.sleep,
    ):
        available = item.t + (item.duration if isinstance(item, AudioChunk) else 0.0)
        assert clock.now - started >= available - 1e-9
        late.append(clock.now - started - available)
    assert max(late) <= CHUNK_SAMPLES / SAMPLE_RATE + 1e-9  # a frame waits at most one chunk
    assert clock.slept == pytest.approx(1.17 + 0.5, abs=0.04)


async def test_realtime_on_the_real_clock_takes_about_the_media_duration(
    recordings: Path,
) -> None:
    started = time.monotonic()
    items = await collect(
        None, recordings / "video" / "realshort.mp4", speed="realtime", tail_silence_s=0.0
    )
    elapsed = time.monotonic() - started

    duration = len(audio_of(items)) * CHUNK_SAMPLES / SAMPLE_RATE
    assert elapsed >= 0.8 * duration


async def test_max_speed_lets_other_tasks_run(recordings: Path) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)  # yields once per tick: what this test counts

    task = asyncio.create_task(ticker())
    try:
        items = await collect(None, recordings / "speech" / "librivox-0870.wav")
    finally:
        task.cancel()
    assert ticks >= len(items) // 8 - 1


async def test_missing_files_fail_before_the_first_item(recordings: Path) -> None:
    with pytest.raises(MediaError, match=r"missing\.wav: no such file"):
        await collect(recordings / "images" / "page.png", recordings / "speech" / "missing.wav")
    with pytest.raises(MediaError, match=r"missing\.mp4: no such file"):
        await collect(
            recordings / "video" / "missing.mp4", recordings / "speech" / "librivox-0880.wav"
        )


async def test_truncated_video_replays_or_fails_clearly(recordings: Path, tmp_path: Path) -> None:
    data = (recordings / "video" / "help.mkv").read_bytes()
    truncated = tmp_path / "help.mkv"
    truncated.write_bytes(data[: len(data) * 3 // 10])

    try:
        items = await collect(truncated, recordings / "speech" / "librivox-0880.wav")
    except MediaError as exc:
        assert "help.mkv" in str(exc)
    else:
        times = [i.t for i in items]
        assert times == sorted(times) and video_of(items)


async def test_nothing_to_replay_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="video, an audio file or both"):
        await collect(None, None)
