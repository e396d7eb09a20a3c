"""The bundled Piper voice: how fast it speaks a sentence, and how well Whisper reads it back.

    python -m simulators.bench_speaker [--json]

Each sentence is synthesised three times (the first run pays for onnxruntime's
set-up and is left out); the real-time factor is synthesis time over audio length.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from cloud.speech.asr import WhisperTranscriber
from cloud.speech.speaker import PiperSpeaker
from simulators.wer import word_error_rate

SENTENCES = (
    "The sign says no parking between eight and six.",
    "Your next meeting is with the design team, in room four, after lunch.",
    "I put milk, eggs and bread on your shopping list.",
    "The page is the first chapter of a novel; it was a bright cold day in April.",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    speaker = PiperSpeaker()
    load_s = time.perf_counter() - started
    whisper = WhisperTranscriber()
    rows = []
    errors = words = 0
    for text in SENTENCES:
        speaker.synthesize(text)
        runs = []
        for _ in range(2):
            started = time.perf_counter()
            audio = speaker.synthesize(text)
            runs.append(time.perf_counter() - started)
        seconds = audio.size / speaker.sample_rate
        heard = whisper.transcribe(audio, speaker.sample_rate)
        wrong, total = word_error_rate(text, heard)
        errors, words = errors + wrong, words + total
        rows.append(
            {
                "text": text,
                "audio_s": round(seconds, 2),
                "synth_ms": round(statistics.median(runs) * 1000, 1),
                "rtf": round(statistics.median(runs) / seconds, 3),
                "heard": heard,
                "wer": round(wrong / total, 3),
            }
        )
    summary = {"load_s": round(load_s, 2), "wer": round(errors / words, 3), "sentences": rows}
    if args.json:
        print(json.dumps(summary))
        return
    print(f"Piper en_US-joe-medium loaded in {load_s:.2f} s")
    for row in rows:
        print(
            f"{row['audio_s']:5.2f} s of speech in {row['synth_ms']:6.0f} ms "
            f"(RTF {row['rtf']:.3f}), WER {row['wer']:.0%}: {row['heard']}"
        )
    print(f"word error of the read-back over all sentences: {summary['wer']:.1%}")


if __name__ == "__main__":
    main()
