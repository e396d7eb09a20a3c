"""Keyframe JPEGs: always decodable, never over the byte budget, never over the size limit."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.errors import MediaError
from edge.vision.jpeg import encode_jpeg
from edge.vision.scaling import fit_longest_side
from protocol import MAX_JPEG_BYTES


@pytest.fixture(scope="module")
def photo(recordings):
    return cv2.imread(str(recordings / "images" / "astronaut.png"))


def _decode(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a decodable JPEG"
    return image


def test_jpeg_decodes_and_fits_the_protocol_limit(photo):
    jpeg = encode_jpeg(photo, max_bytes=MAX_JPEG_BYTES)

    assert len(jpeg) <= MAX_JPEG_BYTES
    assert _decode(jpeg).shape == photo.shape


def test_tight_budget_steps_quality_down_until_it_fits(photo):
    best = encode_jpeg(photo, max_bytes=10_000_000)
    budget = len(best) // 2

    jpeg = encode_jpeg(photo, max_bytes=budget)

    assert len(jpeg) <= budget
    assert _decode(jpeg).shape == photo.shape


def test_large_frame_is_downscaled_to_max_side(photo):
    big = cv2.resize(photo, (1920, 1440))

    decoded = _decode(encode_jpeg(big, max_bytes=MAX_JPEG_BYTES, max_side=640))

    assert decoded.shape[:2] == (480, 640)


def test_impossible_budget_raises_media_error_saying_what_to_change(photo):
    with pytest.raises(MediaError, match="lower max_side or raise max_bytes"):
        encode_jpeg(photo, max_bytes=500)


def test_non_image_is_refused_with_media_error():
    with pytest.raises(MediaError):
        encode_jpeg(np.zeros((4, 4), np.float32), max_bytes=MAX_JPEG_BYTES)


def test_fit_longest_side_keeps_aspect_and_never_upscales():
    wide = np.zeros((360, 640, 3), np.uint8)

    assert fit_longest_side(wide, 320).shape == (180, 320, 3)
    assert fit_longest_side(wide, 1280) is wide
