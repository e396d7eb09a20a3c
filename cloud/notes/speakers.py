"""Who spoke which line, told apart cheaply: a voice print per line, then clustering.

Each line gets 12 MFCCs (mean over its loud frames) and its median pitch;
lines are clustered by average linkage on standardised features and the
number of speakers (1–4) is the one with the best silhouette, provided the
clusters are well apart (else everyone is one speaker). No model and no
enrolment: labels are "S1", "S2" … in order of first appearance, not names.

It tells a low synthetic voice from a high one, and a real reader from a
synthetic voice, but not two similar voices; lines under 0.8 s of speech carry
too little voice to place and join the nearest speaker.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

RATE = 16_000
_FRAME = 400  # 25 ms
_HOP = 160  # 10 ms
_FFT = 512
_MELS = 26
_CEPSTRA = 12
MIN_SILHOUETTE = 0.25
MAX_SPEAKERS = 4
# Lines with less speech than this ("Sure.", "Right.") join the nearest speaker
# instead of shaping the clusters: too little voice to place.
MIN_PLACED_S = 0.8
# Two clusters are two voices only if their median pitches differ by 15 % or their
# mean MFCCs by this much (one voice's lines spread 4–10 apart; two voices 13–32,
# measured on recordings/conversations).
MIN_PITCH_RATIO = 1.15
MIN_TIMBRE_DISTANCE = 12.0
# Pitch tells voices apart better than any one cepstral coefficient: it counts as four.
PITCH_WEIGHT = 2.0


def voice_print(samples: npt.NDArray[np.int16], rate: int = RATE) -> npt.NDArray[np.float64]:
    """13 numbers describing a voice: mean MFCCs 1–12 and log median pitch."""
    audio = samples.astype(np.float64) / 32768.0
    if audio.size < _FRAME:
        audio = np.pad(audio, (0, _FRAME - audio.size))
    count = 1 + (audio.size - _FRAME) // _HOP
    index = np.arange(_FRAME)[None, :] + _HOP * np.arange(count)[:, None]
    frames = audio[index] * np.hamming(_FRAME)
    energy = np.sum(frames**2, axis=1)
    loud = energy >= np.percentile(energy, 50)
    spectrum = np.abs(np.fft.rfft(frames[loud], _FFT)) ** 2
    mel = np.log(spectrum @ _mel_filters(rate).T + 1e-10)
    cepstra = mel @ _dct_matrix().T
    pitch = _median_pitch(audio, rate)
    return np.concatenate([cepstra[:, 1 : _CEPSTRA + 1].mean(axis=0), [np.log(pitch)]])


def label_speakers(
    prints: Sequence[npt.NDArray[np.float64]], durations: Sequence[float]
) -> list[str]:
    """One label per line ("S1", "S2" …), from each line's voice print and length in seconds."""
    if not prints:
        return []
    features = np.stack(prints)
    spread = features.std(axis=0)
    spread[spread == 0] = 1.0
    scaled = (features - features.mean(axis=0)) / spread
    scaled[:, -1] *= PITCH_WEIGHT
    reliable = [i for i, d in enumerate(durations) if d >= MIN_PLACED_S]
    if len(reliable) < 3:
        return ["S1"] * len(prints)
    points = scaled[reliable]
    best = [0] * len(reliable)
    best_score = MIN_SILHOUETTE
    for k in range(2, min(MAX_SPEAKERS, len(reliable) - 1) + 1):
        clusters = _average_linkage(points, k)
        score = _silhouette(points, clusters)
        if score > best_score and _distinct(features[reliable], clusters):
            best, best_score = clusters, score
    centres = {c: points[[i for i, x in enumerate(best) if x == c]].mean(axis=0) for c in set(best)}
    assigned: list[int] = []
    for i in range(len(prints)):
        if i in reliable:
            assigned.append(best[reliable.index(i)])
        else:
            assigned.append(
                min(centres, key=lambda c: float(np.linalg.norm(scaled[i] - centres[c])))
            )
    order: dict[int, str] = {}
    for cluster in assigned:
        order.setdefault(cluster, f"S{len(order) + 1}")
    return [order[c] for c in assigned]


def _distinct(features: npt.NDArray[np.float64], clusters: list[int]) -> bool:
    """Whether every two clusters sound apart in absolute terms, not only relative to
    each other: standardising makes any small spread look like two voices."""
    labels = np.asarray(clusters)
    centres = [features[labels == c].mean(axis=0) for c in sorted(set(clusters))]
    for i, a in enumerate(centres):
        for b in centres[i + 1 :]:
            pitch_apart = abs(a[-1] - b[-1]) >= np.log(MIN_PITCH_RATIO)
            timbre_apart = float(np.linalg.norm(a[:-1] - b[:-1])) >= MIN_TIMBRE_DISTANCE
            if not (pitch_apart or timbre_apart):
                return False
    return True


def _average_linkage(points: npt.NDArray[np.float64], k: int) -> list[int]:
    clusters: list[list[int]] = [[i] for i in range(len(points))]
    distance = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=2)
    while len(clusters) > k:
        best = (0, 1, np.inf)
        for a in range(len(clusters)):
            for b in range(a + 1, len(clusters)):
                d = float(distance[np.ix_(clusters[a], clusters[b])].mean())
                if d < best[2]:
                    best = (a, b, d)
        a, b, _ = best
        clusters[a] += clusters.pop(b)
    labels = [0] * len(points)
    for number, members in enumerate(clusters):
        for member in members:
            labels[member] = number
    return labels


def _silhouette(points: npt.NDArray[np.float64], labels: list[int]) -> float:
    distance = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=2)
    array = np.asarray(labels)
    scores = []
    for i, label in enumerate(labels):
        same = (array == label) & (np.arange(len(labels)) != i)
        if not same.any():
            scores.append(0.0)
            continue
        inside = float(distance[i, same].mean())
        outside = min(float(distance[i, array == other].mean()) for other in set(labels) - {label})
        scores.append((outside - inside) / max(inside, outside))
    return float(np.mean(scores))


def _median_pitch(audio: npt.NDArray[np.float64], rate: int) -> float:
    """Median F0 (Hz) over the loud 40 ms frames, by autocorrelation in 60–400 Hz.

    The signal is smoothed first (formants would pass for a high pitch) and
    each lag's correlation divided by its overlap, so long periods are not
    penalised for overlapping less; 100 Hz when nothing sounds voiced.
    """
    smooth = np.convolve(audio, np.ones(8) / 8, mode="same")
    size = int(0.04 * rate)
    low, high = rate // 400, rate // 60
    frames = [smooth[i : i + size] for i in range(0, smooth.size - size, size)]
    loudness = [float(np.mean(f**2)) for f in frames]
    if not frames:
        return 100.0
    floor = float(np.percentile(loudness, 50))
    overlap = size - np.arange(size)
    pitches = []
    for frame, loud in zip(frames, loudness, strict=True):
        if loud < floor or loud == 0:
            continue
        frame = frame - frame.mean()
        corr = np.correlate(frame, frame, mode="full")[size - 1 :] / overlap
        corr /= corr[0]
        window = corr[low:high]
        peak = float(window.max())
        # The shortest lag nearly as good as the best: a period's multiples
        # correlate as well as the period itself (the octave error).
        lag = low + int(np.argmax(window >= 0.9 * peak))
        if peak > 0.5:
            pitches.append(rate / lag)
    return float(np.median(pitches)) if pitches else 100.0


def _mel_filters(rate: int) -> npt.NDArray[np.float64]:
    def to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    edges_mel = np.linspace(to_mel(np.array(0.0)), to_mel(np.array(rate / 2)), _MELS + 2)
    edges = 700.0 * (10 ** (edges_mel / 2595.0) - 1.0)
    bins = np.floor((_FFT + 1) * edges / rate).astype(int)
    filters = np.zeros((_MELS, _FFT // 2 + 1))
    for m in range(1, _MELS + 1):
        left, centre, right = bins[m - 1], bins[m], bins[m + 1]
        for j in range(left, centre):
            filters[m - 1, j] = (j - left) / max(centre - left, 1)
        for j in range(centre, right):
            filters[m - 1, j] = (right - j) / max(right - centre, 1)
    return filters


def _dct_matrix() -> npt.NDArray[np.float64]:
    n = np.arange(_MELS)
    k = np.arange(_CEPSTRA + 1)[:, None]
    matrix: npt.NDArray[np.float64] = np.cos(np.pi * k * (2 * n + 1) / (2 * _MELS))
    return matrix
