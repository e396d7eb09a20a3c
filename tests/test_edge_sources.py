"""Local capture sources: a camera through OpenCV (fed real video files), a microphone's
format conversion (fed fake blocks) and the merging of live sources."""

from __future__ import annotations

import asyncio
import importlib.abc
import sys
import threading
import types
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge.errors import MediaError
from edge.sources.camera import CameraSource, camera_device
from edge.sources.media import SAMPLE_RATE, AudioChunk, MediaItem, VideoFrame
from edge.sources.merging import merge_sources
from edge.sources.microphone import MicrophoneConverter, MicrophoneSource, microphone_device


class Ticks:
    """A clock that advances `step` seconds every time it is read."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


async def frames_of(source: CameraSource) -> list[VideoFrame]:
    return [frame async for frame in source]


async def test_camera_source_yields_every_frame_of_a_video_file(recordings: Path) -> None:
    path = recordings / "video" / "realshort.mp4"
    expected = int(cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FRAME_COUNT))
    frames = await frames_of(CameraSource(str(path)))
    assert len(frames) == expected == 36
    assert all(f.image.dtype == np.uint8 and f.image.shape[2] == 3 for f in frames)
    assert frames[0].image.shape[1] == 320
    times = [f.t for f in frames]
    assert times == sorted(times)


async def test_camera_frame_rate_cap_thins_the_frames(recordings: Path) -> None:
    path = str(recordings / "video" / "realshort.mp4")
    # 10 ms between reads, capped at 20 fps: one frame in five is kept.
    frames = await frames_of(CameraSource(path, fps_cap=20, clock=Ticks(0.01)))
    assert 6 <= len(frames) <= 8
    gaps = np.diff([f.t for f in frames])
    assert (gaps >= 0.05 - 1e-9).all()


async def test_camera_that_cannot_be_opened_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="could not be opened"):
        CameraSource(str(tmp_path / "no-such-camera.mp4"))


async def test_truncated_video_gives_the_frames_before_the_damage(
    recordings: Path, tmp_path: Path
) -> None:
    data = (recordings / "video" / "help.mkv").read_bytes()
    broken = tmp_path / "broken.mkv"
    broken.write_bytes(data[: len(data) // 2])
    frames = await frames_of(CameraSource(str(broken)))
    assert 0 < len(frames) < 58  # the whole clip has 58


async def test_mp4_cut_before_its_index_is_refused_at_once(
    recordings: Path, tmp_path: Path
) -> None:
    data = (recordings / "video" / "bottle-detection.mp4").read_bytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data[: len(data) // 2])  # an mp4's index (moov) is at its end
    with pytest.raises(MediaError, match="could not be opened"):
        CameraSource(str(broken))


def test_camera_and_mic_arguments_are_parsed() -> None:
    assert camera_device("0") == 0 and camera_device("clip.mp4") == "clip.mp4"
    assert microphone_device("default") is None
    assert microphone_device("2") == 2 and microphone_device("USB") == "USB"


def sine(rate: int, seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return np.sin(2 * np.pi * hz * t)


def dominant_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.argmax(spectrum) * SAMPLE_RATE / len(samples))


def test_48khz_stereo_float_blocks_become_16khz_mono_chunks_timed_by_sample_count() -> None:
    converter = MicrophoneConverter(48_000, 2, start=1.0)
    left = sine(48_000, 1.0) * 0.5
    stereo = np.stack([left, np.zeros_like(left)], axis=1).astype(np.float32)
    chunks = [
        chunk
        for i in range(0, len(stereo), 480)
        if (chunk := converter.convert(stereo[i : i + 480])) is not None
    ]
    audio = np.concatenate([c.samples for c in chunks])
    assert audio.dtype == np.int16
    assert abs(len(audio) - SAMPLE_RATE) < 200  # the resampler holds back a few samples
    assert dominant_hz(audio[1000:15000]) == pytest.approx(440, abs=5)
    # Left at half scale, right silent: the mix is a quarter of full scale.
    assert np.abs(audio[1000:15000]).max() == pytest.approx(32767 / 4, rel=0.05)
    elapsed = 0
    for chunk in chunks:
        assert chunk.t == pytest.approx(1.0 + elapsed / SAMPLE_RATE)
        elapsed += len(chunk.samples)


def test_16khz_mono_int16_passes_through_unchanged() -> None:
    converter = MicrophoneConverter(SAMPLE_RATE, 1)
    block = (sine(SAMPLE_RATE, 0.032) * 9000).astype(np.int16).reshape(-1, 1)
    first = converter.convert(block)
    second = converter.convert(block)
    assert first is not None and second is not None
    assert np.array_equal(first.samples, block[:, 0])
    assert (first.t, second.t) == (0.0, 0.032)


def test_block_of_the_wrong_shape_is_a_clear_error() -> None:
    converter = MicrophoneConverter(SAMPLE_RATE, 2)
    with pytest.raises(MediaError, match="expected \\(frames, 2\\)"):
        converter.convert(np.zeros((512, 3), dtype=np.int16))


class _PortAudioMissing(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return None


def test_missing_portaudio_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_PortAudioMissing(), *sys.meta_path])
    with pytest.raises(MediaError, match=r"PortAudio library not found.*libportaudio2"):
        MicrophoneSource()


def fake_sounddevice(blocks: list[np.ndarray], rate: int, channels: int) -> types.ModuleType:
    """A sounddevice stand-in whose input stream plays `blocks` from its own thread."""
    module = types.ModuleType("sounddevice")

    class PortAudioError(Exception):
        pass

    class InputStream:
        def __init__(self, *, callback: Any, **settings: Any) -> None:
            assert settings["samplerate"] == rate and settings["channels"] == channels
            self._callback = callback
            self._thread = threading.Thread(target=self._play)

        def _play(self) -> None:
            for block in blocks:
                self._callback(block, len(block), None, None)

        def __enter__(self) -> InputStream:
            self._thread.start()
            return self

        def __exit__(self, *exc: object) -> None:
            self._thread.join()

    def check_input_settings(device: Any, **settings: Any) -> None:
        raise PortAudioError("16 kHz is not supported")

    module.PortAudioError = PortAudioError  # type: ignore[attr-defined]
    module.InputStream = InputStream  # type: ignore[attr-defined]
    module.check_input_settings = check_input_settings  # type: ignore[attr-defined]
    module.query_devices = lambda device, kind: {  # type: ignore[attr-defined]
        "name": "Fake USB mic",
        "default_samplerate": float(rate),
        "max_input_channels": channels,
    }
    return module


async def test_microphone_source_delivers_converted_audio_from_the_device_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stereo = (np.stack([sine(44_100, 0.5)] * 2, axis=1) * 12000).astype(np.int16)
    blocks = [stereo[i : i + 441] for i in range(0, len(stereo), 441)]
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(blocks, 44_100, 2))
    source = MicrophoneSource(start=0.0, clock=lambda: 0.0)
    assert (source.name, source.sample_rate, source.channels) == ("Fake USB mic", 44_100, 2)
    received = 0
    async with asyncio.timeout(10):
        async for chunk in source:
            received += len(chunk.samples)
            if received >= 7800:
                break
    assert received >= 7800 and source.dropped_blocks == 0


async def test_merged_sources_go_on_when_one_fails() -> None:
    async def microphone() -> AsyncIterator[MediaItem]:
        for i in range(5):
            await asyncio.sleep(0.01)  # a live microphone's pace: it outlives the camera
            yield AudioChunk(i * 0.032, np.zeros(512, dtype=np.int16))

    async def camera() -> AsyncIterator[MediaItem]:
        yield VideoFrame(0.0, np.zeros((4, 4, 3), dtype=np.uint8))
        raise OSError("camera unplugged")

    items = [item async for item in merge_sources(microphone(), camera())]
    assert sum(isinstance(i, AudioChunk) for i in items) == 5
    assert sum(isinstance(i, VideoFrame) for i in items) == 1
