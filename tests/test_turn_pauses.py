"""Real speech with a pause inside a sentence is one turn, through the edge's own listener.

The clips (`recordings/speech/pauses/`, see pauses.json) are a LibriVox reader's
sentences with the reader's own pause at a comma. On silence alone the
endpointer cuts each at that pause; with Smart Turn (the product's listener,
`EdgeModels.listener`) the sentence is one turn, and a full stop still ends one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from edge.audio.endpointing import SpeechEnded
from edge.audio.listener import Listener
from edge.audio.vad import SileroVad
from edge.config import EdgeConfig
from edge.models import EdgeModels
from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk
from simulators.media import read_audio

# After the last word, the quiet a wearer leaves before the answer (longer than any cap).
TRAILING_SILENCE_S = 2.5


def _clips(recordings: Path) -> list[dict[str, Any]]:
    manifest = json.loads((recordings / "speech" / "pauses" / "pauses.json").read_text())
    clips: list[dict[str, Any]] = manifest["clips"]
    return clips


def _turns(listener: Listener, audio: npt.NDArray[np.int16]) -> list[SpeechEnded]:
    audio = np.concatenate([audio, np.zeros(int(TRAILING_SILENCE_S * SAMPLE_RATE), np.int16)])
    events = []
    for offset in range(0, len(audio), CHUNK_SAMPLES):
        events += listener.feed(
            AudioChunk(offset / SAMPLE_RATE, audio[offset : offset + CHUNK_SAMPLES])
        )
    return [e for e in events + listener.flush() if isinstance(e, SpeechEnded)]


@pytest.fixture(scope="module")
def edge_models() -> EdgeModels:
    return EdgeModels()


def test_the_clips_have_pauses_that_silence_alone_cuts_at(recordings: Path) -> None:
    for clip in _clips(recordings):
        audio = read_audio(recordings / "speech" / "pauses" / clip["file"], None)
        turns = _turns(Listener(SileroVad()), audio)
        assert len(turns) == clip["sentences"] + clip["pauses_inside"], clip["file"]


def test_a_sentence_with_a_pause_inside_is_one_turn_with_smart_turn(
    recordings: Path, edge_models: EdgeModels
) -> None:
    for clip in _clips(recordings):
        audio = read_audio(recordings / "speech" / "pauses" / clip["file"], None)
        turns = _turns(edge_models.listener(EdgeConfig()), audio)
        assert len(turns) == clip["sentences"], clip["file"]
        # Each turn ends where a sentence ends, not at the pause inside it.
        for turn, end in zip(turns, clip["sentence_ends"], strict=True):
            assert abs(turn.speech_end - end) < 0.15, (clip["file"], turn.speech_end, end)
