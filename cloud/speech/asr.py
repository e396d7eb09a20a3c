"""Speech to text for one endpointed utterance.

`WhisperTranscriber` runs the bundled Whisper base (CTranslate2, int8) through
faster-whisper: about half a second for a 5 s question on 2 cores. The edge
has already cut the utterance at the end of speech, so no VAD runs here.
Any other faster-whisper (CTranslate2) model folder can replace it by path;
only the bundled model's files are checked against a known sha256, since a
folder the operator chose has no hash the code could know.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from cloud.assets import whisper_model_dir
from cloud.errors import ModelError

WHISPER_RATE = 16_000
# Below about -78 dBFS RMS there is nothing to hear; Whisper would only guess ("you").
SILENCE_RMS = 4.0 / 32768.0
# Whisper's own "no speech" verdict, trusted when its text is also unsure. faster-whisper
# drops a segment only below an average log-probability of -1.0; ten seconds of
# silence still gives " you" at -0.87, while real speech scores above -0.35.
NO_SPEECH_PROB = 0.6
NO_SPEECH_LOGPROB = -0.5
# Tokens a decode may write per second of audio (speech runs at about four):
# bounds a translation that falls into a repeating loop on an odd clip.
TOKENS_PER_SECOND = 6
MIN_NEW_TOKENS = 16
MAX_NEW_TOKENS = 224
# Translation searches wider than transcription: on the real Spanish and French clips
# (`companion bench translation --clips translation-real`) beam 5 carried 46 of 57 English
# key words against 44 greedy, for the same CPU; English stays greedy (see below).
TRANSLATE_BEAM = 5


class Transcriber(Protocol):
    """Turns one utterance into text."""

    def transcribe(self, samples: npt.NDArray[np.int16], sample_rate: int) -> str:
        """The words in mono 16-bit `samples`; "" when nothing was said."""
        ...


@dataclass(frozen=True, slots=True)
class HeardSpeech:
    """What was said, in English, and the language it was said in.

    `language` is Whisper's ISO 639-1 code; `language_probability` its
    confidence (1.0 when the caller named the language). `translated` is
    True when `text` is a translation rather than the words as spoken.
    """

    text: str
    language: str
    language_probability: float
    translated: bool


class WhisperTranscriber:
    """Whisper base, int8, on the CPU; the model is loaded once, here."""

    def __init__(
        self,
        *,
        language: str | None = "en",
        beam_size: int = 1,
        cpu_threads: int | None = None,
        model_dir: Path | None = None,
    ) -> None:
        # Greedy decoding (beam 1): on the shared recordings it makes no word error
        # where beam 5 makes one ("ill-sposed"), and it is about 15% faster.
        from faster_whisper import WhisperModel  # heavy import, only when a model is wanted

        self.language = language
        self.beam_size = beam_size
        threads = cpu_threads or len(os.sched_getaffinity(0))
        directory = whisper_model_dir() if model_dir is None else check_model_dir(model_dir)
        try:
            self._model = WhisperModel(
                str(directory),
                device="cpu",
                compute_type="int8",
                cpu_threads=threads,
                local_files_only=True,
            )
        except Exception as exc:
            if model_dir is not None:
                raise ModelError(f"could not load the Whisper model in {directory}: {exc}") from exc
            raise ModelError(
                f"could not load Whisper from the model cache: {exc}; delete {directory} and retry"
            ) from exc

    def transcribe(self, samples: npt.NDArray[np.int16], sample_rate: int) -> str:
        audio = resample(samples.astype(np.float32) / 32768.0, sample_rate, WHISPER_RATE)
        if audio.size == 0 or float(np.sqrt(np.mean(np.square(audio)))) < SILENCE_RMS:
            return ""
        segments, _ = self._model.transcribe(
            audio,
            language=self.language,
            beam_size=self.beam_size,
            vad_filter=False,
            condition_on_previous_text=False,
            without_timestamps=True,
        )
        return " ".join(
            segment.text.strip()
            for segment in segments
            if segment.text.strip()
            and not (
                segment.no_speech_prob > NO_SPEECH_PROB and segment.avg_logprob < NO_SPEECH_LOGPROB
            )
        )

    def transcribe_into_english(
        self,
        samples: npt.NDArray[np.int16],
        sample_rate: int,
        *,
        language: str | None = None,
        languages: Sequence[str] | None = None,
    ) -> HeardSpeech:
        """The words in `samples` in English, whatever language they were spoken in.

        The language is detected (only among `languages` when given: on a few
        seconds of speech Whisper base may take German for Finnish, and a
        wearer knows which languages they meet) unless `language` names it.
        English is transcribed as `transcribe` does; anything else is
        translated by Whisper itself (`task="translate"`), offline.
        """
        audio = resample(samples.astype(np.float32) / 32768.0, sample_rate, WHISPER_RATE)
        if audio.size == 0 or float(np.sqrt(np.mean(np.square(audio)))) < SILENCE_RMS:
            return HeardSpeech("", language or "", 0.0, translated=False)
        probability = 1.0
        if language is None:
            language, probability = self._detect_language(audio, languages)
        task = "transcribe" if language == "en" else "translate"
        seconds = audio.size / WHISPER_RATE
        segments, _ = self._model.transcribe(
            audio,
            language=language,
            task=task,
            beam_size=self.beam_size
            if task == "transcribe"
            else max(self.beam_size, TRANSLATE_BEAM),
            temperature=0.0,
            max_new_tokens=min(MAX_NEW_TOKENS, MIN_NEW_TOKENS + round(TOKENS_PER_SECOND * seconds)),
            vad_filter=False,
            condition_on_previous_text=False,
            without_timestamps=True,
        )
        text = " ".join(
            segment.text.strip()
            for segment in segments
            if segment.text.strip()
            and not (
                segment.no_speech_prob > NO_SPEECH_PROB and segment.avg_logprob < NO_SPEECH_LOGPROB
            )
        )
        return HeardSpeech(text, language, probability, translated=task == "translate")

    def _detect_language(
        self, audio: npt.NDArray[np.float32], languages: Sequence[str] | None
    ) -> tuple[str, float]:
        best, probability, ranked = self._model.detect_language(audio)
        if not languages:
            return best, probability
        allowed = [(code, p) for code, p in ranked if code in languages]
        if not allowed:
            raise ModelError(f"none of the languages {list(languages)} is one Whisper knows")
        return allowed[0]


def check_model_dir(path: Path) -> Path:
    """A faster-whisper model folder must exist and hold CTranslate2's model.bin."""
    if not path.is_dir():
        raise ModelError(f"{path}: no such faster-whisper model folder")
    if not (path / "model.bin").is_file():
        raise ModelError(f"{path}: not a faster-whisper model folder (no model.bin in it)")
    return path


def resample(
    audio: npt.NDArray[np.float32], source_rate: int, target_rate: int
) -> npt.NDArray[np.float32]:
    """Change the sample rate of mono float audio: low-pass when reducing, then linear steps.

    Linear interpolation alone would fold everything above the new Nyquist
    frequency back into the speech band, so a windowed-sinc filter goes first.
    """
    if source_rate <= 0 or target_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {source_rate} → {target_rate}")
    if source_rate == target_rate or audio.size == 0:
        return audio.astype(np.float32, copy=False)
    signal = audio.astype(np.float64)
    if target_rate < source_rate:
        signal = np.convolve(signal, _low_pass(0.45 * target_rate / source_rate), mode="same")
    count = round(audio.size * target_rate / source_rate)
    positions = np.arange(count, dtype=np.float64) * (source_rate / target_rate)
    resampled = np.interp(positions, np.arange(audio.size, dtype=np.float64), signal)
    return resampled.astype(np.float32)


def _low_pass(cutoff: float, half_taps: int = 32) -> npt.NDArray[np.float64]:
    """Windowed-sinc low-pass; `cutoff` as a fraction of the input sample rate."""
    n = np.arange(-half_taps, half_taps + 1, dtype=np.float64)
    taps: npt.NDArray[np.float64] = 2.0 * cutoff * np.sinc(2.0 * cutoff * n) * np.hamming(n.size)
    taps /= taps.sum()
    return taps
