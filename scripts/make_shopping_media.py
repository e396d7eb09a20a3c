"""Makes the media of the shopping scenarios (scenarios/shopping-*.json).

The spoken questions come from espeak-ng (voice en-us+m3, as
scripts/make_scenarios.sh), made 16 kHz mono 16-bit with 0.5 s of silence
before and 0.7 s after, here with numpy instead of sox; the label photos come
from scripts/make_product_set.py. Run once from the repository root
(`.venv/bin/python scripts/make_shopping_media.py`); the files are committed, so
`companion eval` needs neither espeak-ng nor this script.
"""

from __future__ import annotations

import io
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cloud.speech.asr import resample  # noqa: E402

RATE = 16_000
# Name: (words, espeak-ng words per minute). Picked so Whisper base hears each question
# word for word: espeak's "peanuts" reaches it as "behuts" ("pea nuts" does not), "I took
# it" as "I talk it", and "oat milk" as "don't milk" in every voice tried, so the oat
# milk scenario types that request (as in the phone app) and speaks the questions.
QUESTIONS = {
    "shopping-allergy-fact": ("I'm allergic to pea nuts.", 130),
    "shopping-can-i-eat": ("Can I eat this?", 130),
    "shopping-on-my-list": ("Is this on my list?", 110),
    "shopping-took-it": ("I'll take it.", 130),
    "shopping-amelia-likes": ("Amelia loves dark chocolate.", 130),
    "shopping-which-amelia": ("Which one would Amelia like?", 120),
    "shopping-mode": ("I'm shopping.", 130),
    "shopping-cheaper": ("Is this cheaper than last time?", 130),
}


def speak(text: str, path: Path, rate_wpm: int = 130) -> None:
    spoken = subprocess.run(
        ["espeak-ng", "-v", "en-us+m3", "-s", str(rate_wpm), "--stdout", text],
        capture_output=True,
        check=True,
    ).stdout
    with wave.open(io.BytesIO(spoken)) as source:
        rate = source.getframerate()
        samples = np.frombuffer(source.readframes(source.getnframes()), np.int16)
    audio = resample(samples.astype(np.float32), rate, RATE)
    padded = np.concatenate(
        [np.zeros(int(0.5 * RATE), np.float32), audio, np.zeros(int(0.7 * RATE), np.float32)]
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(np.clip(padded, -32768, 32767).astype(np.int16).tobytes())


if __name__ == "__main__":
    folder = ROOT / "scenarios" / "media"
    for name, (text, rate_wpm) in QUESTIONS.items():
        speak(text, folder / f"{name}.wav", rate_wpm)
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_product_set.py"), "scenarios"], check=True
    )
