"""The assistant's own voice coming back into the microphone, taken out before the VAD.

Glasses put the speaker a few centimetres from the microphone: every spoken
answer comes back, delayed by the output and input buffers and coloured by
the frame and the room. The VAD must hear only the wearer, or the answer
barges in on itself. Against the player's reference (what it played, on the
microphone's timeline):

1. `EchoCanceller` learns the speaker-to-microphone path over `taps_s` with a
   partitioned-block frequency-domain NLMS filter (the Speex/WebRTC "MDF"
   family, gradient-constrained) and subtracts its estimate of the echo. It
   stops adapting in double talk (a residual louder than the echo estimate),
   so the wearer's voice does not teach it.
2. A residual gate: while the reference plays, a frame is silence for the VAD
   when the filter has not yet converged (its echo return loss enhancement,
   ERLE, below `converged_erle`: the first few hundred ms of the first answer,
   or after the path changed), when what is left is small beside the echo it
   removed, or when what is left follows the echo estimate's own waveform (the
   estimate mis-scaled for a moment, or still ringing after the echo stopped).
   The wearer's voice is not in the reference: it stays in the residual,
   uncorrelated with the estimate, and passes.

Pure numpy, no clocks: feed it each microphone block with the reference played
over the same samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.sources.media import SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class EchoConfig:
    # The echo path the filter can learn: output/input buffering plus the acoustic tail.
    taps_s: float = 0.256
    # NLMS step (0 < mu <= 1) and the regulariser, relative to the reference's power.
    step: float = 1.0
    # A residual this many times smaller than the echo estimate is echo left over.
    echo_excess: float = 3.0
    # ... or one this correlated with the estimate (its waveform, not the wearer's).
    residual_correlation: float = 0.5
    # The filter counts as converged once it takes out this much of the echo (power
    # ratio, smoothed); until then nothing heard while the reference plays is the wearer.
    converged_erle: float = 4.0
    # A microphone this much quieter than a loud reference hears no echo at all.
    no_echo: float = 0.02
    # The reference counts as playing if any of the last `playing_s` was louder than ...
    playing_s: float = 0.3
    # Below this reference level (int16 RMS) nothing is playing: the microphone passes.
    silent_reference: float = 30.0


@dataclass(frozen=True, slots=True)
class EchoFrame:
    """One frame's verdict: `residual` is what the VAD hears (silence where gated)."""

    residual: npt.NDArray[np.int16]
    gated: bool
    echo_estimate_rms: float


class EchoCanceller:
    """One microphone's canceller; frames of `block` samples, in order."""

    def __init__(self, block: int = 512, config: EchoConfig | None = None) -> None:
        self.config = config or EchoConfig()
        self.block = block
        cfg = self.config
        self._fft = 2 * block
        bins = block + 1
        self._partitions = max(1, int(np.ceil(cfg.taps_s * SAMPLE_RATE / block)))
        self._weights = np.zeros((self._partitions, bins), dtype=np.complex128)
        self._spectra = np.zeros((self._partitions, bins), dtype=np.complex128)
        self._power = np.full(bins, 1.0)
        self._last_reference = np.zeros(block)
        # The echo of the last `playing_s` of reference may still be arriving.
        self._recent_reference = np.zeros(max(1, round(cfg.playing_s * SAMPLE_RATE / block)))
        # Echo return loss enhancement: how much of the echo the filter takes out.
        self.erle = 1.0
        self.frames = 0
        self.gated_frames = 0

    def process(self, mic: npt.NDArray[np.int16], reference: npt.NDArray[np.int16]) -> EchoFrame:
        """`mic` (one block) with the reference played over the same samples."""
        if len(mic) != self.block or len(reference) != self.block:
            raise ValueError(f"EchoCanceller takes blocks of {self.block} samples")
        cfg = self.config
        d = mic.astype(np.float64)
        x = reference.astype(np.float64)
        self._recent_reference = np.roll(self._recent_reference, 1)
        self._recent_reference[0] = _rms(x)
        playing = bool(self._recent_reference.max() >= cfg.silent_reference)
        # The filter: reference spectra of this and earlier blocks, newest first.
        self._spectra = np.roll(self._spectra, 1, axis=0)
        self._spectra[0] = np.fft.rfft(np.concatenate([self._last_reference, x]))
        self._last_reference = x
        estimate = np.fft.irfft((self._weights * self._spectra).sum(axis=0))[self.block :]
        error = d - estimate
        residual_rms, estimate_rms, mic_rms = _rms(error), _rms(estimate), _rms(d)
        converged = self.erle >= cfg.converged_erle
        # The filter explains the frame: what is left is echo it has not quite caught, or
        # its own estimate mis-scaled (the residual follows the estimate's waveform).
        explained = residual_rms * cfg.echo_excess < estimate_rms or (
            estimate_rms > cfg.silent_reference
            and _correlation(error, estimate) >= cfg.residual_correlation
        )
        double_talk = converged and residual_rms > estimate_rms
        gated = playing and (not converged or explained)
        if playing and not double_talk:
            self._adapt(error)
            if estimate_rms > cfg.silent_reference:
                ratio = (mic_rms / max(residual_rms, 1.0)) ** 2
                self.erle = 0.8 * self.erle + 0.2 * min(ratio, 1000.0)
            elif _rms(x) > 10 * cfg.silent_reference and mic_rms < cfg.no_echo * _rms(x):
                # A loud reference and a quiet microphone: no echo to take out (headphones).
                self.erle = 0.8 * self.erle + 0.2 * 1000.0
        self.frames += 1
        self.gated_frames += gated
        residual = np.zeros(self.block, dtype=np.int16) if gated else _int16(error)
        return EchoFrame(residual, gated, estimate_rms)

    def _adapt(self, error: npt.NDArray[np.float64]) -> None:
        spectrum = np.fft.rfft(np.concatenate([np.zeros(self.block), error]))
        self._power = 0.9 * self._power + 0.1 * (np.abs(self._spectra[0]) ** 2)
        floor = self._power.mean() * 1e-3 + 1e-6
        gradient = np.conj(self._spectra) * spectrum / (self._partitions * (self._power + floor))
        # Constrain each partition to a causal `block`-tap filter (the MDF gradient constraint).
        taps = np.fft.irfft(gradient, axis=1)
        taps[:, self.block :] = 0.0
        self._weights += self.config.step * np.fft.rfft(taps, axis=1)


def _rms(x: npt.NDArray[np.float64]) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0


def _correlation(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    """|normalised correlation| of two blocks at lag 0."""
    norm = float(np.sqrt((a @ a) * (b @ b)))
    return abs(float(a @ b)) / norm if norm > 0 else 0.0


def _int16(x: npt.NDArray[np.float64]) -> npt.NDArray[np.int16]:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)
