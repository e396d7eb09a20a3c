"""Files Chromium plays as a fake camera and microphone: y4m video and wav audio.

Written with numpy (and OpenCV's colour conversion), so CI needs no ffmpeg.
"""

from __future__ import annotations

import wave
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt


def write_y4m(path: Path, image: npt.NDArray[np.uint8], *, frames: int = 10, fps: int = 10) -> None:
    """A still BGR image as a short 4:2:0 y4m clip (Chromium loops it)."""
    height, width = image.shape[:2]
    even = cv2.resize(image, (width - width % 2, height - height % 2))
    height, width = even.shape[:2]
    i420 = cv2.cvtColor(even, cv2.COLOR_BGR2YUV_I420).tobytes()
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n")
            out.write(i420)


def write_wav_with_pause(source: Path, path: Path, *, pause_s: float = 2.5) -> None:
    """The recording followed by silence, so a looped question has an end of speech."""
    with wave.open(str(source)) as wav:
        channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
        frames = wav.readframes(wav.getnframes())
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(frames + bytes(int(rate * pause_s) * channels * width))
