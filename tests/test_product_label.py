"""Product labels parsed from OCR lines: pack fronts, ingredients blocks, shelf labels, price tags."""

from __future__ import annotations

import numpy as np

from edge.vision.analysis import KeyframeAnalyser
from edge.vision.product_label import parse_label, parse_price, respace
from protocol.messages import OcrLine, ProductLabel
from tests.test_vision_analysis import FakeClassifier


def test_ingredients_block_runs_over_wrapped_lines_and_stops_at_allergen_lines():
    label = parse_label(
        [
            "Hillside Peanut Butter Cookies 200g",
            "Ingredients: Wheat flour, sugar, peanuts 18%,",
            "palm oil, butter (milk), salt.",
            "Contains: wheat, peanuts, milk.",
            "May contain: tree nuts.",
            "Store in a cool dry place.",
        ]
    )

    assert label is not None
    assert label.ingredients == "Wheat flour, sugar, peanuts 18%, palm oil, butter (milk), salt"
    assert label.allergens == ("Contains: wheat, peanuts, milk.", "May contain: tree nuts.")
    assert label.size == "200g"


def test_a_contains_sentence_inside_the_ingredients_becomes_an_allergen_line():
    label = parse_label(["INGREDIENTS: Oats, honey. Contains: oats. May contain nuts."])

    assert label is not None
    assert label.ingredients == "Oats, honey"
    assert label.allergens == ("Contains: oats.", "May contain nuts.")


def test_pack_front_gives_brand_over_name_and_a_size():
    label = parse_label(["COCOA CO", "Dark Chocolate 70%", "100g", "5012345000244"])

    assert label == ProductLabel(name="Dark Chocolate 70%", brand="COCOA CO", size="100g")


def test_tallest_line_is_the_name_when_heights_are_known():
    label = parse_label(["Meadow", "Greek Style Yogurt", "500g"], heights=[20.0, 48.0, 24.0])

    assert label is not None
    assert (label.name, label.brand) == ("Greek Style Yogurt", "Meadow")


def test_shelf_label_price_is_the_pack_price_not_the_unit_price():
    label = parse_label(["OATLY Oat Drink 1L", "£0.18 per 100ml", "£1.80"])

    assert label is not None
    assert (label.brand, label.name, label.size, label.price) == (
        "OATLY",
        "Oat Drink",
        "1L",
        "£1.80",
    )


def test_price_tag_gives_the_now_price_over_the_was_price():
    label = parse_label(["Was £2.00 Now £1.50", "Fresh Milk", "2 litres"])

    assert label is not None
    assert label.price == "£1.50"
    assert label.size == "2L"


def test_ocr_misreads_of_the_pound_sign_and_run_together_words_are_recovered():
    label = parse_label(["OATLYOatDrink1L", "f1.80", "0.18per100ml", "7394374000104"])

    assert label == ProductLabel(name="Oat Drink", brand="OATLY", size="1L", price="£1.80")


def test_a_lone_pounds_and_pence_line_is_the_price_when_ocr_lost_the_sign():
    label = parse_label(["Meadow Greek Style Yogurt 500g", "1.45", "E0.29per100g"])

    assert label is not None
    assert label.price == "1.45"


def test_text_that_is_not_a_label_gives_none():
    assert parse_label(["KEEP OFF THE GRASS"]) is None
    assert parse_label(["Chapter 3", "It was a dark and stormy night."]) is None
    assert parse_label([]) is None


def test_prices_are_read_as_amounts():
    assert parse_price("£1.50") == 1.5
    assert parse_price("99p") == 0.99
    assert parse_price("1,29 €") == 1.29
    assert parse_price("f2.10") == 2.1
    assert parse_price("no price here") is None


def test_respace_splits_case_and_number_boundaries_but_keeps_words():
    assert respace("CocoaCoDarkChocolate70%100g") == "Cocoa Co Dark Chocolate 70%100g"
    assert respace("Contains:wheat,peanuts") == "Contains: wheat, peanuts"
    assert respace("Fresh  Milk") == "Fresh Milk"


class LabelOcr:
    def read(self, image):
        return [OcrLine(text=t, score=0.95) for t in ("Ingredients: milk, sugar", "£1.20")]


def test_label_stage_fills_the_visual_context_from_the_text():
    context = KeyframeAnalyser(LabelOcr(), FakeClassifier()).analyse(np.zeros((8, 8, 3), np.uint8))

    assert len(context.products) == 1
    assert context.products[0].ingredients == "milk, sugar"
    assert context.products[0].price == "£1.20"
    assert context.errors == ()


def test_product_set_labels_are_read_with_the_real_ocr(rapid_ocr, recordings):
    """Three layouts of one product, photographed: the fields a shopper asks about are read."""
    from simulators.bench_products import bench_products

    class NoBarcodes:
        def read(self, image):
            return []

    folder = recordings / "products"
    report = bench_products(NoBarcodes(), rapid_ocr, folder=folder)

    # Rates at the time of writing (companion bench products --json): all well above these.
    assert report.fields["allergens"].rate >= 0.75
    assert report.fields["size"].rate >= 0.6
    assert report.fields["price"].rate >= 0.6
    assert report.fields["name"].rate >= 0.6


def test_an_allergen_line_ends_at_a_run_together_section_or_the_barcode_digits():
    label = parse_label(
        [
            "Ingredients:Wheatflour,sugar",
            "May contain:treenuts.",
            "Storeinacool dryplace.",
            "5012345000176",
        ]
    )

    assert label is not None
    assert label.allergens == ("May contain: treenuts.",)


def test_a_zero_read_as_the_letter_o_inside_a_size_is_put_back():
    label = parse_label(["MeadowGreekStyleYogurt5o0g", "1.25"])

    assert label is not None
    assert (label.name, label.size) == ("Meadow Greek Style Yogurt", "500g")
