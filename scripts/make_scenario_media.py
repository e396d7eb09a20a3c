"""Derived media for the evaluation scenarios (run by scripts/make_scenarios.sh).

Quiet and noisy versions of a spoken question, a clip with noise and no
speech, and a station sign never seen by the code, photographed in perspective.
"""

from __future__ import annotations

import sys
import wave
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

RATE = 16_000
RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"


def read_wav(path: Path) -> npt.NDArray[np.float64]:
    with wave.open(str(path)) as source:
        return np.frombuffer(source.readframes(source.getnframes()), np.int16).astype(np.float64)


def write_wav(path: Path, samples: npt.NDArray[np.float64]) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(np.clip(samples, -32768, 32767).astype(np.int16).tobytes())


def rms(samples: npt.NDArray[np.float64]) -> float:
    return float(np.sqrt(np.mean(samples**2)))


def babble(length: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Pink-ish noise: white noise through a one-pole low-pass, like a busy room's hum."""
    white = rng.standard_normal(length)
    out = np.empty(length)
    level = 0.0
    for i, x in enumerate(white):
        level = 0.97 * level + 0.03 * x
        out[i] = level
    return out / (rms(out) or 1.0)


def make_audio(folder: Path) -> None:
    rng = np.random.default_rng(7)
    look = read_wav(folder / "question-look.wav")
    # Quiet: a wearer speaking softly, 20 dB down, over a faint microphone floor.
    write_wav(folder / "question-look-quiet.wav", look * 0.1 + rng.normal(0, 3, len(look)))
    # Noisy: the question over room noise at 15 dB signal-to-noise (at 10 dB Whisper base
    # hears "well that might look youing at").
    speech = look[np.abs(look) > 0]
    noise = babble(len(look), rng) * rms(speech) / (10 ** (15 / 20))
    write_wav(folder / "question-look-noisy.wav", look + noise)
    # No speech: three seconds of the same room noise at a talking level.
    write_wav(folder / "room-noise.wav", babble(3 * RATE, rng) * 1500)
    # Barge-in needs no clip of its own: the evaluation speaks stop.wav once the answer to
    # long-question.wav streams (simulators/barge_in.py); a fixed gap missed it under load.


def make_sign_photo(path: Path, background: Path) -> None:
    """A station sign on a real photo, in perspective, slightly blurred and noisy."""
    photo = cv2.imread(str(background))
    if photo is None:
        raise SystemExit(f"cannot read {background}")
    scene = cv2.resize(photo, (640, 480))
    board = np.full((220, 520, 3), (120, 60, 20), np.uint8)
    cv2.putText(board, "PLATFORM 9", (30, 95), cv2.FONT_HERSHEY_DUPLEX, 2.2, (255, 255, 255), 4)
    cv2.putText(
        board, "Trains to Brighton", (30, 170), cv2.FONT_HERSHEY_DUPLEX, 1.3, (255, 255, 255), 2
    )
    src = np.array([[0, 0], [520, 0], [520, 220], [0, 220]], np.float32)
    dst = np.array([[70, 110], [560, 140], [555, 330], [80, 350]], np.float32)
    warp = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(board, warp, (640, 480))
    mask = cv2.warpPerspective(np.full((220, 520), 255, np.uint8), warp, (640, 480)) > 0
    scene[mask] = warped[mask]
    scene = cv2.GaussianBlur(scene, (3, 3), 0.8)
    noise = np.random.default_rng(7).normal(0, 4, scene.shape)
    cv2.imwrite(
        str(path), np.clip(scene + noise, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 85]
    )


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "scenarios/media")
    make_audio(folder)
    make_sign_photo(folder / "sign.jpg", RECORDINGS / "images" / "chelsea.png")


if __name__ == "__main__":
    main()
