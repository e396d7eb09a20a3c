"""Speech recognition: the recordings are heard right, and silence is heard as nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cloud.speech import asr
from cloud.speech.asr import WhisperTranscriber, resample
from simulators.bench_asr import Utterance, bench_asr, load_utterances
from simulators.wer import word_error_rate

SPEECH = ["goforward-16k-s16le.raw", "librivox-0870.wav", "librivox-0880.wav", "librivox-0890.wav"]


def _tone(frequency: float, rate: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def _dominant_frequency(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    return float(np.fft.rfftfreq(audio.size, 1 / rate)[np.argmax(spectrum)])


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio[200:-200]))))


@pytest.mark.parametrize("source_rate", [8_000, 22_050, 44_100, 48_000])
def test_resampling_keeps_duration_and_pitch(source_rate: int) -> None:
    resampled = resample(_tone(440.0, source_rate), source_rate, 16_000)

    assert resampled.dtype == np.float32
    assert resampled.size == 16_000
    assert abs(_dominant_frequency(resampled, 16_000) - 440.0) < 2.0


def test_resampling_down_removes_what_would_fold_into_the_speech_band() -> None:
    # A 12 kHz whistle at 48 kHz would alias to 4 kHz at 16 kHz if only interpolated.
    whistle = resample(_tone(12_000.0, 48_000), 48_000, 16_000)
    voice = resample(_tone(1_000.0, 48_000), 48_000, 16_000)
    assert _rms(whistle) < 0.01 * _rms(voice)


def test_resampling_at_the_same_rate_changes_nothing() -> None:
    audio = _tone(300.0, 16_000)
    assert resample(audio, 16_000, 16_000) is audio


def test_resampling_rejects_a_rate_of_zero() -> None:
    with pytest.raises(ValueError, match="positive"):
        resample(_tone(300.0, 16_000), 0, 16_000)


def test_recordings_are_paired_with_their_transcripts(recordings: Path) -> None:
    utterances = load_utterances(recordings)
    assert [u.name for u in utterances] == SPEECH
    assert all(u.sample_rate == 16_000 and u.samples.dtype == np.int16 for u in utterances)
    assert utterances[0].transcript == "go forward ten meters"


@pytest.fixture(scope="module")
def utterances(recordings: Path) -> dict[str, Utterance]:
    return {u.name: u for u in load_utterances(recordings)}


@pytest.mark.models
@pytest.mark.parametrize("name", SPEECH)
def test_each_recording_is_transcribed_within_ten_percent_word_error_rate(
    whisper: WhisperTranscriber, utterances: dict[str, Utterance], name: str
) -> None:
    utterance = utterances[name]

    text = whisper.transcribe(utterance.samples, utterance.sample_rate)

    errors, words = word_error_rate(utterance.transcript, text)
    print(f"\n{name}: WER {errors / words:.1%} ({errors}/{words}) {text!r}")
    assert errors / words <= 0.10


@pytest.mark.models
def test_speech_at_48_khz_is_resampled_and_heard(
    whisper: WhisperTranscriber, utterances: dict[str, Utterance]
) -> None:
    utterance = utterances["goforward-16k-s16le.raw"]
    at_48k = resample(utterance.samples.astype(np.float32), 16_000, 48_000)

    text = whisper.transcribe(at_48k.round().astype(np.int16), 48_000)

    assert word_error_rate(utterance.transcript, text)[0] == 0


def _silences() -> dict[str, np.ndarray]:
    noise = np.random.default_rng(7)
    return {
        "2 s of zeros": np.zeros(32_000, dtype=np.int16),
        "2 s of low noise": noise.normal(0, 30, 32_000).astype(np.int16),  # about -60 dBFS
        "10 s of zeros": np.zeros(160_000, dtype=np.int16),
        "nothing at all": np.zeros(0, dtype=np.int16),
    }


@pytest.mark.models
@pytest.mark.parametrize("kind", list(_silences()))
def test_silence_is_transcribed_as_nothing(whisper: WhisperTranscriber, kind: str) -> None:
    assert whisper.transcribe(_silences()[kind], 16_000) == ""


@pytest.mark.models
@pytest.mark.parametrize("kind", ["2 s of zeros", "10 s of zeros", "2 s of low noise"])
def test_silence_that_gets_past_the_level_check_is_still_not_heard_as_words(
    whisper: WhisperTranscriber, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whisper alone hears " you" in 10 s of zeros; its no-speech verdict must drop it.
    monkeypatch.setattr(asr, "SILENCE_RMS", 0.0)
    assert whisper.transcribe(_silences()[kind], 16_000) == ""


@pytest.mark.models
def test_asr_benchmark_reports_word_error_rate_and_time_per_utterance(
    whisper: WhisperTranscriber, recordings: Path
) -> None:
    result = bench_asr(recordings, whisper)

    print(f"\nASR bench: {result}")
    assert set(result["files"]) == set(SPEECH)
    assert result["wer"] <= 0.10
    assert result["utterances"] == 4
    assert 0 < result["seconds_per_utterance_mean"] <= result["seconds_per_utterance_max"]
