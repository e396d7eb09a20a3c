"""Product barcodes: the EAN-13 symbology drawn here, read back by OpenCV, and the product set."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from edge.vision.analysis import KeyframeAnalyser
from edge.vision.barcodes import OpenCvBarcodeReader, ean_check_digit, valid_product_number
from protocol import decode, encode
from protocol.messages import Observation, ProductLabel
from simulators.bench_products import bench_products
from simulators.ean13 import ean13_modules, render_ean13, with_check_digit
from tests.test_vision_analysis import FakeClassifier, FakeOcr


def on_card(code: str, module_px: int = 2) -> np.ndarray:
    bars = render_ean13(code, module_px=module_px, height_px=120)
    card = cv2.copyMakeBorder(bars, 100, 100, 100, 100, cv2.BORDER_CONSTANT, value=230)
    return cv2.cvtColor(card, cv2.COLOR_GRAY2BGR)


@pytest.fixture(scope="module")
def reader() -> OpenCvBarcodeReader:
    return OpenCvBarcodeReader()


def test_check_digit_matches_published_ean_and_upc_numbers():
    assert ean_check_digit("400638133393") == 1  # EAN-13 4006381333931
    assert ean_check_digit("03600029145") == 2  # UPC-A 036000291452
    assert valid_product_number("4006381333931")
    assert not valid_product_number("4006381333932")
    assert not valid_product_number("40063813339")


def test_ean13_has_95_modules_with_guards_at_both_ends_and_centre():
    modules = ean13_modules("4006381333931")

    assert len(modules) == 95
    assert modules[:3] == "101" and modules[-3:] == "101"
    assert modules[45:50] == "01010"


def test_renderer_refuses_a_number_whose_check_digit_is_wrong():
    with pytest.raises(ValueError, match="check digit"):
        ean13_modules("4006381333932")


def test_drawn_ean13_is_read_back_by_opencv(reader):
    code = with_check_digit("501234567890")

    assert reader.read(on_card(code)) == [code]


def test_upc_a_is_reported_as_its_ean13_spelling(reader):
    upc_as_ean = "0" + "036000291452"

    assert reader.read(on_card(upc_as_ean)) == [upc_as_ean]


def test_a_qr_code_is_read_as_its_text(reader):
    qr = cv2.QRCodeEncoder.create().encode("shelf:5012345678900")
    qr = cv2.resize(qr, None, fx=6, fy=6, interpolation=cv2.INTER_NEAREST)
    card = cv2.copyMakeBorder(qr, 60, 60, 60, 60, cv2.BORDER_CONSTANT, value=255)

    assert reader.read(cv2.cvtColor(card, cv2.COLOR_GRAY2BGR)) == ["shelf:5012345678900"]


def test_a_frame_without_codes_reads_nothing(reader):
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)

    assert reader.read(noise) == []


def test_most_barcodes_of_the_product_set_are_read(reader, recordings):
    report = bench_products(reader, None, folder=recordings / "products")

    assert report.images == 36
    # 28 of 36 at the time of writing; the misses are the smallest, blurriest codes.
    assert report.barcodes.read >= 25


def test_the_held_out_set_counts_each_tag_of_a_shelf_strip(reader, recordings):
    report = bench_products(reader, None, folder=recordings / "products-heldout")

    assert report.images == 40
    assert report.barcodes.shown == 48  # 36 single labels and 4 strips of three tags
    # Measured once and not tuned for (19 of 48 then): the tags' small codes are the misses.
    assert report.barcodes.read >= 12


class FailingReader:
    def read(self, image):
        raise RuntimeError("cv2 error")


class FixedReader:
    def read(self, image):
        return ["5012345678900"]


def test_barcode_stage_adds_codes_to_the_visual_context():
    analyser = KeyframeAnalyser(FakeOcr(), FakeClassifier(), barcodes=FixedReader())

    context = analyser.analyse(np.zeros((480, 640, 3), np.uint8))

    assert context.barcodes == ("5012345678900",)
    assert context.errors == ()


def test_failing_barcode_stage_keeps_the_text_and_names_the_stage(caplog):
    analyser = KeyframeAnalyser(FakeOcr(), FakeClassifier(), barcodes=FailingReader())

    with caplog.at_level(logging.WARNING):
        context = analyser.analyse(np.zeros((480, 640, 3), np.uint8))

    assert context.barcodes == ()
    assert context.ocr[0].text == "EXIT"
    assert context.errors == ("barcodes: RuntimeError: cv2 error",)


def test_observation_carries_barcodes_and_products_over_the_wire():
    sent = Observation(
        session_id="s",
        seq=1,
        sent_at=0.0,
        turn_id=3,
        captured_at=0.0,
        barcodes=("5012345678900",),
        products=(ProductLabel(name="Oat Drink", brand="OATLY", size="1L", price="£1.80"),),
    )

    assert decode(encode(sent)) == sent
