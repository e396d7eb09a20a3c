"""`companion edge`: this machine's camera and microphone as the glasses, live.

    companion edge --camera 0 --mic default --gateway http://127.0.0.1:8080

streams to a running gateway (`companion serve`) until Ctrl-C and prints each
turn as it is answered. The turn-taking flags (`--activation`,
`--end-silence-ms`, …) are shared with `companion replay`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterable
from typing import TYPE_CHECKING, Any

from companion.cli_support import Subcommands, UsageError
from edge.audio.activation import ACTIVATION_MODES

if TYPE_CHECKING:
    from edge.sources.media import MediaItem

MAX_END_SILENCE_MS = 5_000


def add_turn_taking_arguments(parser: argparse.ArgumentParser, *, live: bool = False) -> None:
    """The flags that tune when a turn starts and ends."""
    modes = ACTIVATION_MODES if live else ("always", "wake")  # a replay has no button
    parser.add_argument(
        "--activation",
        choices=modes,
        default="always",
        help="always: every utterance is a question; wake: only after the wake phrase "
        "(or within a few seconds of an answer); push: only after a button press",
    )
    parser.add_argument(
        "--end-silence-ms",
        type=_end_silence_ms,
        metavar="MS",
        help="quiet after the last word that ends a question (default 288: within 300 ms)",
    )
    parser.add_argument(
        "--wake-phrase", type=_wake_phrase, help='the wake phrase (default "hey companion")'
    )
    parser.add_argument(
        "--no-barge-in",
        action="store_true",
        help="let an answer finish even when the wearer talks over it",
    )


def _end_silence_ms(text: str) -> int:
    """Checked as the flags are read, before any model loads."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of milliseconds: {text!r}") from None
    if not 0 <= value <= MAX_END_SILENCE_MS:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_END_SILENCE_MS}")
    return value


def _wake_phrase(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def turn_taking_options(args: argparse.Namespace) -> dict[str, Any]:
    """EdgeConfig fields from the turn-taking flags (absent flags keep the defaults)."""
    options: dict[str, Any] = {}
    end_silence = getattr(args, "end_silence_ms", None)
    if end_silence is not None:
        if not 0 <= end_silence <= MAX_END_SILENCE_MS:
            raise UsageError(
                f"--end-silence-ms must be between 0 and {MAX_END_SILENCE_MS}, got {end_silence}"
            )
        options["end_silence_ms"] = end_silence
    activation = getattr(args, "activation", None)
    if activation is not None:
        options["activation"] = activation
    phrase = getattr(args, "wake_phrase", None)
    if phrase is not None:
        if not phrase.strip():
            raise UsageError("--wake-phrase must not be empty")
        options["wake_phrase"] = phrase
    if getattr(args, "no_barge_in", False):
        options["barge_in"] = False
    return options


# The glasses-only options `companion glasses` has, at their defaults there.
GLASSES_DEFAULTS = {"photo_interval": None, "codec": "mulaw-16k", "loss": 0.0, "speed": "realtime"}


def register(commands: Subcommands, benchmarks: Subcommands) -> None:
    edge = commands.add_parser(
        "edge", help="stream this machine's camera and microphone to a gateway, live"
    )
    edge.add_argument(
        "--camera", default="0", help='camera index, device path, URL or video file; "none": off'
    )
    edge.add_argument(
        "--mic", default="default", help='"default", a device index or name; "none": off'
    )
    edge.add_argument(
        "--device",
        help="glasses instead of this machine's camera and mic: omi:<BLE address> or "
        "virtual:<video>,<audio> (the same as `companion glasses --device`)",
    )
    edge.add_argument(
        "--gateway", help="a running gateway's URL (required unless --device starts one here)"
    )
    edge.add_argument("--mode", choices=("auto", "fast", "reasoning"), default="auto")
    edge.add_argument(
        "--privacy", choices=("standard", "no-camera", "local-only"), default="standard"
    )
    edge.add_argument("--user", default="me")
    edge.add_argument(
        "--fps", type=float, default=10.0, help="most camera frames per second (0: all)"
    )
    edge.add_argument("--json", action="store_true", help="print JSON lines")
    add_turn_taking_arguments(edge, live=True)
    edge.set_defaults(run=_edge)


async def _edge(args: argparse.Namespace) -> int:
    import time

    from edge.config import EdgeConfig
    from edge.models import EdgeModels
    from edge.session import EdgeSession
    from edge.sources.camera import CameraSource, camera_device
    from edge.sources.merging import merge_sources
    from edge.sources.microphone import MicrophoneSource, microphone_device
    from simulators.stack_replay import Printer

    if args.device:
        from companion import cli_bridge

        for name, default in GLASSES_DEFAULTS.items():
            setattr(args, name, getattr(args, name, default))
        return await cli_bridge._glasses(args)
    if not args.gateway:
        raise UsageError("give --gateway URL (or --device for glasses)")
    if args.camera == "none" and args.mic == "none":
        raise UsageError("nothing to stream: give --camera and/or --mic")
    if args.fps < 0:
        raise UsageError(f"--fps must not be negative, got {args.fps}")
    config = EdgeConfig(
        gateway_url=args.gateway,
        user=args.user,
        device="local",
        privacy=args.privacy,
        mode=args.mode,
        **turn_taking_options(args),
    )
    start = time.monotonic()  # one origin for audio and video times
    sources: list[AsyncIterable[MediaItem]] = []
    # A missing microphone or camera raises MediaError: one line, exit 1.
    if args.mic != "none":
        sources.append(MicrophoneSource(microphone_device(args.mic), start=start))
    if args.camera != "none":
        sources.append(
            CameraSource(camera_device(args.camera), fps_cap=args.fps or None, start=start)
        )
    models = EdgeModels()
    camera_on = args.camera != "none"
    session = EdgeSession(models.listener(config), models.analyser if camera_on else None, config)
    printer = Printer(as_json=args.json)
    print("listening: Ctrl-C to stop", file=sys.stderr, flush=True)
    summary = await session.run(merge_sources(*sources), on_event=printer)
    printer.summary(summary)
    return 1 if summary.errors else 0
