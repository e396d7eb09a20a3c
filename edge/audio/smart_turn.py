"""Semantic end of turn: has the wearer finished, or only paused mid-sentence?

A fixed silence cuts read or hesitant speech at every comma-length pause, and
each piece is sent and answered on its own. Smart Turn v3.2 (Pipecat's
BSD-2-Clause model, `smart-turn-v3.2-cpu.onnx`, shipped inside the
`pipecat-ai==1.14.0` wheel) listens to the last 8 s of the turn and says how
likely it is complete, from intonation and wording. The endpointer asks it
once per pause (`TurnEndModel`): complete, the turn ends after the usual short
silence; incomplete, it waits for more speech up to `max_silence_ms`.

The file is read straight from the installed wheel and run on onnxruntime;
pipecat's runtime is never imported. pipecat-ai is installed with `--no-deps`
(scripts/install.sh): its own requirements would move pinned packages
(protobuf 7 → 6) and pull in numba, none of which this file needs. The model
was trained on real speech; on espeak-ng's synthetic voice it is wrong both
ways, so it is never tuned on the synthetic scenarios, which pass through the
cap instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from edge.errors import ModelError
from edge.sources.media import SAMPLE_RATE
from modelfiles import ModelFileError, bundled

PACKAGE = "pipecat"
MODEL_FILE = "audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"
MODEL_SHA256 = "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"
# Only the model file is used: its dependencies would change pinned packages.
INSTALL = "--no-deps pipecat-ai==1.14.0"

WINDOW_SECONDS = 8
_WINDOW = WINDOW_SECONDS * SAMPLE_RATE
# Whisper's log-mel front end, as the model was trained on (transformers'
# WhisperFeatureExtractor with chunk_length=8): 25 ms windows every 10 ms, 80 mels.
N_FFT = 400
HOP = 160
N_MELS = 80
FRAMES = _WINDOW // HOP  # 800

# A pause after a complete-sounding turn ends it; this many ms of silence end any turn.
COMPLETE_THRESHOLD = 0.5
MAX_SILENCE_MS = 1_600


class TurnEndModel(Protocol):
    """How likely the speech so far is a finished turn."""

    def completion(self, samples: npt.NDArray[np.int16]) -> float:
        """P(the turn is complete) for 16 kHz mono speech ending now."""
        ...


@dataclass(frozen=True, slots=True)
class TurnEndPolicy:
    """The endpointer's hook: ask `model` at each pause, and never wait past the cap.

    `max_silence_ms` bounds the wait after a turn the model calls incomplete, so a
    turn always ends; below `complete_threshold` it is "incomplete".
    """

    model: TurnEndModel
    complete_threshold: float = COMPLETE_THRESHOLD
    max_silence_ms: int = MAX_SILENCE_MS

    def is_complete(self, samples: npt.NDArray[np.int16]) -> bool:
        return self.model.completion(samples) >= self.complete_threshold


def model_path() -> Path:
    """The Smart Turn v3.2 model inside the installed pipecat-ai wheel, sha256 checked."""
    try:
        return bundled(PACKAGE, MODEL_FILE, MODEL_SHA256, INSTALL)
    except ModelFileError as exc:
        raise ModelError(f"Smart Turn model unusable: {exc}") from exc


class SmartTurn:
    """Smart Turn v3.2 on onnxruntime, one CPU thread: ~35-80 ms a call, once per pause."""

    def __init__(self, path: Path | None = None) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            self._session = ort.InferenceSession(
                str(path or model_path()), options, providers=["CPUExecutionProvider"]
            )
        except ModelError:
            raise
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(
                f"could not load the Smart Turn model: {exc}; run `pip install {INSTALL}`"
            ) from exc

    def completion(self, samples: npt.NDArray[np.int16]) -> float:
        features = log_mel_features(samples)[np.newaxis]
        try:
            (output,) = self._session.run(None, {"input_features": features})
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"the Smart Turn model failed: {exc}") from exc
        return float(np.asarray(output).reshape(-1)[0])


def last_window(samples: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
    """The last 8 s as float in [-1, 1], zeros in front when the turn is shorter."""
    audio = samples[-_WINDOW:].astype(np.float32) / 32768.0
    if audio.size < _WINDOW:
        audio = np.concatenate([np.zeros(_WINDOW - audio.size, dtype=np.float32), audio])
    return audio


def log_mel_features(samples: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
    """Whisper log-mel features (80 × 800) of the last 8 s, the model's input.

    As transformers' WhisperFeatureExtractor(chunk_length=8, do_normalize=True):
    the waveform is normalised to zero mean and unit variance, then a centred
    (reflect-padded) periodic-Hann STFT, Slaney mel filters, log10 floored at
    8 decades below the peak, scaled to about [-1, 1].
    """
    audio = last_window(samples)
    audio = (audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)
    padded = np.pad(audio.astype(np.float64), N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    power = np.abs(np.fft.rfft(frames * _hann(), axis=-1)) ** 2  # (801, 201)
    mel = np.maximum(1e-10, power @ _mel_filters())  # (801, 80)
    log = np.log10(mel).T[:, :FRAMES]
    log = np.maximum(log, log.max() - 8.0)
    features: npt.NDArray[np.float32] = ((log + 4.0) / 4.0).astype(np.float32)
    return features


@cache
def _hann() -> npt.NDArray[np.float64]:
    return np.hanning(N_FFT + 1)[:-1]


@cache
def _mel_filters() -> npt.NDArray[np.float64]:
    """Slaney-scale, area-normalised triangular filters, (N_FFT // 2 + 1) × N_MELS."""

    def to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        linear = 3.0 * hz / 200.0
        log = 15.0 + np.log(np.maximum(hz, 1e-9) / 1000.0) * 27.0 / np.log(6.4)
        return np.where(hz >= 1000.0, log, linear)

    def to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        linear = 200.0 * mel / 3.0
        log = 1000.0 * np.exp(np.log(6.4) / 27.0 * (mel - 15.0))
        return np.where(mel >= 15.0, log, linear)

    edges = np.array([0.0, SAMPLE_RATE / 2.0])
    low, high = to_mel(edges)
    centres = to_hz(np.linspace(low, high, N_MELS + 2))
    bins = np.linspace(0, SAMPLE_RATE // 2, N_FFT // 2 + 1)
    slopes = centres[np.newaxis, :] - bins[:, np.newaxis]
    widths = np.diff(centres)
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    filters = np.maximum(0.0, np.minimum(down, up))
    return filters * (2.0 / (centres[2:] - centres[:-2]))[np.newaxis, :]
