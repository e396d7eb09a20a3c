"""Smart Turn v3.2 on the project's real read speech: what it says at a reader's comma and at
the end of a sentence, how long a call takes, and how many turns the endpointer makes of one
sentence with and without it.

    python -m simulators.bench_turn_end [--json]
"""

from __future__ import annotations

import argparse
import json
import time

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


def _speech(name: str) -> npt.NDArray[np.int16]:
    return read_audio(RECORDINGS / "speech" / name, None)


def _turns(listener: Listener, audio: npt.NDArray[np.int16]) -> int:
    events: list[EndpointEvent] = []
    for offset in range(0, len(audio), CHUNK_SAMPLES):
        events += listener.feed(
            AudioChunk(offset / SAMPLE_RATE, audio[offset : offset + CHUNK_SAMPLES])
        )
    return sum(isinstance(e, SpeechEnded) for e in events + listener.flush())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    model = SmartTurn()
    pause = np.zeros(SAMPLE_RATE // 5, dtype=np.int16)
    model.completion(pause)  # the first call pays for onnxruntime's set-up
    points = []
    for name, where in POINTS:
        audio = np.concatenate([_speech(name), pause])
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
    sentence = np.concatenate(
        [
            _speech("librivox-0880.wav"),
            np.zeros(int(0.7 * SAMPLE_RATE), np.int16),
            _speech("librivox-0890.wav"),
            np.zeros(SAMPLE_RATE, np.int16),
        ]
    )
    turns = {
        "silence_only": _turns(Listener(SileroVad()), sentence),
        "smart_turn": _turns(Listener(SileroVad(), turn_end=TurnEndPolicy(model)), sentence),
    }
    if args.json:
        print(json.dumps({"points": points, "turns_for_comma_sentence": turns}))
        return
    for point in points:
        print(
            f"{point['clip']:20} {point['at']:50} p(complete)={point['p_complete']:.3f}"
            f"  {point['ms']:.0f} ms"
        )
    print(
        "0880 + 0.7 s pause + 0890 (one sentence): "
        f"{turns['silence_only']} turns on silence alone, {turns['smart_turn']} with Smart Turn"
    )


if __name__ == "__main__":
    main()
