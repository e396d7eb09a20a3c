"""Precision and recall of the face stage on the labelled face set (recordings/faces/).

Each frame has its faces in `truth.json` (made by scripts/make_face_set.py,
see the README there). A detection counts as a face found when it overlaps a
labelled face by IoU >= 0.3 (each label matched once, best overlap first);
every other detection is a false positive, i.e. a patch of the frame blurred
for nothing, which on a sign is text the wearer asked about and cannot read.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.vision.boxes import Box, iou
from edge.vision.faces import FaceDetector
from simulators.errors import SimulatorError
from simulators.recordings import RECORDINGS

FACE_SET = RECORDINGS / "faces"
MATCH_IOU = 0.3


@dataclass
class FaceReport:
    frames: int = 0
    faces: int = 0
    found: int = 0
    false_positives: int = 0
    false_positives_by_kind: Counter[str] = field(default_factory=Counter)
    missed: list[str] = field(default_factory=list)
    spurious: list[str] = field(default_factory=list)
    ms_per_frame: float = 0.0

    @property
    def precision(self) -> float:
        detections = self.found + self.false_positives
        return self.found / detections if detections else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.faces if self.faces else 1.0

    def to_json(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "faces": self.faces,
            "found": self.found,
            "false_positives": self.false_positives,
            "precision": round(self.precision, 3),
            "recall": round(self.recall, 3),
            "false_positives_by_kind": dict(sorted(self.false_positives_by_kind.items())),
            "ms_per_frame": round(self.ms_per_frame, 1),
            "missed": self.missed,
            "spurious": self.spurious,
        }


def match_faces(truth: list[Box], found: list[Box]) -> tuple[int, int]:
    """(labelled faces found, detections matching no label), each label matched at most once."""
    pairs = sorted(
        ((iou(t, f), ti, fi) for ti, t in enumerate(truth) for fi, f in enumerate(found)),
        reverse=True,
    )
    used_truth: set[int] = set()
    used_found: set[int] = set()
    for overlap, ti, fi in pairs:
        if overlap < MATCH_IOU:
            break
        if ti in used_truth or fi in used_found:
            continue
        used_truth.add(ti)
        used_found.add(fi)
    return len(used_truth), len(found) - len(used_found)


def load_truth(folder: Path) -> dict[str, dict[str, Any]]:
    path = folder / "truth.json"
    try:
        truth: dict[str, dict[str, Any]] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SimulatorError(f"cannot read the face set's truth {path}: {exc}") from exc
    return truth


def bench_faces(detector: FaceDetector, *, folder: Path = FACE_SET) -> FaceReport:
    """Run `detector` over every labelled frame and tally what it found and what it invented."""
    report = FaceReport()
    seconds = 0.0
    for name, entry in sorted(load_truth(folder).items()):
        image = cv2.imread(str(folder / name), cv2.IMREAD_COLOR)
        if image is None:
            raise SimulatorError(f"cannot read {folder / name}: run scripts/make_face_set.py")
        truth = [
            Box(float(x0), float(y0), float(x1), float(y1)) for x0, y0, x1, y1 in entry["faces"]
        ]
        started = time.perf_counter()
        found = detector.detect(image.astype(np.uint8, copy=False))
        seconds += time.perf_counter() - started
        hits, spurious = match_faces(truth, found)
        report.frames += 1
        report.faces += len(truth)
        report.found += hits
        report.false_positives += spurious
        if spurious:
            report.false_positives_by_kind[str(entry["kind"])] += spurious
            report.spurious.append(f"{name}: {spurious}")
        if hits < len(truth):
            report.missed.append(f"{name}: {len(truth) - hits} of {len(truth)}")
    report.ms_per_frame = 1000 * seconds / max(1, report.frames)
    return report
