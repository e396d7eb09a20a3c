"""Shared fixtures: where the real recordings are."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from cloud.memory import HashingEmbedder
from cloud.memory.user_data import UserDirectory

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = ROOT / "recordings"

# The embedder and the reasoner load from their packages' own folders; as the CLI does
# once at start-up (companion/settings.py), the test process never lets Hugging Face go
# online, whichever test loads a model first.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def private_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tests (and the commands they start) never touch the developer's own memories."""
    folder = tmp_path_factory.mktemp("companion-data")
    os.environ["COMPANION_DATA"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def recordings() -> Path:
    """The real recordings the project carries (recordings/, with their attribution)."""
    if not RECORDINGS.is_dir():
        raise RuntimeError(f"recordings not found at {RECORDINGS}; the clone is incomplete")
    return RECORDINGS


@pytest.fixture(scope="session")
def rapid_ocr():
    """The bundled PP-OCRv4 engine, verified and loaded once per test session."""
    from edge.vision.ocr import RapidOcr

    return RapidOcr()


@pytest.fixture(scope="session")
def lite0_classifier():
    """EfficientNet-Lite0 on onnxruntime (exported to the user cache on first use), loaded once."""
    from edge.vision.classifier import EfficientNetLite0Classifier

    return EfficientNetLite0Classifier()


def _read_image(path: Path) -> npt.NDArray[np.uint8]:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise RuntimeError(f"cannot read {path}")
    return image.astype(np.uint8, copy=False)


@pytest.fixture(scope="session")
def page_image(recordings: Path) -> npt.NDArray[np.uint8]:
    """page.png: a photographed book page of printed text."""
    return _read_image(recordings / "images" / "page.png")


@pytest.fixture(scope="session")
def handwriting_image(recordings: Path) -> npt.NDArray[np.uint8]:
    """text.png: handwritten formulae on lined paper."""
    return _read_image(recordings / "images" / "text.png")


@pytest.fixture(scope="session")
def cat_image(recordings: Path) -> npt.NDArray[np.uint8]:
    """chelsea.png: a tabby-looking cat."""
    return _read_image(recordings / "images" / "chelsea.png")


def _read_speech(path: Path) -> npt.NDArray[np.int16]:
    import wave

    with wave.open(str(path), "rb") as f:
        if (f.getframerate(), f.getnchannels(), f.getsampwidth()) != (16_000, 1, 2):
            raise RuntimeError(f"{path} is not 16 kHz mono 16-bit")
        return np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").astype(np.int16)


@pytest.fixture(scope="session")
def speech_0870(recordings: Path) -> npt.NDArray[np.int16]:
    """librivox-0870.wav: one read sentence, 16 kHz mono samples."""
    return _read_speech(recordings / "speech" / "librivox-0870.wav")


@pytest.fixture(scope="session")
def speech_0880(recordings: Path) -> npt.NDArray[np.int16]:
    """librivox-0880.wav: another read sentence, 16 kHz mono samples."""
    return _read_speech(recordings / "speech" / "librivox-0880.wav")


@pytest.fixture(scope="session")
def astronaut_jpeg(recordings: Path) -> bytes:
    """astronaut.png at 320×320 as a JPEG, the size of a glasses photo."""
    import cv2

    image = _read_image(recordings / "images" / "astronaut.png")
    ok, encoded = cv2.imencode(".jpg", cv2.resize(image, (320, 320)))
    if not ok:
        raise RuntimeError("cannot encode astronaut.png as JPEG")
    return bytes(encoded.tobytes())


@pytest.fixture(scope="session")
def bottle_frames(recordings: Path) -> list[npt.NDArray[np.uint8]]:
    """Frames 100, 300 and 600 of the bottle-line video, as BGR arrays."""
    import cv2

    capture = cv2.VideoCapture(str(recordings / "video" / "bottle-detection.mp4"))
    wanted = {100, 300, 600}
    frames: list[npt.NDArray[np.uint8]] = []
    index = 0
    try:
        while len(frames) < len(wanted):
            ok, frame = capture.read()
            if not ok:
                raise RuntimeError("bottle-detection.mp4 ended before frame 600")
            if index in wanted:
                frames.append(frame.astype(np.uint8, copy=False))
            index += 1
    finally:
        capture.release()
    return frames


# The cloud's models (Whisper, Qwen), loaded once per session.
from tests.models import qwen, whisper  # noqa: E402, F401


@pytest.fixture(scope="session")
def minilm():
    """The bundled all-MiniLM-L6-v2 embedder, verified and loaded once per test session."""
    from cloud.memory.embedder import MiniLmEmbedder

    return MiniLmEmbedder()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL 15 on loopback for the session (tests/postgres.py): the one that
    COMPANION_TEST_POSTGRES names, else a throw-away cluster started here."""
    from tests.postgres import postgres_server as server

    with server() as dsn:
        yield dsn


@pytest.fixture
def postgres_dsn(postgres_server: str) -> Iterator[str]:
    """A DSN whose connections see a schema of their own, dropped after the test."""
    from tests.postgres import fresh_schema

    with fresh_schema(postgres_server) as dsn:
        yield dsn


@pytest.fixture
def users(tmp_path: Path) -> Iterator[UserDirectory]:
    """Every user's memories and tools in a fresh folder, with the hashing embedder (no model)."""
    directory = UserDirectory(tmp_path, HashingEmbedder())
    yield directory
    directory.close()
