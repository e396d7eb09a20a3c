"""Reading ordinary media files as the edge would hear and see them.

`read_audio` turns any file PyAV (FFmpeg) decodes, or raw PCM, into the 16 kHz
mono int16 samples the edge works on. `open_video` turns a video, an animated
GIF or a still image into time-stamped BGR frames. Whatever goes wrong with a
file ends as one `MediaError` naming it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import cast

import av
import cv2
import numpy as np
import numpy.typing as npt

from edge.errors import MediaError
from edge.sources.media import SAMPLE_RATE, VideoFrame

log = logging.getLogger(__name__)

STILL_IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".jp2", ".pgm", ".ppm"}
)
RAW_PCM_SUFFIXES = frozenset({".raw", ".pcm", ".s16", ".s16le"})
STILL_FPS = 5.0


def read_audio(path: Path | str, audio_format: str | None = None) -> npt.NDArray[np.int16]:
    """The audio of `path` as 16 kHz mono int16 samples.

    `audio_format` is for headerless PCM: "s16le:RATE[:CHANNELS]", e.g.
    "s16le:16000" or "s16le:44100:2". Without it the file is decoded by
    FFmpeg, so wav, flac, mp3, ogg and the audio track of a video all work.
    """
    path = Path(path)
    _check_file(path)
    if audio_format is not None:
        samples = _read_raw_pcm(path, audio_format)
    elif path.suffix.lower() in RAW_PCM_SUFFIXES:
        raise MediaError(
            f"{path}: raw PCM has no header; say what it holds, e.g. audio_format='s16le:16000'"
        )
    else:
        samples = _decode_audio(path)
    if len(samples) == 0:
        raise MediaError(f"{path}: holds no audio samples")
    return samples


def _check_file(path: Path) -> None:
    if not path.exists():
        raise MediaError(f"{path}: no such file")
    if not path.is_file():
        raise MediaError(f"{path}: not a file")


def _parse_pcm_format(audio_format: str) -> tuple[int, int]:
    parts = audio_format.lower().split(":")
    try:
        if parts[0] != "s16le" or not 1 <= len(parts) <= 3:
            raise ValueError
        rate = int(parts[1]) if len(parts) > 1 else SAMPLE_RATE
        channels = int(parts[2]) if len(parts) > 2 else 1
        if rate <= 0 or channels <= 0:
            raise ValueError
    except ValueError:
        raise MediaError(
            f"audio format {audio_format!r} not understood: use s16le:RATE[:CHANNELS], "
            "e.g. s16le:16000 or s16le:44100:2"
        ) from None
    return rate, channels


def _read_raw_pcm(path: Path, audio_format: str) -> npt.NDArray[np.int16]:
    rate, channels = _parse_pcm_format(audio_format)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MediaError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    frames = len(data) // (2 * channels)
    interleaved = np.frombuffer(data, dtype="<i2", count=frames * channels)
    mono: npt.NDArray[np.int16]
    if channels > 1:
        mixed = interleaved.reshape(frames, channels).mean(axis=1, dtype=np.float64)
        mono = np.round(mixed).astype(np.int16)
    else:
        mono = interleaved.astype(np.int16)  # native byte order, and a copy we own
    if rate == SAMPLE_RATE or frames == 0:
        return mono
    frame = av.AudioFrame.from_ndarray(mono.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    return _resample([frame])


def _decode_audio(path: Path) -> npt.NDArray[np.int16]:
    frames: list[av.AudioFrame] = []
    broken = 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError(f"{path}: has no audio track")
            stream = container.streams.audio[0]
            for packet in container.demux(stream):
                try:
                    frames += packet.decode()
                except av.error.InvalidDataError:
                    broken += 1
    except av.FFmpegError as exc:
        if not frames:
            raise MediaError(f"{path}: cannot read audio: {_reason(exc)}") from exc
        log.warning("%s: audio ends early: %s", path, _reason(exc))
    if broken:
        log.warning("%s: skipped %d undecodable audio packets", path, broken)
    return _resample(frames)


def _resample(frames: list[av.AudioFrame]) -> npt.NDArray[np.int16]:
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    pieces: list[npt.NDArray[np.int16]] = []
    for frame in [*frames, None]:
        for out in resampler.resample(frame):
            pieces.append(cast("npt.NDArray[np.int16]", out.to_ndarray()).reshape(-1))
    if not pieces:
        return np.zeros(0, dtype=np.int16)
    return np.concatenate(pieces).astype(np.int16, copy=False)


def _reason(exc: Exception) -> str:
    strerror = getattr(exc, "strerror", None)
    return str(strerror) if strerror else str(exc)


class VideoReader:
    """Frames of one video file or still image; iterate `frames()` as often as needed.

    A video's timestamps come from the stream (pts × time_base), shifted so the
    first frame is at 0. A still image is one frame repeated at `STILL_FPS` for
    `still_s` seconds; the repeats share one read-only array. Frames FFmpeg
    cannot decode are skipped and counted in `skipped_frames`.
    """

    def __init__(self, path: Path, *, still: npt.NDArray[np.uint8] | None, still_s: float) -> None:
        self.path = path
        self.still_s = still_s
        self.skipped_frames = 0
        self._still = still

    @property
    def is_still(self) -> bool:
        return self._still is not None

    def frames(self) -> Generator[VideoFrame, None, None]:
        if self._still is not None:
            count = max(1, math.ceil(self.still_s * STILL_FPS - 1e-9))
            for index in range(count):
                yield VideoFrame(index / STILL_FPS, self._still)
            return
        yield from self._decode()

    def __iter__(self) -> Iterator[VideoFrame]:
        return self.frames()

    def _decode(self) -> Generator[VideoFrame, None, None]:
        decoded = 0
        skipped = 0
        first: float | None = None
        last = 0.0
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                step = 1.0 / float(stream.average_rate) if stream.average_rate else 1.0 / 25
                packets = container.demux(stream)
                while True:
                    try:
                        packet = next(packets)
                    except StopIteration:
                        break
                    except av.FFmpegError as exc:  # a damaged or truncated container
                        log.warning("%s: video ends early: %s", self.path, _reason(exc))
                        break
                    try:
                        pictures = packet.decode()
                    except av.FFmpegError:
                        skipped += 1
                        continue
                    for picture in pictures:
                        t = picture.time if picture.time is not None else last + step
                        if first is None:
                            first = t
                        last = max(t, last)  # never let time run backwards
                        decoded += 1
                        image = cast("npt.NDArray[np.uint8]", picture.to_ndarray(format="bgr24"))
                        yield VideoFrame(max(last - first, 0.0), image)
        except av.FFmpegError as exc:
            raise MediaError(f"{self.path}: cannot read video: {_reason(exc)}") from exc
        finally:
            self.skipped_frames += skipped
            if skipped:
                log.warning("%s: skipped %d undecodable video packets", self.path, skipped)
        if decoded == 0:
            raise MediaError(f"{self.path}: no video frame could be decoded")


def open_video(path: Path | str, *, still_s: float = 1.0) -> VideoReader:
    """A reader for a video PyAV decodes (mp4, mkv, webm, gif …) or a still image.

    The file is checked now, so a missing or unreadable file fails here with a
    `MediaError` rather than midway through a replay. `still_s` is how long a
    still image is shown.
    """
    path = Path(path)
    _check_file(path)
    if path.suffix.lower() in STILL_IMAGE_SUFFIXES:
        return VideoReader(path, still=_read_still(path), still_s=still_s)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{path}: has no video track")
    except av.FFmpegError as exc:
        # Not a container FFmpeg knows: perhaps an image with an unusual name.
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise MediaError(f"{path}: cannot read video: {_reason(exc)}") from exc
        return VideoReader(path, still=_frozen(image), still_s=still_s)
    return VideoReader(path, still=None, still_s=still_s)


def _read_still(path: Path) -> npt.NDArray[np.uint8]:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise MediaError(f"{path}: cannot read image (damaged, or a format OpenCV lacks)")
    return _frozen(image)


def _frozen(image: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
    frozen = np.ascontiguousarray(image, dtype=np.uint8)
    frozen.flags.writeable = False
    return frozen
