"""Silero VAD and the listener on real speech.

Each recording is one utterance: its probability trace (threshold 0.5 on
32 ms chunks) has no pause longer than two chunks, well under the default
300 ms of end silence, so the default configuration must find exactly one
segment in each.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

import edge.audio.vad
from edge.audio.endpointing import EndpointConfig, EndpointEvent, SpeechEnded, SpeechStarted
from edge.audio.listener import Listener
from edge.audio.vad import CONTEXT_SAMPLES, SileroVad
from edge.errors import ModelError
from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk
from simulators.media import read_audio
from simulators.replay import with_tail_silence

pytestmark = pytest.mark.models

UTTERANCES = [
    ("librivox-0870.wav", None),
    ("librivox-0880.wav", None),
    ("librivox-0890.wav", None),
    ("goforward-16k-s16le.raw", "s16le:16000"),
]


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    return SileroVad()


def speech(recordings: Path, name: str, audio_format: str | None) -> npt.NDArray[np.int16]:
    return read_audio(recordings / "speech" / name, audio_format)


def listen(listener: Listener, audio: npt.NDArray[np.int16]) -> list[EndpointEvent]:
    events: list[EndpointEvent] = []
    for offset in range(0, len(audio), CHUNK_SAMPLES):
        chunk = AudioChunk(offset / SAMPLE_RATE, audio[offset : offset + CHUNK_SAMPLES])
        events += listener.feed(chunk)
    return events + listener.flush()


def energy_bounds(audio: npt.NDArray[np.int16]) -> tuple[float, float]:
    """First and last 10 ms with energy 12 dB over the leading 100 ms of room noise."""
    frames = audio[: len(audio) // 160 * 160].reshape(-1, 160).astype(np.float64)
    level = 20 * np.log10(np.sqrt((frames**2).mean(axis=1)) + 1.0)
    loud = np.flatnonzero(level > np.median(level[:10]) + 12.0)
    return loud[0] * 0.01, (loud[-1] + 1) * 0.01


@pytest.mark.parametrize(("name", "audio_format"), UTTERANCES)
def test_each_recording_is_one_segment_keeping_its_first_and_last_word(
    vad: SileroVad, recordings: Path, name: str, audio_format: str | None
) -> None:
    audio = speech(recordings, name, audio_format)
    padded = with_tail_silence(audio, 1.0)
    onset, last_loud = energy_bounds(audio)
    config = EndpointConfig()

    events = listen(Listener(vad, config), padded)

    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]
    segment = events[1]
    assert isinstance(segment, SpeechEnded)
    print(
        f"{name}: energy {onset:.2f}-{last_loud:.2f} s; speech {segment.speech_start:.3f}-"
        f"{segment.speech_end:.3f} s, detected {segment.detected_at:.3f} s, "
        f"audio from {segment.samples_start:.3f} s"
    )
    # The first syllable is kept: the audio starts before the energy onset,
    # and the VAD's onset lies within the pre-roll of it.
    assert segment.samples_start <= onset
    assert segment.speech_start - onset <= config.pre_roll_ms / 1000
    # The last word is in (a soft final "s" may already score as silence, but
    # the audio runs to detected_at), and the end is declared promptly.
    assert segment.detected_at >= last_loud
    assert segment.speech_end >= last_loud - 0.15
    assert segment.detected_at - segment.speech_end <= (config.end_silence_ms + 32) / 1000
    # The samples are exactly the recording's, from samples_start on.
    start = round(segment.samples_start * SAMPLE_RATE)
    assert np.array_equal(segment.samples, padded[start : start + len(segment.samples)])


def test_silence_and_room_noise_give_no_segment(vad: SileroVad, recordings: Path) -> None:
    # The half second of room noise before "go forward", over and over.
    room = speech(recordings, "goforward-16k-s16le.raw", "s16le:16000")[: SAMPLE_RATE * 45 // 100]
    quiet = [
        np.zeros(SAMPLE_RATE * 3, dtype=np.int16),
        np.tile(room, 7),
        np.random.default_rng(0).normal(0, 100, SAMPLE_RATE * 3).astype(np.int16),
    ]
    for audio in quiet:
        assert listen(Listener(vad), audio) == []


def test_probabilities_match_a_plain_onnxruntime_loop(vad: SileroVad, recordings: Path) -> None:
    """The bound buffers and the 64-sample context behave as Silero's own wrapper."""
    audio = speech(recordings, "librivox-0880.wav", None).astype(np.float32) / 32768
    session = edge.audio.vad.open_session()
    state = np.zeros((2, 1, 128), dtype=np.float32)
    context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)
    rate = np.array(SAMPLE_RATE, dtype=np.int64)
    vad.reset()
    for offset in range(0, len(audio) - CHUNK_SAMPLES + 1, CHUNK_SAMPLES):
        chunk = audio[offset : offset + CHUNK_SAMPLES]
        window = np.concatenate([context, chunk])[None, :]
        expected, state = session.run(None, {"input": window, "state": state, "sr": rate})
        context = chunk[-CONTEXT_SAMPLES:]
        assert vad.probability(chunk) == pytest.approx(float(expected[0, 0]), abs=1e-6)


def test_reset_starts_a_fresh_stream(vad: SileroVad, recordings: Path) -> None:
    audio = speech(recordings, "librivox-0880.wav", None).astype(np.float32) / 32768
    chunks = [audio[i : i + CHUNK_SAMPLES] for i in range(0, 40 * CHUNK_SAMPLES, CHUNK_SAMPLES)]

    vad.reset()
    first = [vad.probability(c) for c in chunks]
    vad.reset()
    second = [vad.probability(c) for c in chunks]

    assert first == second
    assert max(first) > 0.9 and min(first) < 0.1


def test_wrong_chunk_size_is_refused(vad: SileroVad) -> None:
    with pytest.raises(ValueError, match="512"):
        vad.probability(np.zeros(480, dtype=np.float32))


def test_changed_model_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(edge.audio.vad, "MODEL_SHA256", "0" * 64)

    with pytest.raises(ModelError, match=r"silero-vad==6\.2\.3"):
        SileroVad()


def test_vad_and_bare_call_timings_are_measured_side_by_side() -> None:
    """The ratio itself is a benchmark figure (`companion bench edge`), not a test:
    wall-clock time on a shared machine says nothing reliable about the code."""
    session = edge.audio.vad.open_session()
    vad = SileroVad(session)
    bare = edge.audio.vad.bare_silero_call_ms(200, session)
    ours = edge.audio.vad.silero_vad_call_ms(200, vad)

    print(f"Silero VAD: {ours:.3f} ms per chunk, bare onnxruntime {bare:.3f} ms")
    assert bare > 0 and ours > 0
