"""`companion edge`: this machine's camera and microphone as the glasses, live.

    companion edge --camera 0 --mic default --gateway http://127.0.0.1:8080

streams to a running gateway (`companion serve`) until Ctrl-C and prints each
turn as it is answered. The turn-taking flags (`--activation`,
`--end-silence-ms`, …) are shared with `companion replay`, and so is
`--token` (setting `token`, COMPANION_TOKEN): a gateway with accounts serves
only a device it paired (`companion token --user U` prints the token).

With `--privacy local-only`, `--captions` and `--notes` caption what the wearer
hears and keep notes of the conversation on this machine (deploy/local_listening.py):
nothing of it leaves.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import AsyncIterable
from typing import TYPE_CHECKING

from companion.cli_support import (
    Subcommands,
    UsageError,
    add_edge_flags,
    add_setting_flag,
    settings_of,
)
from edge.audio.activation import ACTIVATION_MODES

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from cloud.speech.asr import WhisperTranscriber
    from companion.settings import Settings
    from deploy.local_listening import LocalListening
    from edge.audio.caption_tap import TapState
    from edge.link.interface import Connect
    from edge.runtime import Transcribe
    from edge.sources.media import MediaItem


def add_turn_taking_arguments(parser: argparse.ArgumentParser, *, live: bool = False) -> None:
    """The flags that tune when a turn starts and ends (settings edge.activation, …)."""
    modes = ACTIVATION_MODES if live else ("always", "wake")  # a replay has no button
    add_setting_flag(parser, "--activation", "edge.activation", choices=modes)
    add_setting_flag(parser, "--end-silence-ms", "edge.end_silence_ms", metavar="MS")
    add_setting_flag(parser, "--wake-phrase", "edge.wake_phrase", metavar="PHRASE")
    add_setting_flag(
        parser,
        "--no-barge-in",
        "edge.barge_in",
        action="store_const",
        const=False,
        help="let an answer finish even when the wearer talks over it",
    )


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
    add_edge_flags(edge)
    edge.add_argument(
        "--fps", type=float, default=10.0, help="most camera frames per second (0: all)"
    )
    edge.add_argument(
        "--speaker",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="play spoken answers on this machine's speaker, with barge-in (default: on "
        "when there is an output device and a microphone)",
    )
    edge.add_argument("--json", action="store_true", help="print JSON lines")
    add_turn_taking_arguments(edge, live=True)
    add_token_flag(edge)
    add_on_device_listening_flags(edge)
    edge.set_defaults(run=_edge)


def add_on_device_listening_flags(parser: argparse.ArgumentParser) -> None:
    """--captions and --notes: local-only's own captions and notes (`companion edge`,
    `companion glasses`); elsewhere the app's toggles or the spoken switches turn them on."""
    parser.add_argument(
        "--captions",
        action="store_true",
        help="with --privacy local-only: caption what is heard on this device (speech in "
        "another language in English)",
    )
    parser.add_argument(
        "--notes",
        action="store_true",
        help="with --privacy local-only: take notes of the conversation (lines, speakers, "
        "summary, action items), kept in this device's data folder",
    )


def listening_wanted(args: argparse.Namespace) -> TapState:
    """What --captions/--notes turn on from the start; a clear error where they cannot be
    (only local-only captions on the device: elsewhere the cloud does)."""
    from edge.audio.caption_tap import TapState

    listen = TapState(
        captions=bool(getattr(args, "captions", False)), notes=bool(getattr(args, "notes", False))
    )
    if not listen.listening:
        return listen
    if settings_of(args).edge_privacy != "local-only":
        raise UsageError(
            "--captions and --notes are for --privacy local-only; otherwise turn them on "
            'in the phone app or say "captions on" / "start taking notes"'
        )
    if getattr(args, "mic", None) == "none":
        raise UsageError("--captions and --notes need a microphone (not --mic none)")
    return listen


def on_device_listening(
    args: argparse.Namespace, whisper: WhisperTranscriber | None = None
) -> LocalListening | None:
    """The device's own captioner and note taker, in local-only mode with a microphone:
    on from the start where `listen` says, and for "captions on" / "start taking notes"
    asked of the device later."""
    settings = settings_of(args)
    if settings.edge_privacy != "local-only" or getattr(args, "mic", None) == "none":
        return None
    from cloud.memory import MiniLmEmbedder
    from cloud.speech.asr import WhisperTranscriber
    from deploy.local_listening import LocalListening

    return LocalListening(
        whisper or WhisperTranscriber(model_dir=settings.cloud_asr_model),
        data_dir=settings.data_dir,
        user=settings.user,
        embedder=MiniLmEmbedder,
    )


def print_kept_notes(listening: LocalListening | None, *, as_json: bool) -> None:
    """Tell the wearer what the device noted and where it is kept (local-only notes)."""
    if listening is None:
        return
    for kept in listening.conversations_kept:
        items = [item.to_json() for item in kept.notes.action_items]
        if as_json:
            record = {
                "type": "notes",
                "conversation": kept.conversation_id,
                "summary": kept.notes.summary,
                "action_items": items,
                "kept_in": str(listening.data_dir),
            }
            print(json.dumps(record), flush=True)
            continue
        print(f"Notes:   {kept.notes.summary or '(no summary)'}", flush=True)
        for item in kept.notes.action_items:
            when = f" ({item.when})" if item.when else ""
            print(f"         - {item.who} will {item.what}{when}", flush=True)
        print(f"         kept on this device, in {listening.data_dir}", flush=True)


def add_token_flag(parser: argparse.ArgumentParser) -> None:
    add_setting_flag(parser, "--token", "token", metavar="TOKEN")


def token_connect(token: str | None) -> Connect:
    """How the edge opens its link: with the token, when there is one."""
    from functools import partial

    from edge.link.client import GatewayClient

    return partial(GatewayClient, token=token) if token else GatewayClient


async def _edge(args: argparse.Namespace) -> int:
    import time

    from edge.audio.playback import AnswerPlayer
    from edge.audio.speaker_output import SpeakerOutput
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
    listen = listening_wanted(args)
    speaker = _speaker_wanted(args)
    # Spoken answers come as Opus on the data channel, each part tagged with its turn: the
    # player stops a turn the moment the wearer barges in and knows exactly what it played
    # (the echo canceller's reference), which a continuous audio track would blur.
    config = settings_of(args).edge_config(
        gateway_url=args.gateway, device="local", answer_codec="opus" if speaker else "pcm"
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
    settings = settings_of(args)
    player = AnswerPlayer() if speaker else None
    whisper = _whisper(settings) if speaker and args.mic != "none" else None
    on_device = on_device_listening(args, whisper)
    session = EdgeSession(
        models.listener(config),
        models.analyser if camera_on else None,
        config,
        connect=token_connect(settings.token),
        player=player,
        transcribe=_local_transcriber(whisper) if whisper is not None else None,
        caption_listener=models.caption_listener(config) if args.mic != "none" else None,
        on_device=on_device,
        listen=listen,
    )
    printer = Printer(as_json=args.json)
    with contextlib.ExitStack() as playing:
        if player is not None:
            playing.enter_context(SpeakerOutput(player, start=start))
        print(
            f"listening{', answers spoken here' if player else ''}: Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        summary = await session.run(merge_sources(*sources), on_event=printer)
    printer.summary(summary)
    print_kept_notes(on_device, as_json=args.json)
    return 1 if summary.errors else 0


def _speaker_wanted(args: argparse.Namespace) -> bool:
    """--speaker / --no-speaker, else on where this machine has an output device."""
    from edge.audio.speaker_output import has_output_device

    if args.speaker is None:
        return has_output_device()
    return bool(args.speaker)


def _whisper(settings: Settings) -> WhisperTranscriber:
    """The bundled Whisper, loaded once on this machine (backchannels, local captions)."""
    from cloud.speech.asr import WhisperTranscriber

    return WhisperTranscriber(model_dir=settings.cloud_asr_model)


def _local_transcriber(whisper: WhisperTranscriber) -> Transcribe:
    """Whisper on this machine, for the few words said over a spoken answer ("mhm" or a
    question?): the answer stays paused while they are understood."""

    def transcribe(samples: npt.NDArray[np.int16]) -> str:
        return whisper.transcribe(samples, 16_000)

    return transcribe
