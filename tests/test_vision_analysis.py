"""Keyframe analysis: both stages' results together; one failing stage never sinks the other."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from edge.vision.analysis import KeyframeAnalyser, VisualContext
from protocol.messages import Label, OcrLine

FRAME = np.zeros((480, 640, 3), np.uint8)


class FakeOcr:
    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail

    def read(self, image):
        if self.fail:
            raise RuntimeError("onnxruntime exploded")
        return [OcrLine(text="EXIT", score=0.98)]


class FakeClassifier:
    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.k_asked: list[int] = []

    def classify(self, image, k=5):
        self.k_asked.append(k)
        if self.fail:
            raise ValueError("bad tensor")
        return [Label(name=f"thing {i}", score=0.5 / (i + 1)) for i in range(k)]


class StepClock:
    def __init__(self, step_s: float) -> None:
        self.now = 100.0
        self.step_s = step_s

    def __call__(self) -> float:
        self.now += self.step_s
        return self.now


def test_context_holds_the_text_and_the_top_5_labels():
    classifier = FakeClassifier()
    analyser = KeyframeAnalyser(FakeOcr(), classifier)

    context = analyser.analyse(FRAME)

    assert context.ocr == (OcrLine(text="EXIT", score=0.98),)
    assert len(context.labels) == 5
    assert classifier.k_asked == [5]
    assert context.errors == ()


def test_analysis_time_is_measured_with_the_given_clock():
    analyser = KeyframeAnalyser(FakeOcr(), FakeClassifier(), clock=StepClock(0.25))

    assert analyser.analyse(FRAME).analysed_ms == pytest.approx(250.0)


def test_failing_ocr_still_yields_labels_and_names_the_stage(caplog):
    analyser = KeyframeAnalyser(FakeOcr(fail=True), FakeClassifier())

    with caplog.at_level(logging.WARNING):
        context = analyser.analyse(FRAME)

    assert context.ocr == ()
    assert len(context.labels) == 5
    assert context.errors == ("ocr: RuntimeError: onnxruntime exploded",)
    assert "OCR failed" in caplog.text


def test_failing_classifier_still_yields_text_and_names_the_stage():
    analyser = KeyframeAnalyser(FakeOcr(), FakeClassifier(fail=True))

    context = analyser.analyse(FRAME)

    assert context.ocr == (OcrLine(text="EXIT", score=0.98),)
    assert context.labels == ()
    assert context.errors == ("classifier: ValueError: bad tensor",)


def test_both_stages_failing_gives_an_empty_context_with_both_errors():
    analyser = KeyframeAnalyser(FakeOcr(fail=True), FakeClassifier(fail=True))

    context = analyser.analyse(FRAME)

    assert (context.ocr, context.labels) == ((), ())
    assert [e.split(":")[0] for e in context.errors] == ["ocr", "classifier"]


def test_empty_context_is_the_default():
    assert VisualContext() == VisualContext(ocr=(), labels=(), analysed_ms=0.0, errors=())


@pytest.mark.models
def test_real_models_read_the_page_and_name_the_cat(
    rapid_ocr, lite0_classifier, page_image, cat_image
):
    analyser = KeyframeAnalyser(rapid_ocr, lite0_classifier)

    on_page = analyser.analyse(page_image)
    on_cat = analyser.analyse(cat_image)

    assert any("histogram" in line.text for line in on_page.ocr)
    assert on_page.errors == on_cat.errors == ()
    assert on_cat.ocr == ()
    assert on_cat.labels[0].name == "Egyptian cat"
    assert 0.0 < on_cat.analysed_ms < on_page.analysed_ms
