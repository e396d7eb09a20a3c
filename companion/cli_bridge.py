"""`companion bridge decode`, `companion glasses` and `companion bench bridge`: the glasses' side.

- `bridge decode --capture F --out DIR`: a sniffer's or debug app's capture
  of notifications (JSON lines `{"t", "uuid", "hex"}`) becomes `audio.wav`
  and `photo-NNN.jpg`, through the same decoders as a live link, to diagnose
  real hardware. Bad lines are named on stderr and skipped.
- `glasses --device omi:<address> | virtual:<video>,<audio>`: the edge
  runtime on glasses, against `--gateway` or a stack started here.
- `bench bridge`: decode speed and photo latency over a realistic BLE rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from companion.cli_edge_live import add_on_device_listening_flags
from companion.cli_support import (
    Subcommands,
    UsageError,
    add_edge_flags,
    print_result,
    probe_media,
    progress_printer,
    settings_of,
)

if TYPE_CHECKING:  # the models behind these load only when a command needs them
    from edge.session import TurnRecord
    from protocol import DeviceStatus, Message

EXIT_NO_SPEECH = 3
CODEC_CHOICES = ("pcm16-16k", "pcm16-8k", "mulaw-16k", "mulaw-8k", "opus-16k", "opus-16k-20ms")


def register(commands: Subcommands, benchmarks: Subcommands) -> None:
    bridge = commands.add_parser("bridge", help="glasses protocol tools (decode a BLE capture)")
    bridge_sub = bridge.add_subparsers(required=True, metavar="tool")
    decode = bridge_sub.add_parser(
        "decode", help="turn a capture of glasses notifications into a WAV file and JPEGs"
    )
    decode.add_argument(
        "--capture", type=Path, required=True, help='JSON lines {"t", "uuid", "hex"}'
    )
    decode.add_argument("--out", type=Path, required=True, help="folder for audio.wav, photo-*.jpg")
    decode.add_argument(
        "--codec",
        help="codec id or name (default: the capture's codec line, else Opus as Omi ships)",
    )
    decode.add_argument("--json", action="store_true")
    decode.set_defaults(run=_decode)

    glasses = commands.add_parser(
        "glasses",
        help="run the edge on glasses: omi:<address> over BLE, or virtual:<video>,<audio>",
    )
    glasses.add_argument(
        "--device", required=True, help="omi:AA:BB:CC:DD:EE:FF or virtual:<video>,<audio>"
    )
    glasses.add_argument("--gateway", help="a running gateway's URL (default: start one here)")
    glasses.add_argument(
        "--photo-interval", type=int, help="ask for a photo every N s (5..127; default: on tap)"
    )
    glasses.add_argument(
        "--codec", choices=CODEC_CHOICES, default="mulaw-16k", help="virtual glasses' codec"
    )
    glasses.add_argument(
        "--loss", type=float, default=0.0, help="virtual link: chance a notification is lost"
    )
    glasses.add_argument(
        "--speed", choices=("realtime", "max"), default="realtime", help="virtual audio pace"
    )
    glasses.add_argument(
        "--speaker",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="speak answers on the glasses' speaker as Opus (default: on for omi:, "
        "off for virtual:, whose pair then stays connected until it heard the answer)",
    )
    add_edge_flags(glasses)
    add_on_device_listening_flags(glasses)
    glasses.add_argument("--json", action="store_true", help="print JSON lines")
    glasses.set_defaults(run=_glasses)

    bench = benchmarks.add_parser(
        "bridge", help="glasses decode speed and single-shot photo latency over BLE rates"
    )
    bench.add_argument("--audio-seconds", type=float, default=20.0)
    bench.add_argument("--photo-runs", type=int, default=3)
    bench.add_argument("--json", action="store_true")
    bench.set_defaults(run=_bench)


def _codec_id(text: str | None) -> int | None:
    from firmware_bridge.codecs import CODECS

    if text is None:
        return None
    if text.strip().isdigit():
        return int(text)
    for spec in CODECS.values():
        if spec.name == text.strip().lower():
            return int(spec.codec_id)
    names = ", ".join(f"{s.codec_id.value} ({s.name})" for s in CODECS.values())
    raise UsageError(f"--codec {text!r}: not a codec id or name ({names})")


async def _decode(args: argparse.Namespace) -> int:
    from firmware_bridge.capture import decode_capture

    if not args.capture.is_file():
        raise UsageError(f"{args.capture}: no such file")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"{args.out}: exists and is not a folder")
    codec = _codec_id(args.codec)
    try:
        with args.capture.open(encoding="utf-8", errors="replace") as lines:
            report = await asyncio.to_thread(decode_capture, lines, args.out, codec=codec)
    except OSError as error:
        raise UsageError(f"{args.capture}: cannot read: {error.strerror or error}") from error
    for problem in report.problems:
        print(f"companion: {args.capture}: {problem}", file=sys.stderr)
    if report.malformed_lines > len([p for p in report.problems if p.startswith("line ")]):
        print(
            f"companion: {args.capture}: {report.malformed_lines} malformed lines in all",
            file=sys.stderr,
        )
    result = report.as_dict()
    if args.json:
        print(json.dumps(result))
    else:
        audio = (
            f"{report.audio_path} ({report.audio_seconds:.2f} s, {report.codec}, "
            f"{report.audio.lost_packets + report.audio.incomplete_packets} packets lost)"
            if report.audio_path is not None
            else "none"
        )
        print(f"lines: {report.lines} ({report.malformed_lines} malformed, skipped)")
        print(f"audio: {audio}")
        print(f"photos: {len(report.photo_paths)} ({report.photos.dropped_total} incomplete)")
        for path in report.photo_paths:
            print(f"  {path}")
        if report.battery_percent is not None:
            print(f"battery: {report.battery_percent} %")
    if report.audio_path is None and not report.photo_paths:
        print(f"companion: {args.capture}: no audio or photo could be decoded", file=sys.stderr)
        return 1
    return 0


async def _glasses(args: argparse.Namespace) -> int:
    from cloud.conversation import Models
    from companion.cli_edge_live import listening_wanted, on_device_listening, print_kept_notes
    from companion.glasses import VirtualOptions, parse_device, run_glasses
    from deploy.local_stack import load_cloud_models, warm_up
    from edge.models import EdgeModels
    from firmware_bridge.loopback import LinkConditions
    from firmware_bridge.omi_protocol import CodecId, photo_control_value
    from protocol import DeviceStatus
    from simulators.stack_replay import Printer

    try:
        spec = parse_device(args.device)
    except ValueError as error:
        raise UsageError(str(error)) from error
    if args.photo_interval is not None:
        try:
            photo_control_value(args.photo_interval)
        except ValueError as error:
            raise UsageError(f"--photo-interval: {error}") from error
    if not 0.0 <= args.loss < 1.0:
        raise UsageError("--loss must be a probability in [0, 1)")
    probe_media(spec.video, spec.audio)
    codec = _codec_id(args.codec)
    assert codec is not None
    virtual = VirtualOptions(
        codec=CodecId(codec),
        conditions=LinkConditions(loss_probability=args.loss, seed=1),
        realtime=args.speed == "realtime",
    )
    speaker: bool = spec.kind == "omi" if args.speaker is None else args.speaker
    listen = listening_wanted(args)
    models: Models | None = None
    if args.gateway is None:
        progress = progress_printer()
        cloud_config = settings_of(args).cloud_config()
        models = await asyncio.to_thread(load_cloud_models, cloud_config, progress)
        if speaker:
            from cloud.errors import ModelError
            from simulators.stack_replay import with_voice

            progress("loading the voice (Piper en_US-joe-medium)…")
            try:
                models = await asyncio.to_thread(with_voice, models)
            except ModelError as exc:  # a missing voice costs the sound, not the answers
                progress(f"answers will be text only: {exc}")
        await warm_up(models, progress)
    printer = Printer(as_json=args.json)
    listening_here = on_device_listening(args)

    def on_event(kind: str, message: Message, turn: TurnRecord | None) -> None:
        if isinstance(message, DeviceStatus):
            _print_status(message, as_json=args.json)
        else:
            printer(kind, message, turn)

    summary = await run_glasses(
        spec,
        edge_config=settings_of(args).edge_config(),
        edge_models=EdgeModels(),
        models=models,
        gateway_url=args.gateway,
        virtual=virtual,
        photo_interval_s=args.photo_interval,
        on_event=on_event,
        speaker=speaker,
        listening_here=listening_here,
        listen=listen,
    )
    printer.summary(summary)
    print_kept_notes(listening_here, as_json=args.json)
    if summary.errors:
        return 1
    if not any(t.transcript or t.done for t in summary.turns):
        return EXIT_NO_SPEECH
    return 0


def _print_status(status: DeviceStatus, *, as_json: bool) -> None:
    if as_json:
        record = {
            "type": "device_status",
            "device": status.device,
            "event": status.event,
            "connection": status.connection,
            "battery_percent": status.battery_percent,
            "worn": status.worn,
            "lost_audio_packets": status.lost_audio_packets,
            "photos": status.photos,
            "problem": status.problem,
        }
        print(json.dumps(record), flush=True)
        return
    battery = f"{status.battery_percent} %" if status.battery_percent >= 0 else "unknown"
    worn = "worn" if status.worn else "not worn"
    print(
        f"Glasses: {status.event or status.connection} ({status.connection}, battery {battery}, "
        f"{worn}, {status.lost_audio_packets} audio packets lost, {status.photos} photos)",
        flush=True,
    )


async def _bench(args: argparse.Namespace) -> int:
    from simulators.bench_bridge import (
        LINK_BYTES_PER_S,
        LINK_LATENCY_S,
        bench_audio_decode,
        bench_photo_decode,
        bench_single_shot,
    )

    if args.audio_seconds <= 0 or args.photo_runs < 1:
        raise UsageError("--audio-seconds must be positive and --photo-runs at least 1")
    progress = progress_printer()
    progress(f"audio decode, {args.audio_seconds:.0f} s per codec…")
    audio = await asyncio.to_thread(bench_audio_decode, args.audio_seconds)
    progress("photo decode…")
    photo = await asyncio.to_thread(bench_photo_decode)
    progress(
        f"single shot → JPEG at the edge over a {LINK_BYTES_PER_S / 1000:.0f} kB/s, "
        f"{LINK_LATENCY_S * 1000:.0f} ms link, {args.photo_runs} runs…"
    )
    single = await bench_single_shot(runs=args.photo_runs)
    result = {
        "audio_decode": audio,
        "photo_decode": photo,
        "single_shot": single,
        "link": (
            f"{LINK_BYTES_PER_S / 1000:.0f} kB/s, {LINK_LATENCY_S * 1000:.0f} ms: about four "
            "200-byte notifications per 30 ms connection event, what an ESP32 camera manages"
        ),
    }
    print_result(result, args.json)
    return 0
