"""What every `companion` subcommand shares: one-line usage errors, progress and output.

Each area of the product keeps its commands in its own module (`cli_memory`,
`cli_bridge`, …) with a `register(commands, benchmarks)` function, so adding a
command never means editing another area's code.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from companion.settings import BY_NAME, Settings, flag_parser

# argparse exposes no public name for the object add_subparsers returns; it is
# generic only to the type checker.
if TYPE_CHECKING:
    Subcommands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subcommands = argparse._SubParsersAction


class Register(Protocol):
    def __call__(self, commands: Subcommands, benchmarks: Subcommands) -> None: ...


class UsageError(Exception):
    """Bad command-line input: reported as one line, exit status 2.

    The message names the flag or file and what would be accepted, so the user
    can fix the command without reading the code.
    """


# Each command's flags that set a setting: {argparse dest: (setting name, flag)}.
SETTING_FLAGS = "setting_flags"


def add_setting_flag(
    parser: argparse.ArgumentParser, flag: str, setting: str, **options: Any
) -> None:
    """A flag that sets `setting` (companion/settings.py), the top layer over its default,
    the file and the environment: parsed as every layer parses it, absent unless given."""
    spec = BY_NAME[setting]
    dest = options.pop("dest", flag.lstrip("-").replace("-", "_"))
    if "action" not in options:
        options.setdefault("type", flag_parser(setting))
        if "choices" not in options:
            options.setdefault("metavar", flag.lstrip("-").split("-")[-1].upper())
    shown = (
        "none"
        if spec.default is None
        else ",".join(spec.default)
        if isinstance(spec.default, tuple)
        else spec.default
    )
    options["help"] = (
        f"{options.get('help') or spec.help} (setting {setting}, {spec.env}; default {shown})"
    )
    parser.add_argument(flag, dest=dest, default=None, **options)
    flags = dict(parser.get_default(SETTING_FLAGS) or {})
    flags[dest] = (setting, flag)
    parser.set_defaults(**{SETTING_FLAGS: flags})


def add_edge_flags(parser: argparse.ArgumentParser) -> None:
    """Who speaks, how answers come and what may leave the device: replay, edge, glasses."""
    from protocol import ANSWER_MODES, PRIVACY_MODES

    add_setting_flag(parser, "--mode", "edge.mode", choices=ANSWER_MODES)
    add_setting_flag(parser, "--privacy", "edge.privacy", choices=PRIVACY_MODES)
    add_setting_flag(parser, "--user", "user")


def settings_of(args: argparse.Namespace) -> Settings:
    """The settings the command line was read with (the parser puts them on `args`)."""
    settings = args.settings
    assert isinstance(settings, Settings), "args come from companion.cli._parser()"
    return settings


def given_setting_flags(args: argparse.Namespace) -> dict[str, tuple[str, object]]:
    """{setting name: (flag, value)} for the setting flags this command line gave."""
    given: dict[str, tuple[str, object]] = {}
    for dest, (setting, flag) in (getattr(args, SETTING_FLAGS, None) or {}).items():
        value = getattr(args, dest, None)
        if value is not None:
            given[setting] = (flag, value)
    return given


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
