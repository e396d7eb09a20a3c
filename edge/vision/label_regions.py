"""Several products in one frame: OCR lines split into labels by where they sit.

A shelf seen from a step back shows two or three labels side by side. Read
as one block of text, their names, prices and sizes run into each other and
the parser returns one muddled product. Each label is a tight cluster of
lines (one column, gaps under about a line's height) with wider space
between labels, so the boxes are joined into clusters by nearness alone
(single linkage) and each cluster is parsed on its own. A barcode belongs to
the label it sits nearest to.

When the split finds fewer than two named products, the frame is one label
and is parsed whole, exactly as before the split existed: a pack's front
with its price off to one side is still one product.

Pure and deterministic: boxes and code positions in, `ProductLabel`s out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from edge.vision.barcodes import LocatedCode
from edge.vision.ocr import TextBox, in_reading_order
from edge.vision.product_label import parse_label
from protocol.messages import ProductLabel

# Two lines of one column belong to one label when the space between them is at most
# this many times the smaller line's height (a label's line spacing is under one height).
COLUMN_GAP = 1.3
# Two boxes on one line belong together when the gap between them is at most this many
# line heights (OCR splits a line into words or phrases at wide spaces).
LINE_GAP = 1.2
# A column's lines must overlap horizontally by this share of the narrower one.
COLUMN_OVERLAP = 0.1


def label_regions(boxes: Sequence[TextBox]) -> list[list[TextBox]]:
    """The boxes grouped into labels, each in reading order, labels left to right."""
    parent = list(range(len(boxes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            if _near(a, boxes[j]):
                parent[root(i)] = root(j)
    groups: dict[int, list[TextBox]] = {}
    for i, box in enumerate(boxes):
        groups.setdefault(root(i), []).append(box)
    regions = [in_reading_order(group) for group in groups.values()]
    return sorted(regions, key=lambda region: (min(b.left for b in region), region[0].top))


def read_products(
    boxes: Sequence[TextBox], codes: Sequence[LocatedCode] = ()
) -> tuple[ProductLabel, ...]:
    """The product labels in one frame's text, each with the barcode nearest to it."""
    regions = label_regions(boxes)
    parsed = [(region, parse_label([b.text for b in region])) for region in regions]
    named = [(region, label) for region, label in parsed if label is not None and label.name]
    if len(named) < 2:
        whole = parse_label([b.text for b in boxes])
        if whole is None:
            return ()
        return (_with_code(whole, list(boxes), codes, allowed=codes),)
    # A price or size printed apart from its name (a cluster with no name) joins the
    # named cluster nearest to it.
    merged: list[list[TextBox]] = [list(region) for region, _ in named]
    for region, label in parsed:
        if label is not None and not label.name:
            nearest = min(merged, key=lambda group: _region_distance(group, region))
            nearest.extend(region)
    products: list[ProductLabel] = []
    for group in merged:
        label = parse_label([b.text for b in in_reading_order(group)])
        if label is None:
            continue
        mine = [c for c in codes if _nearest_region(c, merged) is group]
        products.append(_with_code(label, group, codes, allowed=mine))
    return tuple(products)


def _with_code(
    label: ProductLabel,
    region: Sequence[TextBox],
    codes: Sequence[LocatedCode],
    *,
    allowed: Sequence[LocatedCode],
) -> ProductLabel:
    """The label with the digits of the product barcode closest to it, if any is its own."""
    numbers = [c for c in allowed if c.code.isdigit()]
    if not numbers:
        return label
    closest = min(numbers, key=lambda c: _point_distance(c.x, c.y, region))
    return dataclasses.replace(label, barcode=closest.code)


def _near(a: TextBox, b: TextBox) -> bool:
    height = max(1.0, min(a.bottom - a.top, b.bottom - b.top))
    vertical_gap = max(a.top, b.top) - min(a.bottom, b.bottom)
    horizontal_gap = max(a.left, b.left) - min(a.right, b.right)
    narrower = max(1.0, min(a.right - a.left, b.right - b.left))
    if vertical_gap <= COLUMN_GAP * height and -horizontal_gap >= COLUMN_OVERLAP * narrower:
        return True  # one above the other in a column
    same_line = vertical_gap < -0.5 * height  # they share most of a line's height
    return same_line and horizontal_gap <= LINE_GAP * height


def _point_distance(x: float, y: float, region: Sequence[TextBox]) -> float:
    left, right = min(b.left for b in region), max(b.right for b in region)
    top, bottom = min(b.top for b in region), max(b.bottom for b in region)
    dx = max(left - x, 0.0, x - right)
    dy = max(top - y, 0.0, y - bottom)
    return float((dx * dx + dy * dy) ** 0.5)


def _region_distance(a: Sequence[TextBox], b: Sequence[TextBox]) -> float:
    return min(
        _point_distance((box.left + box.right) / 2, (box.top + box.bottom) / 2, a) for box in b
    )


def _nearest_region(code: LocatedCode, regions: Sequence[list[TextBox]]) -> list[TextBox]:
    return min(regions, key=lambda region: _point_distance(code.x, code.y, region))
