"""The `companion` command.

Every failure a user can cause (missing media, an unreachable gateway, a model
package not installed) ends as one line on stderr and a non-zero exit: 2 for
bad command-line input, 1 for a part's error or anything unexpected (`--verbose`
adds the traceback), 3 when a replay heard no speech, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cloud.errors import CloudError
from companion import (
    cli_app,
    cli_bridge,
    cli_bus,
    cli_captions,
    cli_config,
    cli_devices,
    cli_edge,
    cli_edge_live,
    cli_eval,
    cli_faces,
    cli_fuzz,
    cli_memory,
    cli_products,
)
from companion.cli_support import (
    Register,
    UsageError,
    add_edge_flags,
    add_setting_flag,
    check_files,
    given_setting_flags,
    print_result,
    probe_media,
    progress_printer,
    settings_of,
)
from companion.settings import SettingsError, apply_to_process, load_settings
from deploy.errors import DeployError
from edge.errors import EdgeError
from firmware_bridge.errors import BridgeError
from gateway.errors import GatewayError
from modelfiles import ModelFileError
from protocol.errors import ProtocolError
from simulators.errors import SimulatorError

if TYPE_CHECKING:
    from cloud.config import CloudConfig

DEMO_DIR = Path(__file__).resolve().parents[1] / "simulators" / "demo"
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_SPEECH = 3

# Each part's one base error. Their messages say what happened and what to do,
# so the command prints the message alone; anything else is a bug or a surprise.
PART_ERRORS: tuple[type[Exception], ...] = (
    ProtocolError,
    EdgeError,
    GatewayError,
    CloudError,
    BridgeError,
    ModelFileError,
    SimulatorError,
    DeployError,
)

# Each area's own commands: module.register(commands, benchmarks).
AREA_COMMANDS: tuple[Register, ...] = (
    cli_bus.register,
    cli_memory.register,
    cli_captions.register,
    cli_bridge.register,
    cli_app.register,
    cli_devices.register,
    cli_eval.register,
    cli_edge_live.register,
    cli_edge.register,
    cli_config.register,
    cli_products.register,
    cli_faces.register,
    cli_fuzz.register,
)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("aioice", "aiortc", "websockets", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING if args.verbose else logging.ERROR)
    apply_to_process(args.settings)
    try:
        return int(asyncio.run(args.run(args)))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the CLI's one place that turns any failure into one line
        cause = _first_cause(exc)
        expected = isinstance(cause, (UsageError, OSError, *PART_ERRORS))
        if args.verbose and not expected:
            raise
        if args.verbose:
            traceback.print_exception(cause, file=sys.stderr)
        print(f"companion: {_one_line(cause, expected)}", file=sys.stderr)
        return EXIT_USAGE if isinstance(cause, UsageError) else EXIT_FAILED


def _first_cause(exc: BaseException) -> BaseException:
    """The failure itself rather than the task group that carried it."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _one_line(exc: BaseException, expected: bool) -> str:
    """The error as one line of stderr: a deliberate error's own message says enough.

    An unexpected one also names its type (a bare KeyError's message is just
    the key) and where to find more.
    """
    message = " ".join(str(exc).split()) or type(exc).__name__
    if expected:
        return message
    return f"unexpected {type(exc).__name__}: {message} (run with --verbose for the traceback)"


class _Parser(argparse.ArgumentParser):
    """Reads the command line, then the settings under it (companion/settings.py): a bad
    value anywhere is a usage error naming the setting and where it came from."""

    def parse_args(self, args: Iterable[str] | None = None, namespace: Any = None) -> Any:
        parsed = super().parse_args(args, namespace)
        try:
            parsed.settings = load_settings(
                config_file=parsed.config, flags=given_setting_flags(parsed)
            )
        except SettingsError as exc:
            self.error(str(exc))
        return parsed


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="companion", description="Smart-glasses companion: edge, gateway, cloud.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and tracebacks")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="a TOML settings file (default: COMPANION_CONFIG); see `companion config show`",
    )
    # The commands are plain parsers: only the whole command line builds the settings.
    sub = parser.add_subparsers(
        required=True, metavar="command", parser_class=argparse.ArgumentParser
    )

    demo = sub.add_parser("demo", help="answer a spoken question about a page, offline, end to end")
    demo.add_argument("--json", action="store_true", help="print JSON lines")
    _add_asr_model(demo)
    demo.set_defaults(run=_demo)

    rp = sub.add_parser("replay", help="replay a video/image and an audio file through the stack")
    rp.add_argument("--video", type=Path, help="any video PyAV reads, or a still image")
    rp.add_argument("--audio", type=Path, help="wav, flac, … or raw PCM with --audio-format")
    rp.add_argument("--audio-format", help="for raw PCM, e.g. s16le:16000")
    rp.add_argument("--text", action="append", help="a typed question (repeatable)")
    rp.add_argument("--speed", choices=("realtime", "max"), default="max")
    rp.add_argument("--gateway", help="a running gateway's URL (default: start one here)")
    cli_edge_live.add_token_flag(rp)
    add_edge_flags(rp)
    _add_asr_model(rp)
    cli_edge_live.add_turn_taking_arguments(rp)
    rp.add_argument("--json", action="store_true", help="print JSON lines")
    rp.add_argument(
        "--dump-uploads",
        type=Path,
        metavar="DIR",
        help="write every frame that left the device, as sent (faces hidden), as JPEGs here",
    )
    rp.add_argument(
        "--answer-audio",
        type=Path,
        metavar="DIR",
        help="speak the answers (the bundled Piper voice) and write each as a WAV file here",
    )
    rp.set_defaults(run=_replay)

    serve = sub.add_parser("serve", help="run the gateway and the cloud for other clients")
    add_setting_flag(serve, "--host", "gateway.host")
    add_setting_flag(serve, "--port", "gateway.port", help="gateway HTTP port")
    add_setting_flag(serve, "--cloud-port", "cloud.port")
    add_setting_flag(
        serve,
        "--cloud-host",
        "cloud.host",
        help="where the internal cloud port listens (loopback: only this gateway uses it)",
    )
    add_setting_flag(serve, "--user", "user", help="print a phone-app pairing link for this user")
    add_setting_flag(
        serve,
        "--openai-port",
        "cloud.openai_port",
        help="also serve the model as OpenAI-compatible /v1/chat/completions (answered from "
        "the token's user's memories) and /v1/audio/transcriptions on this port; bearer: a "
        "token from `companion token`, or cloud.openai_serve_key",
    )
    _add_asr_model(serve)
    serve.set_defaults(run=_serve)

    bench = sub.add_parser("bench", help="print benchmark figures")
    bench_sub = bench.add_subparsers(required=True, metavar="benchmark")
    asr = bench_sub.add_parser("asr", help="word error rate and speed of speech recognition")
    asr.add_argument(
        "--recordings",
        type=Path,
        help="folder of clips (default: the recordings setting's speech/)",
    )
    asr.add_argument("--json", action="store_true")
    asr.set_defaults(run=_bench_asr)
    e2e = bench_sub.add_parser("e2e", help="latency per stage over repeated end-to-end replays")
    e2e.add_argument("--runs", type=int, default=5)
    e2e.add_argument("--video", type=Path, default=DEMO_DIR / "page.png")
    e2e.add_argument("--audio", type=Path, default=DEMO_DIR / "question-page.wav")
    e2e.add_argument(
        "--mode",
        choices=("fast", "reasoning"),
        default=None,
        help="measure one answer mode only (default: fast and reasoning, taken in turn)",
    )
    e2e.add_argument(
        "--compare-modes",
        action="store_true",
        help="answer the same question in fast and in reasoning mode, runs times each, "
        "and print first-token latency per mode",
    )
    e2e.add_argument("--json", action="store_true")
    e2e.set_defaults(run=_bench_e2e)
    turn_end = bench_sub.add_parser(
        "turn-end",
        help="Smart Turn at a reader's comma and sentence ends, and turns made of real "
        "sentences with pauses inside (recordings/speech/pauses), with and without it",
    )
    turn_end.add_argument("--json", action="store_true")
    turn_end.set_defaults(run=_bench_turn_end)
    for register in AREA_COMMANDS:
        register(sub, bench_sub)
    return parser


def _add_asr_model(parser: argparse.ArgumentParser) -> None:
    add_setting_flag(parser, "--asr-model", "cloud.asr_model", metavar="DIR")


def _cloud_config(args: argparse.Namespace) -> CloudConfig:
    """The cloud's config from the settings; a named ASR model folder is checked first."""
    from cloud.errors import ModelError
    from cloud.speech.asr import check_model_dir

    settings = settings_of(args)
    config = settings.cloud_config()
    if config.asr_model is not None:
        try:
            check_model_dir(config.asr_model)
        except ModelError as exc:
            raise UsageError(f"{settings.origin('cloud.asr_model')} {exc}") from None
    return config


async def _demo(args: argparse.Namespace) -> int:
    import dataclasses

    args.video = DEMO_DIR / "page.png"
    args.audio = DEMO_DIR / "question-page.wav"
    args.audio_format = None
    args.text = None
    args.speed = "realtime"
    args.gateway = None
    args.dump_uploads = None
    # The demo is the same every time, whatever the settings say about the wearer.
    args.settings = dataclasses.replace(
        settings_of(args), edge_mode="fast", edge_privacy="standard", user="demo"
    )
    if not args.json:
        print("Companion demo: a photographed page in view, the wearer asks", file=sys.stderr)
        print('"What does this page say?" (real models, real WebRTC on loopback)', file=sys.stderr)
    return await _replay(args)


async def _replay(args: argparse.Namespace) -> int:
    from cloud.conversation import Models
    from deploy.local_stack import load_cloud_models, warm_up
    from edge.models import EdgeModels
    from simulators.stack_replay import (
        AnswerAudioWriter,
        Printer,
        UploadDump,
        run_replay,
        with_voice,
    )

    settings = settings_of(args)
    edge_config = settings.edge_config(device="replay")
    if edge_config.activation == "push":
        raise UsageError(
            f"{settings.origin('edge.activation')} push: a replay has no button; use always or wake"
        )
    if args.video is None and args.audio is None and not args.text:
        raise UsageError("give --video and/or --audio (or --text)")
    check_files(args.video, args.audio)
    probe_media(args.video, args.audio, args.audio_format)
    models: Models | None = None
    if args.gateway is None:
        progress = progress_printer()
        models = await asyncio.to_thread(load_cloud_models, _cloud_config(args), progress)
        await warm_up(models, progress)
    printer = Printer(as_json=args.json)
    dump = UploadDump.into(args.dump_uploads, printer) if args.dump_uploads else None
    answer_audio = getattr(args, "answer_audio", None)  # the demo has no such flag
    if answer_audio is not None and models is not None:
        models = await asyncio.to_thread(with_voice, models)
    writer = AnswerAudioWriter.into(answer_audio, dump or printer) if answer_audio else None
    token = settings.token if args.gateway is not None else None
    summary = await run_replay(
        edge_models=EdgeModels(),
        video=args.video,
        audio=args.audio,
        audio_format=args.audio_format,
        speed=args.speed,
        gateway_url=args.gateway,
        models=models,
        questions=args.text,
        edge_config=edge_config,
        on_event=writer or dump or printer,
        token=token,
    )
    printer.summary(summary)
    if summary.errors:
        return 1
    if not any(t.transcript or t.done for t in summary.turns):
        return EXIT_NO_SPEECH
    return 0


async def _serve(args: argparse.Namespace) -> int:
    from deploy.local_stack import is_loopback, load_cloud_models, local_stack, warm_up

    settings = settings_of(args)
    config = _cloud_config(args)
    progress = progress_printer()
    models = await asyncio.to_thread(load_cloud_models, config, progress)
    from cloud.errors import ModelError
    from simulators.stack_replay import with_voice

    progress("loading the voice (Piper en_US-joe-medium)…")
    try:  # the phone app plays spoken answers
        models = await asyncio.to_thread(with_voice, models)
    except ModelError as exc:  # a missing voice costs the sound, not the service
        progress(f"answers will be text only: {exc}")
    await warm_up(models, progress)
    app = cli_app.app_options(models, settings.data_dir)
    async with local_stack(
        models,
        host=settings.gateway_host,
        gateway_port=settings.gateway_port,
        cloud_port=config.port,
        cloud_host=config.host,
        cloud_config=config,
        gateway_config=settings.gateway_config(),
        **app,
    ) as stack:
        print(f"gateway: {stack.gateway_url}  (POST /v1/sessions with an SDP offer)", flush=True)
        reach = "loopback only" if is_loopback(config.host) else "reachable from the network"
        print(f"cloud:   {stack.cloud_url}  ({reach}; gateway-signed sessions only)", flush=True)
        if stack.cloud.openai_url is not None:
            print(f"openai:  {stack.cloud.openai_url}  (POST /chat/completions)", flush=True)
        code = app["accounts"].pairing_code(settings.user)
        print(f"phone app for {settings.user!r}, one-time link: ", end="", flush=True)
        print(cli_app.pairing_link(stack.gateway_url, code), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    return 0


async def _bench_asr(args: argparse.Namespace) -> int:
    from cloud.speech.asr import WhisperTranscriber
    from simulators.bench_asr import bench_asr

    recordings = args.recordings or settings_of(args).recordings / "speech"
    if not recordings.is_dir():
        raise UsageError(f"{recordings}: no such directory (set --recordings)")
    started = time.monotonic()
    transcriber = await asyncio.to_thread(WhisperTranscriber)
    load_s = time.monotonic() - started
    result = await asyncio.to_thread(bench_asr, recordings, transcriber)
    result["load_seconds"] = round(load_s, 2)
    print_result(result, args.json)
    return 0


async def _bench_turn_end(args: argparse.Namespace) -> int:
    from simulators.bench_turn_end import bench_turn_end, print_turn_end

    result = await asyncio.to_thread(bench_turn_end, settings_of(args).recordings)
    if args.json:
        print_result(result, True)
    else:
        print_turn_end(result)
    return 0


async def _bench_e2e(args: argparse.Namespace) -> int:
    from simulators.bench_e2e import bench_e2e, compare_modes

    check_files(args.video, args.audio)
    if args.runs < 1:
        raise UsageError(f"--runs {args.runs}: give at least 1")
    if args.compare_modes:
        compared = await compare_modes(
            video=args.video,
            audio=args.audio,
            runs=args.runs,
            config=_cloud_config(args),
            progress=progress_printer(),
        )
        print_result(compared, args.json)
        return 0
    result = await bench_e2e(
        video=args.video,
        audio=args.audio,
        runs=args.runs,
        modes=(args.mode,) if args.mode else ("fast", "reasoning"),
        config=_cloud_config(args),
        progress=progress_printer(),
    )
    print_result(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
