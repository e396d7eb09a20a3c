"""Frame quality: sharpness falls with blur, exposure falls with darkness, both cheap."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from edge.vision.quality import FrameQuality, assess, exposure, sharpness


@pytest.fixture(scope="module")
def frame(recordings):
    """A real 640x480 camera frame (a person signing)."""
    capture = cv2.VideoCapture(str(recordings / "video" / "help.mkv"))
    try:
        for _ in range(15):
            ok, image = capture.read()
            assert ok
    finally:
        capture.release()
    assert image.shape == (480, 640, 3)
    return image


def test_blurred_frame_scores_lower_sharpness_than_the_original(frame):
    blurred = cv2.GaussianBlur(frame, (0, 0), sigmaX=3)

    assert sharpness(blurred) < 0.5 * sharpness(frame)


def test_sharpness_ranks_increasing_blur_in_order(frame):
    scores = [sharpness(cv2.GaussianBlur(frame, (0, 0), sigmaX=s)) for s in (1, 3, 6)]

    assert scores[0] > scores[1] > scores[2]


def test_sharpness_is_comparable_across_capture_resolutions(frame):
    half = cv2.resize(frame, (320, 240), interpolation=cv2.INTER_AREA)

    assert sharpness(half) == pytest.approx(sharpness(frame), rel=0.25)


def test_darkened_frame_has_lower_exposure(frame):
    dark = (frame * 0.3).astype(np.uint8)

    assert exposure(dark) < exposure(frame) - 0.1
    assert 0.0 <= exposure(dark) <= exposure(frame) <= 1.0


def test_black_and_white_frames_sit_at_the_ends_of_the_exposure_scale():
    black = np.zeros((480, 640, 3), np.uint8)
    white = np.full((480, 640, 3), 255, np.uint8)

    assert assess(black) == FrameQuality(
        sharpness=0.0, exposure=0.0, dark_clipped=1.0, bright_clipped=0.0
    )
    assert assess(white) == FrameQuality(
        sharpness=0.0, exposure=1.0, dark_clipped=0.0, bright_clipped=1.0
    )


def test_assess_agrees_with_the_single_measures(frame):
    quality = assess(frame)

    assert quality.sharpness == pytest.approx(sharpness(frame))
    assert quality.exposure == pytest.approx(exposure(frame))
    assert 0.0 <= quality.dark_clipped < 0.5
    assert 0.0 <= quality.bright_clipped < 0.5


def test_grayscale_frames_are_accepted(frame):
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)

    assert sharpness(gray) == pytest.approx(sharpness(frame), rel=0.05)


def test_assessing_a_640x480_frame_takes_well_under_5_ms(frame):
    assess(frame)
    runs = 50
    started = time.perf_counter()
    for _ in range(runs):
        assess(frame)
    per_frame_ms = (time.perf_counter() - started) * 1000 / runs

    assert per_frame_ms < 5.0


def test_empty_image_is_refused():
    with pytest.raises(ValueError, match="non-empty"):
        sharpness(np.zeros((0, 0, 3), np.uint8))
