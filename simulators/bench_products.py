"""Barcode and label read rates on the project's product sets.

Two sets, scored the same way and reported apart: recordings/products/ (the
set the parser was tuned on) and recordings/products-heldout/ (drawn later
with other products, typefaces, layouts and a harsher camera, and never used
to change the parser). Each image has its truth in `truth.json`: the barcode
(EAN-13 digits, or a QR code's text) and the label fields that its layout
shows (a pack's front: name, brand, size; its back: ingredients and
allergens; a shelf label or promotion tag: name, size, price). A frame with
several labels (a shelf-edge strip) lists each under "labels": each label's
fields are scored on the product read nearest its name, and its barcode must
be the one given to that product. A field counts as read when what the edge
sent says the same thing as the truth, compared the way a shopper would (case,
spacing and punctuation aside; an ingredients list with nearly all of its
words). The labels are read as the edge reads them (edge/vision/label_regions.py),
and a one-label frame is scored on the first product, the one the cloud answers about.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from edge.vision.barcodes import BarcodeReader, LocatedCode, LocatingBarcodeReader
from edge.vision.label_regions import read_products
from edge.vision.ocr import LocatedOcr, Ocr
from edge.vision.product_label import parse_label, parse_price
from protocol.messages import ProductLabel
from simulators.errors import SimulatorError
from simulators.recordings import RECORDINGS

PRODUCT_SET = RECORDINGS / "products"
HELD_OUT_SET = RECORDINGS / "products-heldout"
FIELDS = ("name", "brand", "size", "price", "ingredients", "allergens")
# An ingredients list read with at least this share of its words counts as read.
INGREDIENT_WORDS_READ = 0.9


@dataclass
class FieldTally:
    read: int = 0
    shown: int = 0

    @property
    def rate(self) -> float:
        return self.read / self.shown if self.shown else 0.0


@dataclass
class ProductReport:
    images: int = 0
    barcodes: FieldTally = field(default_factory=FieldTally)
    fields: dict[str, FieldTally] = field(default_factory=dict)
    misses: list[str] = field(default_factory=list)
    ms_per_image: float = 0.0
    # Frames showing several labels: how many were split into the right number of
    # products, and how many labels got their own barcode.
    several_frames: int = 0
    several_split: int = 0
    label_barcodes: FieldTally = field(default_factory=FieldTally)

    def to_json(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "barcode_read_rate": round(self.barcodes.rate, 3),
            "barcodes": {"read": self.barcodes.read, "shown": self.barcodes.shown},
            "field_read_rates": {
                name: round(tally.rate, 3) for name, tally in self.fields.items() if tally.shown
            },
            "fields": {
                name: {"read": tally.read, "shown": tally.shown}
                for name, tally in self.fields.items()
                if tally.shown
            },
            **(
                {
                    "several_labels": {
                        "frames": self.several_frames,
                        "split_into_the_right_count": self.several_split,
                        "label_barcodes": {
                            "read": self.label_barcodes.read,
                            "shown": self.label_barcodes.shown,
                        },
                    }
                }
                if self.several_frames
                else {}
            ),
            "ms_per_image": round(self.ms_per_image, 1),
            "misses": self.misses,
        }


def load_truth(folder: Path = PRODUCT_SET) -> list[dict[str, Any]]:
    path = folder / "truth.json"
    if not path.is_file():
        raise SimulatorError(
            f"{path} is missing; run `python scripts/make_product_set.py products` to make it"
        )
    truth: list[dict[str, Any]] = json.loads(path.read_text())
    return truth


def bench_products(
    barcodes: BarcodeReader,
    ocr: Ocr | None,
    *,
    folder: Path = PRODUCT_SET,
    clock: Callable[[], float] = time.perf_counter,
) -> ProductReport:
    """Read every image of the set; `ocr` None measures the barcodes alone."""
    report = ProductReport(fields={name: FieldTally() for name in FIELDS})
    spent = 0.0
    for entry in load_truth(folder):
        image = _image(folder / entry["image"])
        started = clock()
        located = _codes(barcodes, image)
        products = _products(ocr, image, located) if ocr is not None else ()
        spent += clock() - started
        codes = [found.code for found in located]
        report.images += 1
        labels = entry.get("labels") or [entry]
        for truth in labels:
            report.barcodes.shown += 1
            if truth["barcode"] in codes:
                report.barcodes.read += 1
            else:
                report.misses.append(f"{entry['image']}: barcode {codes or 'not found'}")
        if ocr is None:
            continue
        if "labels" not in entry:
            _score(report, entry["image"], entry, products[0] if products else None)
            continue
        report.several_frames += 1
        report.several_split += len(products) == len(labels)
        for truth in labels:
            mine = next((p for p in products if field_read("name", truth["product"], p)), None)
            _score(report, entry["image"], truth, mine)
            report.label_barcodes.shown += 1
            if mine is not None and mine.barcode == truth["barcode"]:
                report.label_barcodes.read += 1
            else:
                got = mine.barcode if mine is not None else "no label"
                report.misses.append(f"{entry['image']}: {truth['product']['name']} code {got!r}")
    report.ms_per_image = spent * 1000.0 / max(1, report.images)
    return report


def _score(
    report: ProductReport, image: str, truth: dict[str, Any], label: ProductLabel | None
) -> None:
    for name in truth["fields"]:
        tally = report.fields[name]
        tally.shown += 1
        if field_read(name, truth["product"], label):
            tally.read += 1
        else:
            got = getattr(label, name, None) if label is not None else None
            report.misses.append(f"{image}: {name} read as {got!r}")


def _codes(barcodes: BarcodeReader, image: npt.NDArray[np.uint8]) -> list[LocatedCode]:
    if isinstance(barcodes, LocatingBarcodeReader):
        return barcodes.read_located(image)
    height, width = image.shape[:2]
    return [LocatedCode(code, width / 2, height / 2) for code in barcodes.read(image)]


def _products(
    ocr: Ocr, image: npt.NDArray[np.uint8], codes: list[LocatedCode]
) -> tuple[ProductLabel, ...]:
    """The labels as the edge reads them: split by layout where the OCR gives boxes."""
    if isinstance(ocr, LocatedOcr):
        return read_products(ocr.read_boxes(image), codes)
    label = parse_label([line.text for line in ocr.read(image)])
    return (label,) if label is not None else ()


def field_read(name: str, product: dict[str, str], label: ProductLabel | None) -> bool:
    """Whether the parsed label says what the product's truth says for one field."""
    if label is None:
        return False
    if name == "ingredients":
        # OCR runs words together ("rapeseedoil"): a word is read if it is in the text.
        listed = _words(product["ingredients"])
        text = _plain(label.ingredients)
        return bool(listed) and sum(w in text for w in listed) >= INGREDIENT_WORDS_READ * len(
            listed
        )
    if name == "allergens":
        shown = [line for line in (product["contains"], product["may_contain"]) if line]
        printed = _plain(" ".join(label.allergens))
        if not shown:
            return not label.allergens
        return all(w in printed for line in shown for w in _words(line))
    if name == "price":
        return parse_price(label.price) == parse_price(product["price"])
    if name == "name":
        # A shelf label prints the brand before the name: the name within it is read.
        read, wanted = _plain(label.name), _plain(product["name"])
        return bool(wanted) and wanted in read and len(read) <= len(wanted) + len(product["brand"])
    return _plain(getattr(label, name)) == _plain(product[name])


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _plain(text: str) -> str:
    return re.sub(r"[^a-z0-9%£.]", "", text.lower())


def _image(path: Path) -> npt.NDArray[np.uint8]:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SimulatorError(f"cannot read {path}; rerun scripts/make_product_set.py")
    return np.asarray(image, dtype=np.uint8)
