"""How much of each 32 ms of audio the edge spends deciding whether it is speech.

Three figures, all single-threaded as on the edge:

- bare onnxruntime: one `session.run` of Silero VAD on prepared inputs, the floor;
- `SileroVad.probability`: the same model with its state, context and buffers;
- the listener: VAD plus re-chunking and endpointing, over a real recording
  (the demo question by default), per 32 ms chunk, mean and 99th percentile.

Each is the best of `repeats` runs, taken in turn, so the figure is the code's
cost rather than the machine's other load.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from edge.audio.endpointing import SpeechEnded
from edge.audio.listener import Listener
from edge.audio.vad import SileroVad, bare_silero_call_ms, open_session, silero_vad_call_ms
from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk
from simulators.media import read_audio
from simulators.replay import with_tail_silence

DEMO_QUESTION = Path(__file__).resolve().parent / "demo" / "question-page.wav"
CHUNK_MS = CHUNK_SAMPLES / SAMPLE_RATE * 1000


def bench_vad(
    audio: Path = DEMO_QUESTION, *, chunks: int = 2000, repeats: int = 5
) -> dict[str, Any]:
    """Figures for `companion bench edge`; takes a few seconds."""
    session = open_session()
    vad = SileroVad(session)
    bare_silero_call_ms(200, session)  # warm up: first runs allocate the arena
    silero_vad_call_ms(200, vad)
    samples = with_tail_silence(read_audio(audio), 1.0)
    pieces = [
        AudioChunk(offset / SAMPLE_RATE, samples[offset : offset + CHUNK_SAMPLES])
        for offset in range(0, len(samples), CHUNK_SAMPLES)
    ]
    listener = Listener(vad)
    bare = ours = float("inf")
    best: list[float] | None = None
    segments: list[SpeechEnded] = []
    # The three are timed in turn within each repeat, so a slow spell on the machine
    # hits all of them alike and the ratios compare like with like.
    for _ in range(repeats):
        bare = min(bare, bare_silero_call_ms(chunks, session))
        ours = min(ours, silero_vad_call_ms(chunks, vad))
        timings: list[float] = []
        segments = []
        for piece in pieces:
            started = time.perf_counter()
            events = listener.feed(piece)
            timings.append((time.perf_counter() - started) * 1000.0)
            segments += [e for e in events if isinstance(e, SpeechEnded)]
        segments += [e for e in listener.flush() if isinstance(e, SpeechEnded)]
        if best is None or sum(timings) < sum(best):
            best = timings
    assert best is not None
    listener_mean = float(np.mean(best))
    return {
        "chunk_ms": CHUNK_MS,
        "bare_onnxruntime_ms": round(bare, 4),
        "silero_vad_ms": round(ours, 4),
        "overhead_ratio": round(ours / bare, 3),
        "listener_ms_mean": round(listener_mean, 4),
        "listener_ms_p99": round(float(np.percentile(best, 99)), 4),
        "share_of_realtime": round(listener_mean / CHUNK_MS, 5),
        "audio": str(audio),
        "segments": [
            {
                "speech_start": round(s.speech_start, 3),
                "speech_end": round(s.speech_end, 3),
                "detected_at": round(s.detected_at, 3),
            }
            for s in segments
        ],
    }
