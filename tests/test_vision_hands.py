"""Hands and pointing: the geometry on landmarks, and the real landmarker on the ASL clips."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from edge.vision.hands import (
    INDEX,
    Hand,
    MediaPipeHandTracker,
    Pointing,
    crop,
    extension,
    pointed_region,
    pointing_ray,
)


def frame_of(path: Path, index: int) -> npt.NDArray[np.uint8]:
    capture = cv2.VideoCapture(str(path))
    try:
        for _ in range(index + 1):
            ok, frame = capture.read()
            assert ok, f"{path} has no frame {index}"
    finally:
        capture.release()
    return frame.astype(np.uint8)


def hand_pointing_right() -> Hand:
    """A schematic right-pointing hand: wrist at (100, 100), index straight along +x."""
    points = [(100.0, 100.0)] * 21
    points = list(points)
    # index: knuckle, joints, tip along +x
    for i, x in zip(range(5, 9), (130, 145, 160, 175), strict=True):
        points[i] = (float(x), 95.0)
    # middle, ring, pinky: knuckles out, tips curled back towards the wrist
    for base in (9, 13, 17):
        points[base] = (128.0, 100.0 + (base - 9))
        points[base + 1] = (140.0, 102.0 + (base - 9))
        points[base + 2] = (132.0, 106.0 + (base - 9))
        points[base + 3] = (120.0, 104.0 + (base - 9))
    return Hand(points=tuple(points))


def test_a_straight_index_with_curled_fingers_points_along_the_finger() -> None:
    pointing = pointing_ray(hand_pointing_right())

    assert pointing is not None
    assert pointing.tip == (175.0, 95.0)
    assert pointing.direction == pytest.approx((1.0, 0.0))
    assert pointing.finger_length == pytest.approx(45.0)


def test_the_region_lies_ahead_of_the_fingertip_and_scales_with_the_hand() -> None:
    near = pointed_region(Pointing((100.0, 100.0), (1.0, 0.0), 40.0), 640, 480)
    far = pointed_region(Pointing((100.0, 100.0), (1.0, 0.0), 10.0), 640, 480)

    assert near is not None and far is not None
    assert near.x0 == 100 and near.x1 == 220  # 3 finger lengths, starting at the tip
    assert near.y0 < 100 < near.y1
    assert far.x1 - far.x0 < near.x1 - near.x0


def test_pointing_off_the_frame_gives_no_region() -> None:
    assert pointed_region(Pointing((630.0, 100.0), (1.0, 0.0), 40.0), 640, 480) is None


def test_an_open_hand_is_not_pointing() -> None:
    hand = hand_pointing_right()
    points = list(hand.points)
    for base in (9, 13, 17):  # straighten every finger
        points[base + 3] = (180.0, 100.0 + (base - 9))
    assert pointing_ray(Hand(points=tuple(points))) is None


@pytest.fixture(scope="module")
def tracker():
    tracker = MediaPipeHandTracker()
    yield tracker
    tracker.close()


@pytest.mark.models
def test_open_hands_and_fists_on_real_footage_are_not_pointing(
    recordings: Path, tracker: MediaPipeHandTracker
) -> None:
    video = recordings / "video"
    # yes.mkv frame 0: one open hand low in the frame; frame 8: a fist raised.
    [open_hand] = tracker.hands(frame_of(video / "yes.mkv", 0))
    hands_at_8 = tracker.hands(frame_of(video / "yes.mkv", 8))

    assert all(extension(open_hand, f) > 1.2 for f in ((5, 6, 8), (9, 10, 12), (13, 14, 16)))
    assert pointing_ray(open_hand) is None
    fist = min(hands_at_8, key=lambda h: extension(h, INDEX))
    assert extension(fist, INDEX) < 1.0
    assert pointing_ray(fist) is None


@pytest.mark.models
def test_index_finger_on_the_help_clip_crops_ahead_of_the_fingertip(
    recordings: Path, tracker: MediaPipeHandTracker
) -> None:
    # help.mkv frame 39: the signer's right index finger is straight, middle and
    # ring curled (the "help" sign); the clips hold no deliberate pointing at an
    # object, so this is the real hand the rule is checked on.
    frame = frame_of(recordings / "video" / "help.mkv", 39)

    hands = tracker.hands(frame)
    pointing = [p for p in map(pointing_ray, hands) if p is not None]

    assert len(hands) >= 1 and len(pointing) == 1
    [ray] = pointing
    assert 250 < ray.tip[0] < 340 and 130 < ray.tip[1] < 210  # the hand at chest height
    region = pointed_region(ray, frame.shape[1], frame.shape[0])
    assert region is not None
    cx, cy = (region.x0 + region.x1) / 2, (region.y0 + region.y1) / 2
    ahead = (cx - ray.tip[0]) * ray.direction[0] + (cy - ray.tip[1]) * ray.direction[1]
    assert ahead > 0  # the crop lies in the direction the finger points
    assert crop(frame, region).shape[:2] == (int(region.y1 - region.y0), int(region.x1 - region.x0))


class OneHandTracker:
    def __init__(self, hand: Hand) -> None:
        self.hand = hand

    def hands(self, image: npt.NDArray[np.uint8]) -> list[Hand]:
        return [self.hand]


class ShapeClassifier:
    """Names each image by its size, so the test sees what was classified."""

    def classify(self, image: npt.NDArray[np.uint8], k: int = 5):
        from protocol.messages import Label

        return [Label(name=f"{image.shape[1]}x{image.shape[0]}", score=0.5)]


class NoText:
    def read(self, image):
        return []


def test_what_is_this_classifies_the_pointed_region_first() -> None:
    from edge.vision.analysis import KeyframeAnalyser

    analyser = KeyframeAnalyser(
        NoText(), ShapeClassifier(), hands=OneHandTracker(hand_pointing_right())
    )

    context = analyser.analyse(np.zeros((480, 640, 3), np.uint8))

    assert context.pointed is not None
    box = context.pointed
    size = f"{round(box.x1 - box.x0)}x{round(box.y1 - box.y0)}"
    assert [label.name for label in context.labels] == [size, "640x480"]
    assert 130 <= box.x1 - box.x0 <= 140  # three finger lengths (45 px) across
    assert context.pointed.x0 == 175  # starts at the fingertip
