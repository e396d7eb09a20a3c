"""Several products in one frame: OCR boxes split into labels by layout, barcodes matched
to the label nearest them; one label stays one product."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from cloud.tools.shopping import parse_amount
from edge.vision.analysis import KeyframeAnalyser
from edge.vision.barcodes import LocatedCode, OpenCvBarcodeReader
from edge.vision.label_regions import label_regions, read_products
from edge.vision.ocr import RapidOcr, TextBox
from protocol.messages import OcrLine
from tests.test_vision_analysis import FakeClassifier


def box(text: str, left: float, top: float, width: float = 200.0, height: float = 30.0) -> TextBox:
    return TextBox(
        text=text, score=0.95, left=left, top=top, bottom=top + height, right=left + width
    )


def column(x: float, *lines: str, top: float = 60.0, step: float = 40.0) -> list[TextBox]:
    return [box(text, x, top + i * step) for i, text in enumerate(lines)]


TWO_BARS = [
    *column(20, "COCOA CO", "Dark Chocolate 70%", "100g", "£2.10"),
    *column(520, "COCOA CO", "Milk Chocolate", "100g", "£1.90"),
]


def test_two_labels_side_by_side_are_two_regions() -> None:
    regions = label_regions(sorted(TWO_BARS, key=lambda b: b.top))

    assert [[b.text for b in region] for region in regions] == [
        ["COCOA CO", "Dark Chocolate 70%", "100g", "£2.10"],
        ["COCOA CO", "Milk Chocolate", "100g", "£1.90"],
    ]


def test_each_label_is_parsed_on_its_own_with_the_barcode_nearest_it() -> None:
    codes = [LocatedCode("5012345000314", 600, 260), LocatedCode("5012345000246", 100, 250)]

    products = read_products(TWO_BARS, codes)

    assert [(p.name, p.price, p.barcode) for p in products] == [
        ("Dark Chocolate 70%", "£2.10", "5012345000246"),
        ("Milk Chocolate", "£1.90", "5012345000314"),
    ]


def test_three_shelf_tags_in_a_row_are_three_products() -> None:
    tags = [
        *column(10, "Sunrise Orange Juice 1L", "£1.60", top=300),
        *column(330, "Bramble Strawberry Jam 340g", "£1.35", top=310),
        *column(650, "Green Leaf Tofu Firm 400g", "£2.00", top=295),
    ]

    products = read_products(tags)

    assert [p.price for p in products] == ["£1.60", "£1.35", "£2.00"]
    assert [p.size for p in products] == ["1L", "340g", "400g"]


def test_a_price_printed_apart_from_its_name_joins_the_nearest_label() -> None:
    far_price = [
        *column(20, "Sunrise", "Orange Juice 1L"),
        box("£1.60", 20, 260),  # well below: a cluster of its own
        *column(520, "Bramble", "Strawberry Jam 340g", "£1.35"),
    ]

    products = read_products(far_price)

    assert [(p.name, p.price) for p in products] == [
        ("Orange Juice", "£1.60"),
        ("Strawberry Jam", "£1.35"),
    ]


def test_one_label_is_one_product_even_when_its_lines_are_far_apart() -> None:
    front = [box("MEADOW", 40, 40), box("Greek Style Yogurt", 40, 200, height=50)]
    front += [box("500g", 500, 420)]

    products = read_products(front, [LocatedCode("5012345000480", 520, 500)])

    assert [(p.brand, p.name, p.size, p.barcode) for p in products] == [
        ("MEADOW", "Greek Style Yogurt", "500g", "5012345000480")
    ]


def test_text_that_is_no_label_gives_no_products() -> None:
    assert read_products(column(20, "PLATFORM 9", "Trains to Leeds")) == ()


class BoxedOcr:
    """An OCR that says where its lines are, as RapidOcr does."""

    def read(self, image: object) -> list[OcrLine]:
        return [OcrLine(text=b.text, score=b.score) for b in self.read_boxes(image)]

    def read_boxes(self, image: object) -> list[TextBox]:
        return sorted(TWO_BARS, key=lambda b: b.top)


class LocatedReader:
    def read(self, image: object) -> list[str]:
        return [c.code for c in self.read_located(image)]

    def read_located(self, image: object) -> list[LocatedCode]:
        return [LocatedCode("5012345000314", 600, 260)]


def test_the_keyframe_analyser_sends_one_product_per_label() -> None:
    analyser = KeyframeAnalyser(BoxedOcr(), FakeClassifier(), barcodes=LocatedReader())

    context = analyser.analyse(np.zeros((480, 1000, 3), np.uint8))

    assert [(p.name, p.barcode) for p in context.products] == [
        ("Dark Chocolate 70%", ""),
        ("Milk Chocolate", "5012345000314"),
    ]
    assert context.barcodes == ("5012345000314",)
    assert len(context.ocr) == 8


TWO_TAGS = Path(__file__).resolve().parents[1] / "scenarios" / "media" / "shopping-two-tags.jpg"


@pytest.mark.models
def test_two_photographed_tags_are_two_products_and_the_code_goes_to_its_own_tag(
    rapid_ocr: RapidOcr,
) -> None:
    """Two shelf tags photographed side by side (scripts/make_shopping_scenes.py): the real
    OCR and barcode reader; only the popcorn's code is decoded, and it is not the water's."""
    image = np.asarray(cv2.imread(str(TWO_TAGS), cv2.IMREAD_COLOR), np.uint8)
    codes = OpenCvBarcodeReader().read_located(image)

    products = read_products(rapid_ocr.read_boxes(image), codes)

    assert [c.code for c in codes] == ["5077702200491"]
    assert [(p.size, p.barcode) for p in products] == [
        ("100g", "5077702200491"),
        ("1.5L", ""),
    ]
    assert [parse_amount(p.price) for p in products] == [1.2, 0.8]
