"""The wake phrase on real audio: CMU Sphinx keyphrase search, then the whole turn-taking
path (Silero VAD, endpointing, activation) in wake mode.

The wake-phrase recordings are espeak-ng speech made once by scripts/make_wake_phrase.sh;
the negatives are real read speech (LibriVox) and the demo questions.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from cloud.conversation import Models
from deploy.local_stack import local_stack
from edge.audio.activation import IgnoreSpeech, SendSpeech
from edge.audio.turn_taking import turn_taking_for
from edge.audio.wake import PocketsphinxSpotter
from edge.config import EdgeConfig
from edge.models import EdgeModels
from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk
from simulators.stack_replay import run_replay
from tests.fakes import FakeReasoner, FakeTranscriber

pytestmark = pytest.mark.models

ROOT = Path(__file__).resolve().parents[1]
WAKE = ROOT / "simulators" / "wake"
DEMO = ROOT / "simulators" / "demo"
EDGE_MODELS = EdgeModels()


def read_wav(path: Path) -> npt.NDArray[np.int16]:
    with wave.open(str(path)) as wav:
        assert wav.getframerate() == SAMPLE_RATE and wav.getnchannels() == 1
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").copy()


def chunks(samples: npt.NDArray[np.int16], start: float = 0.0) -> list[AudioChunk]:
    return [
        AudioChunk(start + i / SAMPLE_RATE, samples[i : i + CHUNK_SAMPLES])
        for i in range(0, len(samples), CHUNK_SAMPLES)
    ]


def spot(spotter: PocketsphinxSpotter, samples: npt.NDArray[np.int16]) -> list[float]:
    spotter.reset()
    hits: list[float] = []
    for chunk in chunks(samples):
        hits += spotter.feed(chunk)
    return hits


@pytest.fixture(scope="module")
def spotter() -> PocketsphinxSpotter:
    return PocketsphinxSpotter()


@pytest.mark.parametrize("name", ["hey-companion.wav", "hey-companion-question.wav"])
def test_wake_phrase_is_heard_once_where_it_is_said(
    spotter: PocketsphinxSpotter, name: str
) -> None:
    hits = spot(spotter, read_wav(WAKE / name))
    assert len(hits) == 1
    # The phrase starts after 0.5 s of silence and takes about a second to say.
    assert 1.0 < hits[0] < 2.2


def test_wake_phrase_is_not_heard_in_other_speech(
    spotter: PocketsphinxSpotter, recordings: Path
) -> None:
    clips = sorted((recordings / "speech").glob("librivox-*.wav")) + sorted(DEMO.glob("*.wav"))
    assert len(clips) >= 5
    for clip in clips:
        assert spot(spotter, read_wav(clip)) == [], clip.name


def test_wake_phrase_with_unknown_words_is_refused() -> None:
    with pytest.raises(ValueError, match="not in the en-US dictionary"):
        PocketsphinxSpotter("hey zqxjvorb")


def _turns(config: EdgeConfig, audio: npt.NDArray[np.int16]) -> list[SendSpeech | IgnoreSpeech]:
    turn_taking = turn_taking_for(EDGE_MODELS.listener(config), config)
    decisions = []
    for chunk in chunks(audio):
        decisions += turn_taking.feed(chunk)
    decisions += turn_taking.flush()
    return [d for d in decisions if isinstance(d, SendSpeech | IgnoreSpeech)]


def test_in_wake_mode_the_question_after_the_wake_phrase_is_sent() -> None:
    decisions = _turns(EdgeConfig(activation="wake"), read_wav(WAKE / "hey-companion-question.wav"))
    assert [type(d).__name__ for d in decisions] == ["SendSpeech"]
    sent = decisions[0].ended
    # The whole utterance leaves, wake phrase and question, from before its first word.
    assert sent.samples_start < 0.55 and sent.speech_end > 2.5
    # End of speech declared within the default 288 ms of quiet after the last voiced chunk.
    assert sent.detected_at - sent.speech_end == pytest.approx(0.288, abs=1e-6)


def test_wake_phrase_alone_then_a_question_sends_only_the_question() -> None:
    silence = np.zeros(SAMPLE_RATE, dtype=np.int16)
    audio = np.concatenate(
        [read_wav(WAKE / "hey-companion.wav"), silence, read_wav(DEMO / "question-look.wav")]
    )
    decisions = _turns(EdgeConfig(activation="wake"), audio)
    assert [type(d).__name__ for d in decisions] == ["IgnoreSpeech", "SendSpeech"]
    assert decisions[1].ended.speech_start > 3.0  # the question, not the wake phrase


def test_in_wake_mode_read_speech_without_the_phrase_never_leaves(recordings: Path) -> None:
    audio = np.concatenate(
        [read_wav(p) for p in sorted((recordings / "speech").glob("librivox-*.wav"))]
    )
    decisions = _turns(EdgeConfig(activation="wake"), audio)
    assert decisions and all(isinstance(d, IgnoreSpeech) for d in decisions)


def write_wav(path: Path, samples: npt.NDArray[np.int16]) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(samples.astype("<i2").tobytes())
    return path


async def test_wake_mode_replay_sends_only_the_addressed_question(
    tmp_path: Path, recordings: Path
) -> None:
    """Through the edge runtime, WebRTC, the gateway and the cloud (fake cloud models):
    read speech, then the wake phrase alone, then a question. Only the question leaves."""
    audio = np.concatenate(
        [
            read_wav(recordings / "speech" / "librivox-0880.wav"),
            np.zeros(SAMPLE_RATE, dtype=np.int16),
            read_wav(WAKE / "hey-companion.wav"),
            read_wav(DEMO / "question-look.wav"),
        ]
    )
    models = Models(transcriber=FakeTranscriber("what am i looking at"), reasoner=FakeReasoner())
    async with local_stack(models) as stack:
        summary = await run_replay(
            video=None,
            audio=write_wav(tmp_path / "wake.wav", audio),
            edge_config=EdgeConfig(device="test", activation="wake"),
            edge_models=EDGE_MODELS,
            gateway_url=stack.gateway_url,
        )
    assert not summary.errors, summary.errors
    assert len(summary.turns) == 1 and summary.turns[0].done is not None
    assert summary.stats.segments == 1
    assert summary.stats.speech_ignored >= 2  # the read speech and the wake phrase alone
