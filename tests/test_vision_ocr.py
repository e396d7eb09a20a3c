"""OCR: reads printed pages in reading order, drops unsure guesses, refuses unknown models."""

from __future__ import annotations

import cv2
import pytest

from edge.errors import ModelError
from edge.vision import ocr as ocr_module
from edge.vision.ocr import TextBox, in_reading_order
from modelfiles import ModelFileError


def _box(text: str, left: float, top: float, height: float = 10.0) -> TextBox:
    return TextBox(text=text, score=0.9, left=left, top=top, bottom=top + height)


def test_reading_order_is_top_to_bottom_then_left_to_right():
    boxes = [
        _box("second-line", 0, 30),
        _box("right", 200, 2),
        _box("left", 0, 0),
        _box("third-line", 5, 60),
    ]

    assert [b.text for b in in_reading_order(boxes)] == [
        "left",
        "right",
        "second-line",
        "third-line",
    ]


def test_slightly_tilted_words_stay_on_their_line():
    boxes = [_box("world", 100, 4), _box("hello", 0, 0), _box("below", 0, 14)]

    assert [b.text for b in in_reading_order(boxes)] == ["hello", "world", "below"]


def test_box_from_corners_spans_all_four_points():
    box = TextBox.from_corners([[3, 5], [50, 4], [51, 20], [2, 21]], "x", 0.8)

    assert (box.left, box.top, box.bottom) == (2.0, 4.0, 21.0)


def test_missing_or_changed_model_file_is_a_model_error(monkeypatch):
    def refuse(package, relative, sha256, install):
        raise ModelFileError(f"model file {relative} has sha256 0000…, expected {sha256[:16]}…")

    monkeypatch.setattr(ocr_module, "bundled", refuse)

    with pytest.raises(ModelError, match="OCR models unusable"):
        ocr_module.RapidOcr()


@pytest.mark.models
def test_reads_the_printed_page_in_reading_order(rapid_ocr, page_image):
    lines = rapid_ocr.read(page_image)

    texts = [line.text for line in lines]
    assert texts[0].replace(" ", "") == "Region-basedsegmentation"
    assert texts[1] == "Let us first determine markers of the coins and the"
    text = " ".join(texts)
    for word in ("markers", "coins", "background", "unambiguously", "extreme", "histogram"):
        assert word in text
    assert "zeros" in texts[-1]
    assert all(line.score >= ocr_module.MIN_SCORE for line in lines)


@pytest.mark.models
def test_reads_a_grayscale_page_like_a_colour_one(rapid_ocr, page_image):
    page = page_image
    gray = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)

    assert [line.text for line in rapid_ocr.read(gray)] == [
        line.text for line in rapid_ocr.read(page)
    ]


@pytest.mark.models
def test_handwritten_formulae_yield_no_confident_lines(rapid_ocr, handwriting_image):
    # text.png is handwritten maths on lined paper: the printed-text model only
    # guesses single symbols (scores 0.1-0.65), which the floor must drop.
    assert rapid_ocr.read(handwriting_image) == []


@pytest.mark.models
def test_a_photo_without_text_yields_no_lines(rapid_ocr, cat_image):
    assert rapid_ocr.read(cat_image) == []


@pytest.mark.models
def test_a_large_frame_is_shrunk_and_still_read(rapid_ocr, page_image):
    huge = cv2.resize(page_image, None, fx=8, fy=8, interpolation=cv2.INTER_CUBIC)  # 3072x1528

    text = " ".join(line.text for line in rapid_ocr.read(huge))

    assert "markers" in text and "histogram" in text
