"""Makes the multi-speaker conversation set and the translation clips (recordings/conversations/).

Run once from the repository root with the venv (needs espeak-ng, the Debian
program): `.venv/bin/python scripts/make_conversations.py`. The WAVs and their
reference JSON are committed, so tests and benchmarks need no espeak-ng.

- Conversations mixing real recordings (recordings/speech: LibriVox read
  speech, the CMU command) with espeak-ng voices answering them.
- Fully synthetic ones: two or three espeak-ng voices planning (explicit
  commitments, each listed in the reference) or making small talk (none,
  with hedges, questions and past tense that must not become action items).
- Translation clips: German, Spanish and French sentences (voices de, es,
  fr) with the English key words their meaning must carry.

Every line is separated from the next by a pause (0.6–0.9 s), as people take
turns; the reference gives each line's speaker, text and time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import wave
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cloud.speech.asr import resample  # noqa: E402

RATE = 16_000
OUT = ROOT / "recordings" / "conversations"
SPEECH = ROOT / "recordings" / "speech"

# Speaker → espeak-ng voice, words per minute and pitch (0–99): pitches far
# apart, as two people's voices are. Whisper base hears these voices well.
VOICES = {
    "Alex": ("en-us+m3", 150, 25),
    "Priya": ("en-gb+f2", 150, 85),
    "Sam": ("en-us+m7", 145, 55),
}
# Spellings espeak-ng says the way people do (Whisper hears its "Priya" as "pre-ear").
SPOKEN = {"Priya": "Pria"}


def espeak(text: str, voice: str, rate: int, pitch: int = 50) -> npt.NDArray[np.float64]:
    for written, spoken in SPOKEN.items():
        text = text.replace(written, spoken)
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(rate), "-p", str(pitch), "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    return decode_wav(wav)


def decode_wav(data: bytes) -> npt.NDArray[np.float64]:
    import io

    with wave.open(io.BytesIO(data)) as source:
        rate = source.getframerate()
        samples = np.frombuffer(source.readframes(source.getnframes()), np.int16)
    audio = resample(samples.astype(np.float32), rate, RATE)
    return audio.astype(np.float64)


def read_recording(name: str) -> npt.NDArray[np.float64]:
    path = SPEECH / name
    if path.suffix == ".raw":
        return np.fromfile(path, dtype="<i2").astype(np.float64)
    with wave.open(str(path)) as source:
        assert source.getframerate() == RATE, path
        return np.frombuffer(source.readframes(source.getnframes()), np.int16).astype(np.float64)


def write_wav(path: Path, samples: npt.NDArray[np.float64]) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(np.clip(np.round(samples), -32768, 32767).astype(np.int16).tobytes())


def level(samples: npt.NDArray[np.float64], rms: float = 2500.0) -> npt.NDArray[np.float64]:
    """Bring every voice to one loudness, as speakers at one table roughly are."""
    current = float(np.sqrt(np.mean(samples**2))) or 1.0
    return samples * (rms / current)


def build(name: str, turns: list[tuple[str, str]], extra: dict[str, Any]) -> None:
    """`turns`: (speaker, text) for espeak voices, or (speaker, "file:<recording>") for real speech."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    pieces = [np.zeros(int(0.6 * RATE))]
    t = 0.6
    lines = []
    for speaker, text in turns:
        if text.startswith("file:"):
            recording = text.removeprefix("file:")
            audio = read_recording(recording)
            words = (SPEECH / recording).with_suffix(".txt").read_text().strip()
            source = f"recordings/speech/{recording} (real)"
        else:
            voice, wpm, pitch = VOICES[speaker]
            audio = espeak(text, voice, wpm, pitch)
            words = text
            source = f"espeak-ng {voice} {wpm} wpm pitch {pitch}"
        audio = level(audio)
        lines.append(
            {
                "speaker": speaker,
                "start": round(t, 3),
                "end": round(t + audio.size / RATE, 3),
                "text": words,
                "source": source,
            }
        )
        gap = float(rng.uniform(0.6, 0.9))
        pieces += [audio, np.zeros(int(gap * RATE))]
        t += audio.size / RATE + gap
    pieces.append(np.zeros(int(0.6 * RATE)))
    mixed = np.concatenate(pieces)
    # A quiet room, not digital silence: the VAD sees what a microphone gives.
    mixed += rng.normal(0.0, 20.0, mixed.size)
    write_wav(OUT / f"{name}.wav", mixed)
    reference = {"name": name, "speakers": sorted({s for s, _ in turns}), "lines": lines, **extra}
    (OUT / f"{name}.json").write_text(json.dumps(reference, indent=2) + "\n")
    print(f"{name}: {len(lines)} lines, {mixed.size / RATE:.1f} s")


def conversations() -> None:
    build(
        "planning-budget",
        [
            ("Alex", "Thanks for making time, Priya. We need a plan for the team offsite."),
            ("Priya", "Sure. The main open points are the budget and the meeting room."),
            ("Alex", "Right. I will send the budget by Friday."),
            ("Alex", "And Priya will book the room tomorrow."),
            ("Priya", "Yes, that works. I will also email the agenda to everyone on Monday."),
            ("Priya", "Perfect. Maybe we could also invite the design team."),
            ("Alex", "Let us decide that next time. Thanks Priya."),
        ],
        {
            "kind": "planning",
            "action_items": [
                {"who": "Alex", "what": "send the budget", "when": "by Friday", "key": "budget"},
                {"who": "Priya", "what": "book the room", "when": "tomorrow", "key": "room"},
                {
                    "who": "Priya",
                    "what": "email the agenda to everyone",
                    "when": "on Monday",
                    "key": "agenda",
                },
            ],
            "summary_mentions": ["offsite", "budget", "room"],
        },
    )
    build(
        "planning-launch",
        [
            ("Sam", "Let's go over the product launch for next month."),
            ("Priya", "The website is nearly finished, but the press release is not written yet."),
            ("Sam", "Okay. I'll write the press release by Wednesday."),
            ("Priya", "Great. I'll test the website this afternoon."),
            ("Sam", "Did marketing say they would print the posters?"),
            ("Priya", "They said they might, but nobody has confirmed."),
            ("Sam", "Then I'll call the printer tomorrow morning."),
        ],
        {
            "kind": "planning",
            "action_items": [
                {
                    "who": "Sam",
                    "what": "write the press release",
                    "when": "by Wednesday",
                    "key": "press release",
                },
                {
                    "who": "Priya",
                    "what": "test the website",
                    "when": "this afternoon",
                    "key": "website",
                },
                {
                    "who": "Sam",
                    "what": "call the printer",
                    "when": "tomorrow morning",
                    "key": "printer",
                },
            ],
            "summary_mentions": ["launch", "press release", "website"],
        },
    )
    build(
        "small-talk-weekend",
        [
            ("Alex", "Hi Sam, how was your weekend?"),
            ("Sam", "Lovely, thanks. We went hiking in the hills on Saturday."),
            ("Alex", "That sounds nice. I think it will rain all week now."),
            ("Sam", "Maybe we could go for a walk together some time."),
            ("Alex", "Maybe. I said I would visit my parents, so I am not sure."),
            ("Sam", "No problem. Anyway, I'll see you later."),
        ],
        {"kind": "small talk", "action_items": [], "summary_mentions": ["weekend"]},
    )
    build(
        "small-talk-coffee",
        [
            ("Priya", "This coffee is really good. Did you try the new bakery?"),
            ("Sam", "Yes, I went there yesterday. The bread was great."),
            ("Priya", "I might go tomorrow if the weather is nice."),
            ("Sam", "It will probably be sunny. Have you seen the football game?"),
            ("Priya", "No, I never watch football. I'll be fine without it."),
        ],
        {"kind": "small talk", "action_items": [], "summary_mentions": ["coffee"]},
    )
    # Real read speech from LibriVox and a real spoken command, with espeak voices between.
    build(
        "reading-group-real",
        [
            ("Reader", "file:librivox-0870.wav"),
            ("Alex", "What do you think he will decide to do for them?"),
            ("Reader", "file:librivox-0880.wav"),
            ("Priya", "I am not so sure about that."),
            ("Reader", "file:librivox-0890.wav"),
            ("Alex", "Good point. I'll bring the next chapter on Thursday."),
        ],
        {
            "kind": "mixed real and synthetic",
            "action_items": [
                {
                    "who": "Alex",
                    "what": "bring the next chapter",
                    "when": "on Thursday",
                    "key": "chapter",
                }
            ],
            "summary_mentions": ["Dashwood"],
        },
    )
    build(
        "robot-demo-real",
        [
            ("Priya", "Here is the robot demo. Watch what it does when you speak to it."),
            ("Operator", "file:goforward-16k-s16le.raw"),
            ("Sam", "It moved about ten meters. That is impressive."),
            ("Operator", "file:librivox-0880.wav"),
            ("Priya", "Sam will write the test report by Tuesday."),
        ],
        {
            "kind": "mixed real and synthetic",
            "action_items": [
                {
                    "who": "Sam",
                    "what": "write the test report",
                    "when": "by Tuesday",
                    "key": "report",
                }
            ],
            "summary_mentions": ["robot"],
        },
    )


# (name, voice, text, English key words: each group must have one word in the caption).
TRANSLATION_CLIPS = [
    ("de-station", "de", "Entschuldigung, wo ist der Bahnhof? Ich muss den Zug nach Berlin nehmen.",
     [["station", "train"], ["berlin"]]),
    ("de-water", "de", "Das Wasser ist heute sehr kalt. Wir gehen nicht schwimmen.",
     [["water"], ["cold"], ["swim", "swimming"]]),
    ("es-station", "es", "Perdone, ¿dónde está la estación de tren? Tengo que tomar el tren a Madrid.",
     [["station", "train"], ["madrid"]]),
    ("es-sister", "es", "Mi hermana trabaja en un hospital grande en Madrid.",
     [["sister"], ["hospital"]]),
    ("fr-station", "fr", "Excusez-moi, où est la gare? Je dois prendre le train pour Paris.",
     [["station", "train"], ["paris"]]),
    ("fr-bread", "fr", "Je voudrais acheter du pain et du fromage pour le dîner.",
     [["bread"], ["cheese"]]),
    ("de-hungry", "de", "Ich habe Hunger. Gibt es hier ein gutes Restaurant?",
     [["hungry", "hunger"], ["restaurant"]]),
    ("es-doctor", "es", "Necesito un médico. Mi hijo está enfermo.",
     [["doctor"], ["son", "child", "boy"]]),
    ("fr-ticket", "fr", "Combien coûte un billet de train pour Londres?",
     [["ticket"], ["london"]]),
]  # fmt: skip


def translation_clips() -> None:
    folder = OUT / "translation"
    folder.mkdir(exist_ok=True)
    reference = []
    for name, voice, text, keys in TRANSLATION_CLIPS:
        audio = level(espeak(text, voice, 130))
        silence = np.zeros(int(0.5 * RATE))
        write_wav(folder / f"{name}.wav", np.concatenate([silence, audio, silence]))
        reference.append(
            {"file": f"{name}.wav", "language": voice, "text": text, "english_keys": keys}
        )
    (folder / "clips.json").write_text(json.dumps(reference, indent=2, ensure_ascii=False) + "\n")
    print(f"translation: {len(reference)} clips")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    conversations()
    translation_clips()
