"""Axis-aligned boxes in pixel coordinates, and merging overlapping ones."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Box:
    """A region of an image: left, top (inclusive), right, bottom (exclusive), in pixels."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0
    label: str = ""

    @property
    def area(self) -> float:
        return max(0.0, self.x1 - self.x0) * max(0.0, self.y1 - self.y0)

    def grown(self, margin: float) -> Box:
        """The box widened by `margin` times its own width and height on every side."""
        dx = (self.x1 - self.x0) * margin
        dy = (self.y1 - self.y0) * margin
        return Box(self.x0 - dx, self.y0 - dy, self.x1 + dx, self.y1 + dy, self.score, self.label)

    def clipped(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Integer pixel bounds inside a width x height image (may be empty)."""
        x0 = min(max(int(self.x0), 0), width)
        y0 = min(max(int(self.y0), 0), height)
        x1 = min(max(math.ceil(self.x1), x0), width)
        y1 = min(max(math.ceil(self.y1), y0), height)
        return x0, y0, x1, y1

    def shifted(self, dx: float, dy: float) -> Box:
        return Box(self.x0 + dx, self.y0 + dy, self.x1 + dx, self.y1 + dy, self.score, self.label)


def iou(a: Box, b: Box) -> float:
    """Intersection over union: 0 for disjoint boxes, 1 for identical ones."""
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (a.area + b.area - inter)


def overlaps(a: Box, b: Box) -> bool:
    return min(a.x1, b.x1) > max(a.x0, b.x0) and min(a.y1, b.y1) > max(a.y0, b.y0)


def non_max_suppression(boxes: Sequence[Box], iou_threshold: float = 0.45) -> list[Box]:
    """Highest-scoring boxes first, dropping any that overlap a kept box of the same label."""
    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: b.score, reverse=True):
        if all(k.label != box.label or iou(k, box) <= iou_threshold for k in kept):
            kept.append(box)
    return kept
