"""Voice activity detection: how likely a 32 ms chunk of audio is speech.

`SileroVad` runs the Silero VAD v6 ONNX model shipped in the pinned
`silero-vad` package straight on onnxruntime (the package's own wrapper pulls
in torch). It is called 31 times a second for as long as the edge listens, so
every buffer is allocated once: the input, both recurrent states and the
output are bound to the session with IOBinding and the state ping-pongs
between two buffers, leaving a call with one 512-sample copy and the run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from edge.errors import ModelError
from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE
from modelfiles import ModelFileError, bundled

PACKAGE = "silero_vad"
MODEL_FILE = "data/silero_vad.onnx"
MODEL_SHA256 = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"
INSTALL = "silero-vad==6.2.3"

# Silero v5+ sees the last 64 samples of the previous chunk in front of each
# 512-sample chunk (silero_vad.utils_vad.OnnxWrapper); without them the
# probabilities drift from the reference implementation's.
CONTEXT_SAMPLES = 64
_STATE_SHAPE = (2, 1, 128)


class Vad(Protocol):
    """Speech probability of consecutive 32 ms chunks of one stream."""

    def probability(self, chunk: npt.NDArray[np.float32]) -> float:
        """P(speech) for the next `CHUNK_SAMPLES` float32 samples in [-1, 1]."""
        ...

    def reset(self) -> None:
        """Forget the stream so far; the next chunk starts a new one."""
        ...


def model_path() -> Path:
    """The bundled Silero VAD model, its sha256 checked."""
    try:
        return bundled(PACKAGE, MODEL_FILE, MODEL_SHA256, INSTALL)
    except ModelFileError as exc:
        raise ModelError(f"Silero VAD model unusable: {exc}") from exc


def open_session(path: Path | None = None) -> ort.InferenceSession:
    """A single-threaded CPU session: one chunk is far too small to split across cores."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    try:
        return ort.InferenceSession(
            str(path or model_path()), options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(
            f"could not load the Silero VAD model: {exc}; run `pip install --force-reinstall "
            f"{INSTALL}`"
        ) from exc


class SileroVad:
    """Silero VAD v6 at 16 kHz on onnxruntime; one instance per audio stream."""

    def __init__(self, session: ort.InferenceSession | None = None) -> None:
        self._session = session or open_session()
        self._input = np.zeros((1, CONTEXT_SAMPLES + CHUNK_SAMPLES), dtype=np.float32)
        self._states = (
            np.zeros(_STATE_SHAPE, dtype=np.float32),
            np.zeros(_STATE_SHAPE, dtype=np.float32),
        )
        self._output = np.zeros((1, 1), dtype=np.float32)
        # OrtValues made from numpy arrays share their memory, so writing the
        # arrays feeds the model and the model's outputs land in the arrays.
        values = ort.OrtValue.ortvalue_from_numpy
        chunk = values(self._input)
        rate = values(np.array(SAMPLE_RATE, dtype=np.int64))
        output = values(self._output)
        states = [values(state) for state in self._states]
        self._bindings = []
        for state_in, state_out in ((states[0], states[1]), (states[1], states[0])):
            binding = self._session.io_binding()
            binding.bind_ortvalue_input("input", chunk)
            binding.bind_ortvalue_input("state", state_in)
            binding.bind_ortvalue_input("sr", rate)
            binding.bind_ortvalue_output("output", output)
            binding.bind_ortvalue_output("stateN", state_out)
            self._bindings.append(binding)
        self._keep_alive = (chunk, rate, output, states)
        self._turn = 0

    def probability(self, chunk: npt.NDArray[np.float32]) -> float:
        if chunk.shape != (CHUNK_SAMPLES,):
            raise ValueError(
                f"Silero VAD takes chunks of {CHUNK_SAMPLES} samples, got shape {chunk.shape}"
            )
        self._input[0, CONTEXT_SAMPLES:] = chunk
        self._session.run_with_iobinding(self._bindings[self._turn])
        self._turn ^= 1
        self._input[0, :CONTEXT_SAMPLES] = self._input[0, -CONTEXT_SAMPLES:]
        return float(self._output[0, 0])

    def reset(self) -> None:
        self._input.fill(0.0)
        for state in self._states:
            state.fill(0.0)
        self._turn = 0


def bare_silero_call_ms(chunks: int = 1000, session: ort.InferenceSession | None = None) -> float:
    """Mean ms of one plain `session.run` on a prepared chunk: the floor `SileroVad` is held to.

    Inputs are allocated once, outside the timed loop, so this measures
    onnxruntime alone.
    """
    session = session or open_session()
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal((1, CONTEXT_SAMPLES + CHUNK_SAMPLES)) * 0.1).astype(np.float32)
    state = np.zeros(_STATE_SHAPE, dtype=np.float32)
    rate = np.array(SAMPLE_RATE, dtype=np.int64)
    started = time.perf_counter()
    for _ in range(chunks):
        _, state = session.run(None, {"input": audio, "state": state, "sr": rate})
    return (time.perf_counter() - started) * 1000.0 / chunks


def silero_vad_call_ms(chunks: int = 1000, vad: SileroVad | None = None) -> float:
    """Mean ms of one `SileroVad.probability` call, fed the same kind of audio."""
    vad = vad or SileroVad()
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(CHUNK_SAMPLES) * 0.1).astype(np.float32)
    started = time.perf_counter()
    for _ in range(chunks):
        vad.probability(audio)
    elapsed = time.perf_counter() - started
    vad.reset()
    return elapsed * 1000.0 / chunks
