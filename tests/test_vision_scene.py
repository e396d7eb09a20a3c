"""Scene-change detection on downscaled frames of real footage."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from edge.vision.scene import SceneChangeDetector, scene_distance, scene_signature


def read_frames(path: Path, *, step: int = 1) -> list[npt.NDArray[np.uint8]]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index % step == 0:
            frames.append(frame.astype(np.uint8))
        index += 1
    capture.release()
    assert frames, f"no frames in {path}"
    return frames


def changes(frames: list[npt.NDArray[np.uint8]]) -> list[int]:
    detector = SceneChangeDetector()
    return [i for i, frame in enumerate(frames) if detector.changed(scene_signature(frame))]


def test_cuts_between_real_clips_are_found_and_nothing_else(recordings: Path) -> None:
    video = recordings / "video"
    room = read_frames(video / "realshort.mp4")  # 36 frames, hand-held
    bottles = read_frames(video / "bottle-detection.mp4", step=30)[:20]  # 20 s of the line
    corridor = read_frames(video / "face-demographics-walking.gif")
    spliced = room + bottles + corridor + room

    cuts = [0, len(room), len(room) + len(bottles), len(room) + len(bottles) + len(corridor)]
    assert changes(spliced) == cuts


def test_objects_moving_in_one_scene_are_not_a_change(recordings: Path) -> None:
    bottles = read_frames(recordings / "video" / "bottle-detection.mp4", step=10)

    assert len(bottles) > 100
    assert changes(bottles) == [0]


def test_exposure_change_alone_is_not_a_scene_change(recordings: Path) -> None:
    [frame] = read_frames(recordings / "video" / "realshort.mp4")[:1]
    darker = (frame * 0.5).astype(np.uint8)

    assert scene_distance(scene_signature(frame), scene_signature(darker)) < 0.1


def test_signatures_are_tiny_and_size_independent(recordings: Path) -> None:
    frame = read_frames(recordings / "video" / "help.mkv")[0]
    half = cv2.resize(frame, (320, 240), interpolation=cv2.INTER_AREA).astype(np.uint8)

    assert scene_signature(frame).shape == (24, 32)
    assert scene_distance(scene_signature(frame), scene_signature(half)) < 0.05


def test_a_black_frame_has_a_flat_signature() -> None:
    black = np.zeros((480, 640, 3), np.uint8)

    assert not scene_signature(black).any()
