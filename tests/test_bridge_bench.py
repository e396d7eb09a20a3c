"""The bridge benchmark runs end to end and reports every figure (no timing asserted)."""

from __future__ import annotations

from simulators.bench_bridge import bench_audio_decode, bench_photo_decode, bench_single_shot
from tests.test_bridge_photo_reassembly import real_jpeg


def test_audio_and_photo_decode_figures_are_reported_for_each_codec() -> None:
    audio = bench_audio_decode(seconds=0.5)
    assert set(audio) == {"pcm16-16k", "mulaw-8k", "opus-16k"}
    assert all(figures["times_realtime"] > 0 for figures in audio.values())
    photo = bench_photo_decode(repeats=2)
    assert photo["jpeg_bytes"] > 10_000 and photo["reassembly_mb_per_s"] > 0


async def test_single_shot_latency_is_measured_over_a_rate_limited_link() -> None:
    jpeg = real_jpeg()
    result = await bench_single_shot(runs=2, link_bytes_per_s=200_000, latency_s=0.001, jpeg=jpeg)
    assert result["runs"] == 2 and result["jpeg_bytes"] == len(jpeg)
    assert result["seconds_p50"] >= result["ideal_seconds"]
