"""Semantic end of turn: Smart Turn v3.2 on real read speech, and the endpointer's use of it.

The project's real recordings (recordings/speech, LibriVox "Sense and Sensibility")
have no pause inside any clip: each is one phrase cut out of a longer reading.
Two of them are consecutive phrases of one sentence, "He was not an ill-disposed
young man, | unless to be rather cold-hearted and rather selfish is to be
ill-disposed: …": librivox-0880 ends at the reader's comma, librivox-0890 at the
colon, and librivox-0870 ends its sentence with a full stop. So the comma's
prosody is real; the silence after it is the clip's own tail plus digital
silence, as the endpointer would hear it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from edge.audio.endpointing import EndpointConfig, Endpointer, EndpointEvent, SpeechEnded
from edge.audio.listener import Listener
from edge.audio.smart_turn import (
    FRAMES,
    MAX_SILENCE_MS,
    N_MELS,
    SmartTurn,
    TurnEndPolicy,
    log_mel_features,
)
from edge.audio.vad import SileroVad
from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk
from simulators.media import read_audio

CHUNK_S = CHUNK_SAMPLES / SAMPLE_RATE


def _speech(recordings: Path, name: str) -> npt.NDArray[np.int16]:
    return read_audio(recordings / "speech" / name, None)


def _silence(seconds: float) -> npt.NDArray[np.int16]:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)


@pytest.fixture(scope="module")
def smart_turn() -> SmartTurn:
    return SmartTurn()


@pytest.mark.models
def test_features_are_whispers_log_mel_of_the_last_8_seconds(recordings: Path) -> None:
    from transformers import WhisperFeatureExtractor

    audio = _speech(recordings, "librivox-0870.wav")
    audio = np.concatenate([audio, audio])  # 14 s: only the last 8 s count
    extractor = WhisperFeatureExtractor(chunk_length=8)  # type: ignore[no-untyped-call]
    reference = extractor(
        audio[-8 * SAMPLE_RATE :].astype(np.float32) / 32768.0,
        sampling_rate=SAMPLE_RATE,
        padding="max_length",
        max_length=8 * SAMPLE_RATE,
        truncation=True,
        do_normalize=True,
        return_tensors="np",
    ).input_features[0]
    features = log_mel_features(audio)
    assert features.shape == (N_MELS, FRAMES) == reference.shape
    assert np.abs(features - reference).max() < 1e-3


@pytest.mark.models
def test_a_readers_comma_is_heard_as_an_unfinished_turn(
    recordings: Path, smart_turn: SmartTurn
) -> None:
    at_comma = np.concatenate([_speech(recordings, "librivox-0880.wav"), _silence(0.2)])
    assert smart_turn.completion(at_comma) < 0.5


@pytest.mark.models
@pytest.mark.parametrize("name", ["librivox-0870.wav", "librivox-0890.wav"])
def test_the_end_of_a_read_sentence_is_heard_as_a_finished_turn(
    recordings: Path, smart_turn: SmartTurn, name: str
) -> None:
    at_end = np.concatenate([_speech(recordings, name), _silence(0.2)])
    assert smart_turn.completion(at_end) > 0.8


def _listen(listener: Listener, audio: npt.NDArray[np.int16]) -> list[SpeechEnded]:
    events: list[EndpointEvent] = []
    for offset in range(0, len(audio), CHUNK_SAMPLES):
        chunk = AudioChunk(offset / SAMPLE_RATE, audio[offset : offset + CHUNK_SAMPLES])
        events += listener.feed(chunk)
    return [e for e in events + listener.flush() if isinstance(e, SpeechEnded)]


@pytest.mark.models
def test_a_sentence_read_with_a_pause_at_its_comma_is_one_turn_with_smart_turn(
    recordings: Path, smart_turn: SmartTurn
) -> None:
    # The two halves of the sentence, in the reader's order, 0.7 s apart.
    sentence = np.concatenate(
        [
            _speech(recordings, "librivox-0880.wav"),
            _silence(0.7),
            _speech(recordings, "librivox-0890.wav"),
            _silence(1.0),
        ]
    )
    silence_only = _listen(Listener(SileroVad()), sentence)
    assert len(silence_only) == 2  # the fixed silence cuts it at the comma
    with_model = _listen(Listener(SileroVad(), turn_end=TurnEndPolicy(smart_turn)), sentence)
    assert len(with_model) == 1
    (turn,) = with_model
    # Ended at the short silence after "ill-disposed:", not at the cap or the stream's end.
    assert turn.detected_at - turn.speech_end < MAX_SILENCE_MS / 1000 - 0.3


@dataclass
class ScriptedModel:
    """Says `verdicts` in turn, one per question; records how much audio it heard."""

    verdicts: list[float]
    heard: list[int] = field(default_factory=list)

    def completion(self, samples: npt.NDArray[np.int16]) -> float:
        self.heard.append(len(samples))
        return self.verdicts[len(self.heard) - 1]


def _push(
    endpointer: Endpointer, pattern: list[tuple[float, int]], *, start: int = 0
) -> list[SpeechEnded]:
    """Feed (probability, chunks) runs from chunk number `start`; return the utterances
    that ended."""
    ended: list[SpeechEnded] = []
    t = start * CHUNK_S
    for probability, chunks in pattern:
        for _ in range(chunks):
            events = endpointer.push(AudioChunk(t, np.ones(CHUNK_SAMPLES, np.int16)), probability)
            ended += [e for e in events if isinstance(e, SpeechEnded)]
            t += CHUNK_S
    return ended


CONFIG = EndpointConfig(end_silence_ms=288, pre_roll_ms=0, min_speech_ms=64)


def test_a_turn_that_sounds_complete_ends_at_the_short_silence() -> None:
    model = ScriptedModel([0.9])
    endpointer = Endpointer(CONFIG, TurnEndPolicy(model, max_silence_ms=1600))
    (turn,) = _push(endpointer, [(0.9, 20), (0.0, 9)])
    assert turn.detected_at - turn.speech_end == pytest.approx(9 * CHUNK_S)
    assert len(model.heard) == 1


def test_a_turn_that_sounds_unfinished_waits_up_to_the_cap() -> None:
    model = ScriptedModel([0.1])
    endpointer = Endpointer(CONFIG, TurnEndPolicy(model, max_silence_ms=1600))
    assert _push(endpointer, [(0.9, 20), (0.0, 49)]) == []  # 1568 ms: still waiting
    (turn,) = _push(endpointer, [(0.0, 1)], start=69)
    assert turn.detected_at - turn.speech_end == pytest.approx(50 * CHUNK_S)
    assert len(model.heard) == 1  # asked once per pause, not once per chunk


def test_speech_resuming_after_an_unfinished_pause_stays_in_the_same_turn() -> None:
    model = ScriptedModel([0.1, 0.95])
    endpointer = Endpointer(CONFIG, TurnEndPolicy(model, max_silence_ms=1600))
    (turn,) = _push(endpointer, [(0.9, 20), (0.0, 20), (0.9, 15), (0.0, 9)])
    assert turn.speech_start == 0.0
    assert len(model.heard) == 2
    assert model.heard[1] > model.heard[0]  # the second question heard the whole turn so far


def test_without_a_model_the_turn_ends_at_the_short_silence_as_before() -> None:
    endpointer = Endpointer(CONFIG)
    turns = _push(endpointer, [(0.9, 20), (0.0, 20), (0.9, 15), (0.0, 9)])
    assert len(turns) == 2


def test_a_blip_too_short_to_be_speech_is_dropped_without_asking_the_model() -> None:
    model = ScriptedModel([])
    endpointer = Endpointer(CONFIG, TurnEndPolicy(model))
    assert _push(endpointer, [(0.9, 1), (0.0, 60)]) == []
    assert model.heard == []
