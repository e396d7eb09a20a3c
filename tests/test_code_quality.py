"""ruff and mypy are part of the test suite, so CI keeps the code clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_finds_nothing() -> None:
    result = _run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_is_ruff_formatted() -> None:
    result = _run("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


# Who may import whom (ARCHITECTURE.md §2): the command-line package sits on top
# and nothing imports it; every part may use the protocol and the model files.
ALLOWED_IMPORTS = {
    "protocol": {"protocol"},
    "modelfiles": {"modelfiles"},
    "edge": {"edge", "protocol", "modelfiles"},
    "cloud": {"cloud", "protocol", "modelfiles"},
    "gateway": {"gateway", "protocol", "modelfiles", "edge"},
    "firmware_bridge": {"firmware_bridge", "protocol", "modelfiles", "edge"},
    "deploy": {"deploy", "protocol", "modelfiles", "edge", "gateway", "cloud"},
    "simulators": {
        "simulators",
        "protocol",
        "modelfiles",
        "edge",
        "gateway",
        "cloud",
        "firmware_bridge",
        "deploy",
    },
}
OUR_PACKAGES = {*ALLOWED_IMPORTS, "companion"}


def _imported_packages(path: Path) -> set[str]:
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & OUR_PACKAGES


def test_each_part_imports_only_what_sits_below_it() -> None:
    crossings = [
        f"{path.relative_to(ROOT)} imports {sorted(used - allowed)}"
        for package, allowed in ALLOWED_IMPORTS.items()
        for path in sorted((ROOT / package).rglob("*.py"))
        if (used := _imported_packages(path)) - allowed
    ]
    assert crossings == []


# The team's shared folder beside the clone, which a bare clone does not have (spelt in
# pieces so that this file is not itself a reader of it).
SHARED_FOLDER = "/".join(("..", "shared"))
SHARED_RECORDINGS = "/".join(("shared", "recordings"))


def test_no_part_reads_outside_the_clone() -> None:
    """A bare clone with nothing beside it runs its tests, demo and scenarios."""
    outside = [
        str(path.relative_to(ROOT))
        for pattern in ("*.py", "*.json", "*.toml", "*.sh")
        for path in ROOT.rglob(pattern)
        if ".venv" not in path.parts
        and (
            SHARED_FOLDER in (text := path.read_text(errors="replace")) or SHARED_RECORDINGS in text
        )
    ]
    assert outside == []
