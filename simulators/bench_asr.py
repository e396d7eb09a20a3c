"""How well and how fast a Transcriber hears the shared speech recordings.

Every `.wav` (mono 16-bit) and `.raw` (16 kHz mono s16le) under `speech/` with
a `.txt` transcript beside it is transcribed once; word errors are summed over
all files before dividing, so long utterances weigh more than short ones.
"""

from __future__ import annotations

import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cloud.speech.asr import Transcriber
from simulators.wer import word_error_rate

RAW_SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Utterance:
    name: str
    samples: npt.NDArray[np.int16]
    sample_rate: int
    transcript: str


def load_utterances(recordings: Path) -> list[Utterance]:
    """The transcribed speech recordings under `recordings` (or its `speech/` folder), by name."""
    folder = recordings / "speech" if (recordings / "speech").is_dir() else recordings
    utterances = []
    for audio in sorted([*folder.glob("*.wav"), *folder.glob("*.raw")]):
        transcript = audio.with_suffix(".txt")
        if not transcript.is_file():
            continue
        samples, rate = read_wav(audio) if audio.suffix == ".wav" else read_raw(audio)
        utterances.append(Utterance(audio.name, samples, rate, transcript.read_text().strip()))
    if not utterances:
        raise FileNotFoundError(f"no .wav or .raw recordings with a .txt transcript in {folder}")
    return utterances


def read_wav(path: Path) -> tuple[npt.NDArray[np.int16], int]:
    """Mono 16-bit samples and their rate; a stereo file is mixed down."""
    with wave.open(str(path), "rb") as reader:
        if reader.getsampwidth() != 2:
            raise ValueError(f"{path}: {8 * reader.getsampwidth()}-bit audio, expected 16-bit")
        channels = reader.getnchannels()
        rate = reader.getframerate()
        frames = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    if channels > 1:
        mixed = frames.reshape(-1, channels).mean(axis=1)
        return mixed.round().astype(np.int16), rate
    return frames.astype(np.int16), rate


def read_raw(path: Path, sample_rate: int = RAW_SAMPLE_RATE) -> tuple[npt.NDArray[np.int16], int]:
    """Headerless little-endian 16-bit mono, as the PocketSphinx test data ships it."""
    return np.fromfile(path, dtype="<i2").astype(np.int16), sample_rate


def bench_asr(recordings: Path, transcriber: Transcriber) -> dict[str, Any]:
    """Word error rate per file and overall, and seconds spent per utterance.

    The caller loads the model (and may add its load time to the result).
    """
    files: dict[str, dict[str, Any]] = {}
    total_errors = total_words = 0
    seconds: list[float] = []
    audio_seconds = 0.0
    for utterance in load_utterances(recordings):
        started = time.perf_counter()
        text = transcriber.transcribe(utterance.samples, utterance.sample_rate)
        spent = time.perf_counter() - started
        errors, words = word_error_rate(utterance.transcript, text)
        total_errors += errors
        total_words += words
        seconds.append(spent)
        audio_seconds += utterance.samples.size / utterance.sample_rate
        files[utterance.name] = {
            "wer": round(errors / words, 4) if words else 0.0,
            "errors": errors,
            "words": words,
            "seconds": round(spent, 3),
            "reference": utterance.transcript,
            "hypothesis": text,
        }
    return {
        "files": files,
        "wer": round(total_errors / total_words, 4) if total_words else 0.0,
        "utterances": len(seconds),
        "seconds_per_utterance_mean": round(sum(seconds) / len(seconds), 3),
        "seconds_per_utterance_max": round(max(seconds), 3),
        "real_time_factor": round(sum(seconds) / audio_seconds, 3) if audio_seconds else 0.0,
    }
