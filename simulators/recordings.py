"""The real recordings the project carries, so a bare clone runs its own tests, demo and scenarios.

They were copied from the team's shared set with their attribution and licence
files (recordings/README.md); nothing reads outside the clone.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = PROJECT_ROOT / "recordings"
