"""One error hierarchy per part, and the command turning any error into one line.

The walk imports every module of every part (no model is loaded: models load
when their objects are built) and finds each exception class defined there.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from cloud.errors import CloudError, ModelError
from cloud.memory.errors import MemoryNotFoundError, MemoryStoreError
from companion import cli
from companion.cli_support import UsageError
from deploy.errors import DeployError
from edge.errors import EdgeError
from edge.link.client import GatewayUnreachable
from firmware_bridge.errors import BridgeError, LinkError
from gateway.accounts import AuthError
from gateway.errors import GatewayError
from gateway.memory_access import MemoryRefused, NoSuchMemory
from modelfiles import ModelFileError
from protocol.errors import ProtocolError
from simulators.errors import SimulatorError
from simulators.scenarios import ScenarioError

# Each part's one base, defined in its errors.py (modelfiles is one module).
PART_BASES: dict[str, type[Exception]] = {
    "protocol": ProtocolError,
    "edge": EdgeError,
    "gateway": GatewayError,
    "cloud": CloudError,
    "firmware_bridge": BridgeError,
    "simulators": SimulatorError,
    "deploy": DeployError,
    "modelfiles": ModelFileError,
}


def _modules(package: str) -> Iterator[ModuleType]:
    root = importlib.import_module(package)
    yield root
    for info in pkgutil.walk_packages(getattr(root, "__path__", []), f"{package}."):
        if info.name.rsplit(".", 1)[-1] != "__main__":  # running it would start the command
            yield importlib.import_module(info.name)


def _exceptions_defined_in(package: str) -> list[type[BaseException]]:
    return [
        value
        for module in _modules(package)
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == module.__name__
    ]


@pytest.mark.parametrize("package", sorted(PART_BASES))
def test_every_exception_a_part_defines_derives_from_its_base(package: str) -> None:
    base = PART_BASES[package]
    found = _exceptions_defined_in(package)
    assert base in found
    assert [cls.__qualname__ for cls in found if not issubclass(cls, base)] == []


@pytest.mark.parametrize(
    "package", ["protocol", "edge", "gateway", "cloud", "firmware_bridge", "deploy"]
)
def test_each_part_base_lives_in_its_errors_module(package: str) -> None:
    assert PART_BASES[package].__module__ == f"{package}.errors"


def test_every_memory_error_is_a_memory_store_error() -> None:
    found = [
        cls
        for name in ("cloud.memory", "cloud.memory.errors")
        for cls in _exceptions_defined_in(name)
    ]
    assert MemoryNotFoundError in found
    assert all(issubclass(cls, MemoryStoreError) for cls in found)
    assert issubclass(MemoryStoreError, CloudError)


def test_builtin_bases_stay_for_callers_that_catch_them() -> None:
    assert issubclass(ProtocolError, ValueError)
    assert issubclass(MemoryRefused, ValueError)
    assert issubclass(NoSuchMemory, KeyError)
    assert issubclass(ModelFileError, RuntimeError)


# One deliberate error from each part, as a subcommand would raise it.
REPRESENTATIVE_ERRORS: list[Exception] = [
    ProtocolError("Keyframe is 3000000 bytes, over the 2000000-byte message ceiling"),
    GatewayUnreachable("gateway unreachable at http://127.0.0.1:9; is `companion serve` running?"),
    AuthError("the session token expired; pair the device again"),
    ModelError("Whisper model unusable: run `pip install --force-reinstall gympulse`"),
    MemoryNotFoundError("no memory m-42 for this user; `companion memory list` shows ids"),
    LinkError("could not read on glasses AA:BB: not connected; is Bluetooth on?"),
    ModelFileError("model package 'silero_vad' is not installed: run `pip install silero-vad`"),
    ScenarioError(Path("suite/ask.json"), "steps", "must be a non-empty list of steps"),
]


def _run_raising(monkeypatch: pytest.MonkeyPatch, error: BaseException, *flags: str) -> int:
    """`companion demo` with its work replaced by raising `error`: no model, no network."""

    async def fails(_: object) -> int:
        raise error

    monkeypatch.setattr(cli, "_demo", fails)
    return cli.main([*flags, "demo"])


def _stderr_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


@pytest.mark.parametrize("error", REPRESENTATIVE_ERRORS, ids=lambda e: type(e).__name__)
def test_a_part_error_is_its_message_on_one_line_and_exit_1(
    error: Exception, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert isinstance(error, cli.PART_ERRORS)

    assert _run_raising(monkeypatch, error) == 1

    assert _stderr_lines(capsys) == [f"companion: {error}"]


def test_a_usage_error_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    error = UsageError("--runs must be at least 1, got 0")

    assert _run_raising(monkeypatch, error) == 2

    assert _stderr_lines(capsys) == ["companion: --runs must be at least 1, got 0"]


def test_a_part_error_inside_a_task_group_is_reported_as_itself(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    link = LinkError("the loopback link is not connected; connect() first")
    group = ExceptionGroup("unhandled errors in a TaskGroup", [link, RuntimeError("later")])

    assert _run_raising(monkeypatch, group) == 1

    assert _stderr_lines(capsys) == [f"companion: {link}"]


def test_a_multi_line_message_is_folded_onto_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run_raising(monkeypatch, EdgeError("first line\n  second line")) == 1

    assert _stderr_lines(capsys) == ["companion: first line second line"]


def test_an_unexpected_error_is_one_line_naming_its_type_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run_raising(monkeypatch, KeyError("frames")) == 1

    lines = _stderr_lines(capsys)
    assert len(lines) == 1
    assert lines[0].startswith("companion: unexpected KeyError: 'frames'")
    assert "--verbose" in lines[0]


def test_verbose_lets_an_unexpected_error_through_with_its_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(KeyError, match="frames"):
        _run_raising(monkeypatch, KeyError("frames"), "--verbose")


def test_verbose_shows_a_part_errors_traceback_and_still_ends_on_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    error = BridgeError("the glasses went out of range; move closer and retry")

    assert _run_raising(monkeypatch, error, "--verbose") == 1

    lines = _stderr_lines(capsys)
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-1] == f"companion: {error}"
