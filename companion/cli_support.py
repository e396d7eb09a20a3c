"""What every `companion` subcommand shares: one-line usage errors, progress and output.

Each area of the product keeps its commands in its own module (`cli_memory`,
`cli_bridge`, …) with a `register(commands, benchmarks)` function, so adding a
command never means editing another area's code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

# argparse exposes no public name for the object add_subparsers returns; it is
# generic only to the type checker.
if TYPE_CHECKING:
    Subcommands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subcommands = argparse._SubParsersAction


class Register(Protocol):
    def __call__(self, commands: Subcommands, benchmarks: Subcommands) -> None: ...


class UsageError(Exception):
    """Bad command-line input: reported as one line, exit status 2."""


def default_recordings() -> Path:
    """../shared/recordings beside the clone, or COMPANION_RECORDINGS."""
    return Path(os.environ.get("COMPANION_RECORDINGS", Path.cwd().parent / "shared" / "recordings"))


def progress_printer() -> Callable[[str], None]:
    """Progress lines with elapsed seconds, on stderr so JSON on stdout stays clean."""
    started = time.monotonic()

    def report(step: str) -> None:
        print(f"[{time.monotonic() - started:5.1f}s] {step}", file=sys.stderr, flush=True)

    return report


def check_files(*paths: Path | None) -> None:
    for path in paths:
        if path is not None and not path.is_file():
            raise UsageError(f"{path}: no such file")


def probe_media(video: Path | None, audio: Path | None, audio_format: str | None = None) -> None:
    """Open the media before minutes go into loading models: a bad file fails at once."""
    from edge.errors import MediaError
    from simulators.media import open_video, read_audio

    try:
        if audio is not None:
            read_audio(audio, audio_format)
        if video is not None:
            open_video(video)
    except MediaError as error:
        raise UsageError(str(error)) from error


def print_result(result: dict[str, Any], as_json: bool) -> None:
    """One JSON line, or one `key: value` line per figure."""
    if as_json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key}: {json.dumps(value)}")
