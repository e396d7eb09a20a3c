"""`companion bench edge`: the edge's listening, seeing and uploading costs on real media."""

from __future__ import annotations

import argparse
from pathlib import Path

from companion.cli_support import (
    Subcommands,
    UsageError,
    check_files,
    print_result,
    progress_printer,
    settings_of,
)


def register(commands: Subcommands, benchmarks: Subcommands) -> None:
    edge = benchmarks.add_parser(
        "edge", help="VAD, vision stages and bytes upstream of the edge on a video and audio"
    )
    edge.add_argument(
        "--video",
        type=Path,
        help="any video PyAV reads (default: the bottle-line clip in the recordings setting)",
    )
    edge.add_argument(
        "--audio", type=Path, help="speech to replay with it (default: demo question)"
    )
    edge.add_argument("--frames", type=int, default=300, help="frames for the cheap gates")
    edge.add_argument("--model-frames", type=int, default=8, help="frames for each model stage")
    edge.add_argument("--repeats", type=int, default=3, help="passes; the best is reported")
    edge.add_argument("--json", action="store_true", help="one JSON line")
    edge.set_defaults(run=_bench_edge)
    barge = benchmarks.add_parser(
        "barge-in",
        help="speech over a spoken answer: stop latency, false barge-ins from its echo, "
        "backchannels that let it play on",
    )
    barge.add_argument("--seeds", type=int, default=2, help="echo paths per answer and level")
    barge.add_argument("--json", action="store_true", help="one JSON line")
    barge.set_defaults(run=_bench_barge_in)


async def _bench_barge_in(args: argparse.Namespace) -> int:
    import asyncio

    from simulators.bench_barge_in import bench_barge_in

    if args.seeds < 1:
        raise UsageError("--seeds must be at least 1")
    result = await asyncio.to_thread(
        bench_barge_in,
        settings_of(args).recordings,
        seeds=args.seeds,
        progress=progress_printer(),
    )
    print_result(result, args.json)
    return 0


async def _bench_edge(args: argparse.Namespace) -> int:
    from edge.errors import MediaError
    from simulators.bench_edge import bench_edge

    video = args.video or settings_of(args).recordings / "video" / "bottle-detection.mp4"
    check_files(video, args.audio)
    if min(args.frames, args.model_frames, args.repeats) < 1:
        raise UsageError("--frames, --model-frames and --repeats must be at least 1")
    try:
        result = await bench_edge(
            video,
            args.audio,
            frames=args.frames,
            model_frames=args.model_frames,
            repeats=args.repeats,
            progress=progress_printer(),
        )
    except MediaError as exc:
        raise UsageError(str(exc)) from exc
    print_result(result, args.json)
    return 0
