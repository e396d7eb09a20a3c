"""Image classifier: names real objects, exports its ONNX once, refuses tampered weights."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from edge.errors import ModelError
from edge.vision import classifier as classifier_module
from edge.vision.classifier import (
    EfficientNetLite0Classifier,
    load_class_names,
    preprocess,
    views,
)


def test_class_list_has_the_1000_imagenet_names_in_index_order():
    names = load_class_names()

    assert len(names) == 1000
    assert len(set(names)) == 1000
    assert names[0] == "tench"
    assert names[1] == "goldfish"
    assert names[281:286] == (
        "tabby cat",
        "tiger cat",
        "Persian cat",
        "Siamese cat",
        "Egyptian cat",
    )
    assert names[404] == "airliner"
    assert names[504] == "coffee mug"
    assert names[898] == "water bottle"
    assert names[999] == "toilet tissue"


def test_views_add_the_centre_square_only_to_a_non_square_frame():
    wide = np.zeros((360, 640, 3), np.uint8)
    wide[:, 140:500] = 200  # the centre square, brighter

    whole, centre = views(wide)

    assert whole is wide
    assert centre.shape == (360, 360, 3)
    assert centre.min() == 200
    assert len(views(np.zeros((300, 310, 3), np.uint8))) == 1


def test_preprocess_gives_rgb_nchw_scaled_around_zero():
    bgr = np.zeros((300, 451, 3), np.uint8)
    bgr[..., 0] = 255  # pure blue in OpenCV's BGR order

    tensor = preprocess(bgr)

    assert tensor.shape == (1, 3, 224, 224)
    assert tensor.dtype == np.float32
    assert tensor[0, 2].min() == pytest.approx((255 - 127) / 128)  # blue is the third plane
    assert tensor[0, 0].max() == pytest.approx(-127 / 128)


@pytest.mark.models
def test_names_the_cat(lite0_classifier, cat_image):
    labels = lite0_classifier.classify(cat_image)

    assert len(labels) == 5
    assert "cat" in labels[0].name
    assert labels[0].name == "Egyptian cat"
    assert labels[0].score == pytest.approx(0.57, abs=0.05)
    assert [lb.score for lb in labels] == sorted((lb.score for lb in labels), reverse=True)


@pytest.mark.models
def test_sees_a_water_bottle_on_the_bottling_line(lite0_classifier, bottle_frames):
    for frame in bottle_frames:
        top3 = [label.name for label in lite0_classifier.classify(frame, k=3)]
        assert "water bottle" in top3


@pytest.mark.models
def test_probabilities_of_all_classes_sum_to_one(lite0_classifier, cat_image):
    labels = lite0_classifier.classify(cat_image, k=1000)

    assert sum(label.score for label in labels) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.models
def test_exported_onnx_is_reused_on_second_construction(tmp_path, monkeypatch, cat_image):
    exports = []
    real_export = classifier_module.export_onnx

    def counting_export(weights, destination):
        exports.append(destination)
        real_export(weights, destination)

    monkeypatch.setattr(classifier_module, "export_onnx", counting_export)
    first = EfficientNetLite0Classifier(cache=tmp_path)
    (exported,) = exports
    mtime = exported.stat().st_mtime_ns
    assert [p.name for p in tmp_path.iterdir()] == [exported.name]  # no temp files left

    def no_export(weights, destination):
        raise AssertionError("exported again although the cached ONNX was there")

    monkeypatch.setattr(classifier_module, "export_onnx", no_export)
    second = EfficientNetLite0Classifier(cache=tmp_path)

    assert exported.stat().st_mtime_ns == mtime
    assert second.classify(cat_image, k=1) == first.classify(cat_image, k=1)


@pytest.mark.models
def test_damaged_cached_onnx_is_exported_again(tmp_path):
    EfficientNetLite0Classifier(cache=tmp_path)
    (cached,) = tmp_path.iterdir()
    cached.write_bytes(b"not an onnx model")

    EfficientNetLite0Classifier(cache=tmp_path)

    assert cached.stat().st_size > 1_000_000


def test_tampered_weights_are_refused(tmp_path, monkeypatch):
    tampered = tmp_path / "efficientnet-lite0-57934424.pth"
    shutil.copyfile(classifier_module.locate_weights(), tampered)
    with tampered.open("r+b") as handle:
        handle.seek(4096)
        byte = handle.read(1)
        handle.seek(4096)
        handle.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(classifier_module, "locate_weights", lambda: tampered)

    def no_export(weights, destination):
        raise AssertionError("tampered weights reached the exporter")

    monkeypatch.setattr(classifier_module, "export_onnx", no_export)

    with pytest.raises(ModelError, match="force-reinstall"):
        EfficientNetLite0Classifier(cache=tmp_path)
