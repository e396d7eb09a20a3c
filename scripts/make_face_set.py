"""Build recordings/faces/: labelled frames for measuring the face stage's precision and recall.

Run once from the project root (`.venv/bin/python scripts/make_face_set.py`); the
output is committed, so tests and `companion bench faces` never rebuild it. It is
deterministic (fixed seeds), so running it again gives the same files.

Real faces come from the project's own recordings of real people (astronaut.png,
the walking clip), cropped, scaled, rotated and pasted onto textures. Frames
without faces are face-like textures made here (fur, foliage, patterned fabric,
posters, signs with text over them) and the project's recordings without a
human face (a book page, text on texture, a cat, bottles on a line).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
RECORDINGS = ROOT / "recordings"
OUT = RECORDINGS / "faces"

Image = npt.NDArray[np.uint8]
BoxList = list[list[float]]

# astronaut.png's one face, checked by eye (forehead to mouth, cheek to cheek, as BlazeFace boxes it).
ASTRONAUT_FACE = (175.0, 75.0, 276.0, 176.0)
# The walking clip, by eye on frames 0 and 33: head centres move on straight lines
# (x, y at frame 0 -> frame 33) and heads are this many pixels across.
WALKERS = (((332.0, 114.0), (302.5, 109.5), 25.0), ((277.0, 138.0), (181.5, 138.5), 22.0))
FRAME = (360, 640)


def _noise(rng: np.random.Generator, shape: tuple[int, int], scale: int) -> npt.NDArray[np.float32]:
    small = rng.random((max(2, shape[0] // scale), max(2, shape[1] // scale))).astype(np.float32)
    return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def fur(rng: np.random.Generator, shape: tuple[int, int] = FRAME) -> Image:
    """Long strands of light and dark hair in swirls, like a fur coat."""
    h, w = shape
    base = np.array(rng.choice([[60, 90, 130], [200, 200, 205], [40, 55, 75], [150, 170, 190]]))
    img = np.zeros((h, w, 3), np.float32) + base
    strands = np.zeros((h, w), np.float32)
    angle_field = _noise(rng, shape, 80) * 2 * math.pi
    for _ in range(6000):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        a = float(angle_field[y, x])
        length = float(rng.integers(8, 30))
        x1, y1 = int(x + length * math.cos(a)), int(y + length * math.sin(a))
        cv2.line(strands, (x, y), (x1, y1), float(rng.uniform(-1, 1)), 1, cv2.LINE_AA)
    strands = cv2.GaussianBlur(strands, (3, 3), 0)
    shade = _noise(rng, shape, 40) - 0.5
    img += (strands * 70 + shade * 90)[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def foliage(rng: np.random.Generator, shape: tuple[int, int] = FRAME) -> Image:
    """Overlapping leaves in greens with dark gaps between them."""
    h, w = shape
    img = np.full((h, w, 3), (20, 40, 25), np.uint8)
    for _ in range(900):
        center = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(6, 22)), int(rng.integers(3, 9)))
        g = int(rng.integers(70, 200))
        colour = (int(rng.integers(10, 60)), g, int(rng.integers(20, g // 2 + 21)))
        cv2.ellipse(img, center, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
    light = (_noise(rng, shape, 60) * 0.8 + 0.5)[..., None]
    return np.clip(img * light, 0, 255).astype(np.uint8)


def fabric(rng: np.random.Generator, shape: tuple[int, int] = FRAME) -> Image:
    """A printed fabric: a repeated motif of rings and dot pairs (the 'two eyes' cue) on plaid."""
    h, w = shape
    img = np.full((h, w, 3), rng.integers(150, 240, 3), np.uint8)
    step = int(rng.integers(18, 40))
    stripe = tuple(int(c) for c in rng.integers(40, 160, 3))
    for x in range(0, w, step):
        cv2.line(img, (x, 0), (x, h), stripe, 2)
    for y in range(0, h, step):
        cv2.line(img, (0, y), (w, y), stripe, 2)
    motif = int(rng.integers(30, 70))
    ink = tuple(int(c) for c in rng.integers(0, 90, 3))
    for y in range(motif // 2, h, motif):
        for x in range(motif // 2 + (y // motif % 2) * motif // 2, w, motif):
            r = motif // 3
            cv2.circle(img, (x, y), r, ink, 2, cv2.LINE_AA)
            cv2.circle(img, (x - r // 3, y - r // 4), max(2, r // 6), ink, -1, cv2.LINE_AA)
            cv2.circle(img, (x + r // 3, y - r // 4), max(2, r // 6), ink, -1, cv2.LINE_AA)
    return cv2.GaussianBlur(img, (3, 3), 0)


def poster(rng: np.random.Generator, shape: tuple[int, int] = FRAME) -> Image:
    """A poster: blobs and discs in flat colours, ovals with dark spots, a headline."""
    h, w = shape
    img = np.full((h, w, 3), rng.integers(30, 230, 3), np.uint8)
    for _ in range(int(rng.integers(8, 16))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        center = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(20, 90)), int(rng.integers(20, 110)))
        cv2.ellipse(img, center, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
        if rng.random() < 0.5:
            dark = (20, 20, 30)
            for dx in (-axes[0] // 3, axes[0] // 3):
                cv2.circle(img, (center[0] + dx, center[1] - axes[1] // 4), 5, dark, -1)
    words = ["SUMMER SALE", "LIVE MUSIC", "OPEN DAY", "NEW SEASON"]
    cv2.putText(
        img, str(rng.choice(words)), (20, h - 30), cv2.FONT_HERSHEY_DUPLEX, 1.6, (250, 250, 250), 3
    )
    return img


SIGN_LINES = (
    ("PLATFORM 4", "TRAINS TO CENTRAL"),
    ("EXIT", "BUS STATION"),
    ("WAY OUT", "TICKETS"),
    ("PLATFORM 2", "AIRPORT EXPRESS"),
)


def sign_over(background: Image, rng: np.random.Generator, lines: tuple[str, str]) -> Image:
    """A station sign held in front of `background`: dark panel, white capitals."""
    img = background.copy()
    h, w = img.shape[:2]
    sw, sh = int(w * rng.uniform(0.45, 0.65)), int(h * rng.uniform(0.3, 0.42))
    x0, y0 = int(rng.integers(10, w - sw - 10)), int(rng.integers(10, h - sh - 10))
    panel = (int(rng.integers(90, 140)), int(rng.integers(30, 70)), int(rng.integers(0, 30)))
    cv2.rectangle(img, (x0, y0), (x0 + sw, y0 + sh), panel, -1)
    cv2.rectangle(img, (x0, y0), (x0 + sw, y0 + sh), (230, 230, 230), 3)
    for i, text in enumerate(lines):
        scale = 1.2 if i == 0 else 0.8
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, scale, 2)
        tx = x0 + max(6, (sw - tw) // 2)
        ty = y0 + sh * (i + 1) // 3 + th // 2
        cv2.putText(img, text, (tx, ty), cv2.FONT_HERSHEY_DUPLEX, scale, (255, 255, 255), 2)
    return img


def paste_face(
    background: Image,
    face_image: Image,
    face: tuple[float, float, float, float],
    scale: float,
    angle: float,
    at: tuple[int, int],
) -> tuple[Image, list[float]]:
    """`face_image` scaled and rotated about its face, pasted with its face centre at `at`.

    The label is the rotated face box's bounding box, shrunk back to the
    original box's area so a rotated face is not labelled bigger than it is.
    """
    cx, cy = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    matrix[:, 2] += (at[0] - cx, at[1] - cy)
    h, w = background.shape[:2]
    warped = cv2.warpAffine(face_image, matrix, (w, h), borderValue=(0, 0, 0))
    mask = cv2.warpAffine(
        np.full(face_image.shape[:2], 255, np.uint8), matrix, (w, h), borderValue=0
    )
    out = np.where(mask[..., None] > 0, warped, background).astype(np.uint8)
    side = (face[2] - face[0]) * scale
    label = [at[0] - side / 2, at[1] - side / 2, at[0] + side / 2, at[1] + side / 2]
    return out, [round(v, 1) for v in label]


def walking_frames() -> list[Image]:
    capture = cv2.VideoCapture(str(RECORDINGS / "video" / "face-demographics-walking.gif"))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame.astype(np.uint8))
    capture.release()
    return frames


def walker_boxes(index: int, count: int) -> BoxList:
    t = index / (count - 1)
    boxes = []
    for (x0, y0), (x1, y1), side in WALKERS:
        x, y = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
        boxes.append(
            [round(v, 1) for v in (x - side / 2, y - side / 2, x + side / 2, y + side / 2)]
        )
    return boxes


def video_frames(name: str, every: int, limit: int) -> list[Image]:
    capture = cv2.VideoCapture(str(RECORDINGS / "video" / name))
    frames: list[Image] = []
    index = 0
    while len(frames) < limit:
        ok, frame = capture.read()
        if not ok:
            break
        if index % every == 0:
            frames.append(frame.astype(np.uint8))
        index += 1
    capture.release()
    return frames


def build() -> dict[str, dict[str, object]]:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(16)
    truth: dict[str, dict[str, object]] = {}

    def save(name: str, image: Image, faces: BoxList, kind: str) -> None:
        cv2.imwrite(str(OUT / name), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        truth[name] = {"kind": kind, "faces": faces}

    astronaut = cv2.imread(str(RECORDINGS / "images" / "astronaut.png"), cv2.IMREAD_COLOR)
    assert astronaut is not None
    save("astronaut.jpg", astronaut, [list(ASTRONAUT_FACE)], "portrait")
    flipped = cv2.flip(astronaut, 1)
    fx0, fy0, fx1, fy1 = ASTRONAUT_FACE
    save("astronaut-flipped.jpg", flipped, [[512 - fx1, fy0, 512 - fx0, fy1]], "portrait")

    makers = {"fur": fur, "foliage": foliage, "fabric": fabric, "poster": poster}
    # Real faces at many sizes and angles, on textured backgrounds.
    sizes = (0.18, 0.25, 0.35, 0.5, 0.7, 1.0, 1.4)
    angles = (-40.0, -25.0, -10.0, 0.0, 10.0, 25.0, 40.0)
    n = 0
    for si, scale in enumerate(sizes):
        for angle in angles[si % 2 :: 2]:
            kind = list(makers)[n % len(makers)]
            background = makers[kind](rng)
            side = 101 * scale
            margin = int(side) + 10
            at = (int(rng.integers(margin, 640 - margin)), int(rng.integers(margin, 360 - margin)))
            image, label = paste_face(background, astronaut, ASTRONAUT_FACE, scale, angle, at)
            save(
                f"face-{kind}-s{int(scale * 100):03d}-r{int(angle):+03d}.jpg",
                image,
                [label],
                "face",
            )
            n += 1
    # The walking clip: two real people, faces 20-26 px across.
    frames = walking_frames()
    for index in range(0, len(frames), 2):
        save(f"walking-{index:02d}.jpg", frames[index], walker_boxes(index, len(frames)), "video")
    # A face beside a sign over fur: the sign must stay readable, the face must go.
    for i, lines in enumerate(SIGN_LINES[:2]):
        background = sign_over(fur(rng), rng, lines)
        image, label = paste_face(
            background, astronaut, ASTRONAUT_FACE, 0.45, 0.0, (560, 80 + 150 * i)
        )
        save(f"sign-and-face-{i}.jpg", image, [label], "face")

    # No faces: textures, signs over textures, the project's non-face recordings.
    for kind, make in makers.items():
        for i in range(6):
            save(f"none-{kind}-{i}.jpg", make(rng), [], kind)
    for i in range(8):
        background = (fur if i % 2 == 0 else foliage if i % 4 == 1 else fabric)(rng)
        save(f"none-sign-{i}.jpg", sign_over(background, rng, SIGN_LINES[i % 4]), [], "sign")
    for name in ("page", "text", "chelsea"):
        image = cv2.imread(str(RECORDINGS / "images" / f"{name}.png"), cv2.IMREAD_COLOR)
        assert image is not None
        save(f"none-{name}.jpg", image, [], "recording")
    for i, frame in enumerate(video_frames("bottle-detection.mp4", 150, 6)):
        save(f"none-bottles-{i}.jpg", frame, [], "recording")

    (OUT / "truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")
    return truth


if __name__ == "__main__":
    made = build()
    faces = sum(len(v["faces"]) for v in made.values())  # type: ignore[arg-type]
    print(f"{len(made)} frames, {faces} faces -> {OUT}")
