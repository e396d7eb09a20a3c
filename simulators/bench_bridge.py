"""How fast the firmware bridge decodes, and how long a photo takes over a realistic BLE link.

Three figures:

- audio decode speed: notifications → 16 kHz samples, per codec, over a
  synthetic stream with 2 % loss, 1 % duplicates and some reordering at MTU
  247 (pure code, no link);
- photo decode speed: chunk reassembly alone and with the JPEG decode;
- single shot to photo: from writing "single shot" to photo control until
  the decoded frame comes out of `GlassesSource`, through a `LoopbackLink`
  limited to `LINK_BYTES_PER_S` while Opus audio streams in real time beside it.

Why 24 kB/s: the OpenGlass camera (ESP32-S3) sends 200-byte photo chunks,
and an ESP32 BLE stack typically manages about four notifications per
connection event at the 30 ms connection interval phones commonly grant, so
4 × 200 B / 30 ms ≈ 26.7 kB/s. BLE 5 with data length extension and the 2M
PHY allows well over 100 kB/s on paper, but glasses-class hardware rarely gets
there, so we round down to a conservative 24 kB/s and add 15 ms of latency
(half a connection interval).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.sources.media import VideoFrame
from firmware_bridge.audio_decoding import AudioStreamDecoder
from firmware_bridge.codecs import CODECS, Samples, create_encoder
from firmware_bridge.framing import AudioFramer, frame_photo
from firmware_bridge.loopback import LinkConditions, LoopbackLink
from firmware_bridge.omi_protocol import CodecId
from firmware_bridge.photo_reassembly import PhotoReassembler
from firmware_bridge.source import GlassesSource
from simulators.virtual_glasses import VirtualGlasses

LINK_BYTES_PER_S = 24_000.0
LINK_LATENCY_S = 0.015
BENCH_MTU = 247
DEMO_PAGE = Path(__file__).resolve().parent / "demo" / "page.png"


def synthetic_speechlike(seconds: float, *, seed: int = 0) -> Samples:
    """Noise shaped like speech (syllable-rate envelope, low-pass): keeps Opus VBR honest."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 16_000)
    noise = np.convolve(rng.standard_normal(n), np.ones(4) / 4, mode="same")
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * np.arange(n) / 16_000)
    return np.clip(noise * envelope * 6000, -32768, 32767).astype(np.int16)


def camera_jpeg(quality: int = 60) -> bytes:
    """A VGA JPEG like the glasses' camera sends (the demo book page, scaled up)."""
    image = cv2.imread(str(DEMO_PAGE))
    if image is None:
        rng = np.random.default_rng(0)
        image = rng.integers(0, 255, size=(480, 640, 3), dtype=np.uint8)
    image = cv2.resize(image, (640, 480))
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode the benchmark photo")
    return bytes(encoded.tobytes())


def _damaged(notifications: list[bytes], seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out: list[bytes] = []
    for value in notifications:
        if rng.random() < 0.02:
            continue
        out.append(value)
        if rng.random() < 0.01:
            out.append(value)
    for i in range(len(out) - 1):
        if rng.random() < 0.02:
            out[i], out[i + 1] = out[i + 1], out[i]
    return out


def bench_audio_decode(seconds: float = 20.0) -> dict[str, dict[str, float]]:
    """Decode speed per codec: notifications and packets per second, times real time."""
    audio = synthetic_speechlike(seconds)
    results: dict[str, dict[str, float]] = {}
    for codec in (CodecId.PCM16_16K, CodecId.MULAW_8K, CodecId.OPUS_16K):
        spec = CODECS[codec]
        encoder = create_encoder(spec)
        framer = AudioFramer(mtu=BENCH_MTU)
        packets = encoder.encode(audio) + encoder.flush()
        notifications = _damaged([n for p in packets for n in framer.frame(p)], seed=1)
        decoder = AudioStreamDecoder(spec)
        start = time.perf_counter()
        samples = 0
        for i, value in enumerate(notifications):
            samples += sum(d.samples.size for d in decoder.push(value, i * 0.001))
        samples += sum(d.samples.size for d in decoder.flush())
        elapsed = time.perf_counter() - start
        results[spec.name] = {
            "notifications_per_s": round(len(notifications) / elapsed),
            "packets_per_s": round(len(packets) / elapsed),
            "times_realtime": round(samples / 16_000 / elapsed, 1),
        }
    return results


def bench_photo_decode(repeats: int = 50) -> dict[str, float]:
    """Photo reassembly speed, alone and with the JPEG decode the source does."""
    jpeg = camera_jpeg()
    notifications = frame_photo(jpeg)
    reassembler = PhotoReassembler()
    start = time.perf_counter()
    for r in range(repeats):
        for value in notifications:
            reassembler.push(value, float(r))
    reassembly = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(repeats):
        cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    decode = time.perf_counter() - start
    return {
        "jpeg_bytes": len(jpeg),
        "reassembly_mb_per_s": round(len(jpeg) * repeats / reassembly / 1e6, 1),
        "photos_per_s_with_jpeg_decode": round(repeats / (reassembly + decode), 1),
    }


async def bench_single_shot(
    *,
    runs: int = 3,
    link_bytes_per_s: float = LINK_BYTES_PER_S,
    latency_s: float = LINK_LATENCY_S,
    jpeg: bytes | None = None,
) -> dict[str, Any]:
    """Seconds from the single-shot write to the decoded frame at the edge, audio streaming."""
    jpeg = jpeg if jpeg is not None else camera_jpeg()
    conditions = LinkConditions(throughput_bytes_per_s=link_bytes_per_s, latency_s=latency_s)
    link = LoopbackLink(conditions, mtu=BENCH_MTU)
    audio = synthetic_speechlike(60.0)
    times: list[float] = []
    glasses = VirtualGlasses(link, audio=audio, photos=[jpeg], pace_audio=True)
    async with glasses, GlassesSource(link, photo_on_start=False) as source:
        for _ in range(runs):
            start = time.perf_counter()
            await source.take_photo()
            async with asyncio.timeout(30 + 10 * len(jpeg) / link_bytes_per_s):
                async for item in source:
                    if isinstance(item, VideoFrame):
                        break
            times.append(time.perf_counter() - start)
    return {
        "link_bytes_per_s": link_bytes_per_s,
        "latency_s": latency_s,
        "jpeg_bytes": len(jpeg),
        "runs": runs,
        "seconds_p50": round(statistics.median(times), 3),
        "seconds_max": round(max(times), 3),
        "ideal_seconds": round(len(jpeg) / link_bytes_per_s, 3),
    }


def bench_bridge(*, audio_seconds: float = 20.0, photo_runs: int = 3) -> dict[str, Any]:
    """All bridge figures, for `companion bench bridge --json`."""
    return {
        "audio_decode": bench_audio_decode(audio_seconds),
        "photo_decode": bench_photo_decode(),
        "single_shot": asyncio.run(bench_single_shot(runs=photo_runs)),
    }
