"""Shared fixtures: where the real recordings are."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = ROOT.parent / "shared" / "recordings"


@pytest.fixture(scope="session")
def recordings() -> Path:
    """The shared real recordings (../shared/recordings from the project root)."""
    if not RECORDINGS.is_dir():
        raise RuntimeError(f"recordings not found at {RECORDINGS}; tests need ../shared/recordings")
    return RECORDINGS
