"""Smart Turn v3.2 on the project's real read speech: what it says at a reader's comma and at
the end of a sentence, how long a call takes, and, on the real sentences with a pause inside
(recordings/speech/pauses), how many turns the endpointer makes of each with and without it
and how long after the last word it says the turn is over.

    companion bench turn-end [--json]   (or python -m simulators.bench_turn_end)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.audio.endpointing import EndpointEvent, SpeechEnded
from edge.audio.listener import Listener
from edge.audio.smart_turn import SmartTurn, TurnEndPolicy
from edge.audio.vad import SileroVad
from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk
from simulators.media import read_audio
from simulators.recordings import RECORDINGS

# Consecutive phrases of one sentence of the same LibriVox reading ("Sense and Sensibility").
POINTS = (
    ("librivox-0880.wav", "comma: 'He was not an ill-disposed young man,'"),
    ("librivox-0890.wav", "colon: '… rather selfish is to be ill-disposed:'"),
    ("librivox-0870.wav", "full stop: '… in his power to do for them.'"),
)


def _speech(name: str, recordings: Path = RECORDINGS) -> npt.NDArray[np.int16]:
    return read_audio(recordings / "speech" / name, None)


def _turn_ends(listener: Listener, audio: npt.NDArray[np.int16]) -> list[SpeechEnded]:
    events: list[EndpointEvent] = []
    for offset in range(0, len(audio), CHUNK_SAMPLES):
        events += listener.feed(
            AudioChunk(offset / SAMPLE_RATE, audio[offset : offset + CHUNK_SAMPLES])
        )
    return [e for e in events + listener.flush() if isinstance(e, SpeechEnded)]


def _turns(listener: Listener, audio: npt.NDArray[np.int16]) -> int:
    return len(_turn_ends(listener, audio))


def pause_clips(recordings: Path = RECORDINGS) -> list[dict[str, Any]]:
    """The real sentences with pauses inside (recordings/speech/pauses/pauses.json)."""
    manifest = json.loads((recordings / "speech" / "pauses" / "pauses.json").read_text())
    clips: list[dict[str, Any]] = manifest["clips"]
    return clips


def _pauses(model: SmartTurn, recordings: Path) -> list[dict[str, Any]]:
    """Each pause clip: turns on silence alone and with Smart Turn, and how long after its
    last word each way took to say the turn was over."""
    rows = []
    for clip in pause_clips(recordings):
        audio = read_audio(recordings / "speech" / "pauses" / clip["file"], None)
        audio = np.concatenate([audio, np.zeros(3 * SAMPLE_RATE, np.int16)])
        row: dict[str, Any] = {"clip": clip["file"], "sentences": clip["sentences"]}
        for name, policy in (("silence_only", None), ("smart_turn", TurnEndPolicy(model))):
            ends = _turn_ends(Listener(SileroVad(), turn_end=policy), audio)
            row[name] = {
                "turns": len(ends),
                "last_word_to_end_ms": [round((e.detected_at - e.speech_end) * 1000) for e in ends],
            }
        rows.append(row)
    return rows


def bench_turn_end(recordings: Path = RECORDINGS) -> dict[str, Any]:
    model = SmartTurn()
    pause = np.zeros(SAMPLE_RATE // 5, dtype=np.int16)
    model.completion(pause)  # the first call pays for onnxruntime's set-up
    points = []
    for name, where in POINTS:
        audio = np.concatenate([_speech(name, recordings), pause])
        started = time.perf_counter()
        probability = model.completion(audio)
        points.append(
            {
                "clip": name,
                "at": where,
                "p_complete": round(probability, 3),
                "ms": round((time.perf_counter() - started) * 1000, 1),
            }
        )
    return {"points": points, "pause_clips": _pauses(model, recordings)}


def print_turn_end(result: dict[str, Any]) -> None:
    for point in result["points"]:
        print(
            f"{point['clip']:20} {point['at']:50} p(complete)={point['p_complete']:.3f}"
            f"  {point['ms']:.0f} ms"
        )
    for row in result["pause_clips"]:
        silence, smart = row["silence_only"], row["smart_turn"]
        print(
            f"{row['clip']:22} {row['sentences']} sentence(s): {silence['turns']} turns on "
            f"silence alone, {smart['turns']} with Smart Turn "
            f"(last word → end of turn {smart['last_word_to_end_ms']} ms)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = bench_turn_end()
    if args.json:
        print(json.dumps(result))
    else:
        print_turn_end(result)


if __name__ == "__main__":
    main()
