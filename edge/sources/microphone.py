"""A local microphone as an edge `Source`, through sounddevice (PortAudio).

Microphones deliver whatever they like: 44.1 or 48 kHz, stereo, float32 or
int16, in blocks of any size. `MicrophoneConverter` (pure, no I/O) turns each
block into 16 kHz mono int16 `AudioChunk`s stamped by sample count, so time
does not drift with the callback's jitter. `MicrophoneSource` is the thin
layer that opens the device and moves blocks from PortAudio's thread onto the
event loop through a bounded queue that drops the oldest block when the
consumer falls behind.

sounddevice needs the PortAudio library, which a server or CI machine may
lack; it is imported only when a microphone opens, and its absence is one
clear `MediaError`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import av
import numpy as np
import numpy.typing as npt

from edge.errors import MediaError
from edge.sources.media import SAMPLE_RATE, AudioChunk

log = logging.getLogger(__name__)

INSTALL = "sounddevice==0.5.6"


class MicrophoneConverter:
    """Blocks of `(frames, channels)` samples at `sample_rate` → 16 kHz mono int16 chunks."""

    def __init__(self, sample_rate: int, channels: int, *, start: float = 0.0) -> None:
        if sample_rate <= 0 or channels <= 0:
            raise MediaError(f"unusable microphone format: {sample_rate} Hz, {channels} channel(s)")
        self.sample_rate = sample_rate
        self.channels = channels
        self._start = start
        self._samples_out = 0
        self._resampler = (
            None
            if sample_rate == SAMPLE_RATE
            else av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        )

    def convert(self, block: npt.NDArray[Any]) -> AudioChunk | None:
        """The next chunk of audio, or None while the resampler is still filling up."""
        mono = _mono_int16(block, self.channels)
        if self._resampler is not None and len(mono):
            frame = av.AudioFrame.from_ndarray(mono.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = self.sample_rate
            pieces = [
                cast("npt.NDArray[np.int16]", out.to_ndarray()).reshape(-1)
                for out in self._resampler.resample(frame)
            ]
            mono = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)
        if len(mono) == 0:
            return None
        chunk = AudioChunk(self._start + self._samples_out / SAMPLE_RATE, mono.astype(np.int16))
        self._samples_out += len(mono)
        return chunk


def _mono_int16(block: npt.NDArray[Any], channels: int) -> npt.NDArray[np.int16]:
    samples = np.asarray(block)
    if samples.ndim == 1:
        samples = samples.reshape(-1, 1)
    if samples.ndim != 2 or samples.shape[1] != channels:
        raise MediaError(
            f"microphone block has shape {samples.shape}, expected (frames, {channels})"
        )
    if samples.dtype.kind == "f":
        scaled = np.clip(samples.astype(np.float64), -1.0, 1.0) * 32767.0
    elif samples.dtype == np.int16:
        scaled = samples.astype(np.float64)
    elif samples.dtype == np.int32:
        scaled = samples.astype(np.float64) / 65536.0
    else:
        raise MediaError(f"microphone sample type {samples.dtype} is not supported")
    mixed = scaled.mean(axis=1) if channels > 1 else scaled[:, 0]
    return np.round(mixed).astype(np.int16)


def _sounddevice() -> Any:
    try:
        import sounddevice
    except OSError as exc:  # sounddevice raises OSError when libportaudio is missing
        raise MediaError(
            f"microphone unavailable: {exc}; install PortAudio (apt-get install libportaudio2)"
        ) from None
    except ImportError:
        raise MediaError(f"microphone unavailable: run `pip install {INSTALL}`") from None
    return sounddevice


def microphone_device(spec: str) -> int | str | None:
    """`--mic` as sounddevice wants it: "default", an index, or part of a device name."""
    if spec == "default":
        return None
    return int(spec) if spec.isdigit() else spec


class MicrophoneSource:
    """`async for chunk in MicrophoneSource()`: 16 kHz mono audio from a local microphone."""

    def __init__(
        self,
        device: int | str | None = None,
        *,
        block_ms: int = 32,
        queue_blocks: int = 64,
        start: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.device = device
        self._block_ms = block_ms
        self._queue_blocks = queue_blocks
        self._clock = clock
        self._start = clock() if start is None else start
        self.dropped_blocks = 0
        self._sd = _sounddevice()
        try:
            info = self._sd.query_devices(device, "input")
        except (ValueError, self._sd.PortAudioError) as exc:
            raise MediaError(f"microphone {device or 'default'!r}: {exc}") from None
        self.name = str(info["name"])
        self.sample_rate, self.channels = self._format(info)

    def _format(self, info: Any) -> tuple[int, int]:
        """16 kHz mono when the device can do it (no conversion), else its own format."""
        try:
            self._sd.check_input_settings(
                self.device, samplerate=SAMPLE_RATE, channels=1, dtype="int16"
            )
            return SAMPLE_RATE, 1
        except Exception:
            return int(info["default_samplerate"]), max(1, min(2, int(info["max_input_channels"])))

    def __aiter__(self) -> AsyncIterator[AudioChunk]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[AudioChunk]:
        loop = asyncio.get_running_loop()
        blocks: asyncio.Queue[npt.NDArray[np.int16]] = asyncio.Queue(self._queue_blocks)

        def push(block: npt.NDArray[np.int16]) -> None:
            if blocks.full():
                blocks.get_nowait()
                self.dropped_blocks += 1
            blocks.put_nowait(block)

        def callback(indata: Any, frames: int, when: Any, status: Any) -> None:
            loop.call_soon_threadsafe(push, np.array(indata, dtype=np.int16, copy=True))

        converter = MicrophoneConverter(
            self.sample_rate, self.channels, start=self._clock() - self._start
        )
        try:
            stream = self._sd.InputStream(
                device=self.device,
                samplerate=self.sample_rate,
                channels=self.channels,
                dtype="int16",
                blocksize=round(self.sample_rate * self._block_ms / 1000),
                callback=callback,
            )
        except self._sd.PortAudioError as exc:
            raise MediaError(f"microphone {self.name!r} could not be opened: {exc}") from None
        with stream:
            while True:
                chunk = converter.convert(await blocks.get())
                if chunk is not None:
                    yield chunk
