"""`companion bench faces`: the face stage's precision and recall on the labelled face set.

The set is recordings/faces/ (made by scripts/make_face_set.py, truth in
truth.json): real faces at many sizes and angles, and face-like textures,
signs and non-face recordings where every detection is a false positive.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from companion.cli_support import Subcommands, print_result


def register(commands: Subcommands, benchmarks: Subcommands) -> None:
    bench = benchmarks.add_parser(
        "faces", help="precision and recall of the face stage on the labelled face set"
    )
    bench.add_argument("--set", type=Path, help="a folder with truth.json (default: the project's)")
    bench.add_argument(
        "--unconfirmed",
        action="store_true",
        help="skip the landmark check of low-score candidates (the detector alone)",
    )
    bench.add_argument("--misses", action="store_true", help="also list missed and spurious frames")
    bench.add_argument("--json", action="store_true")
    bench.set_defaults(run=_bench_faces)


async def _bench_faces(args: argparse.Namespace) -> int:
    from edge.vision.faces import MediaPipeFaceDetector
    from simulators.bench_faces import FACE_SET, bench_faces

    detector = MediaPipeFaceDetector(confirm=not args.unconfirmed)
    try:
        report = await asyncio.to_thread(bench_faces, detector, folder=args.set or FACE_SET)
    finally:
        detector.close()
    result = report.to_json()
    if not args.misses:
        result.pop("missed")
        result.pop("spurious")
    print_result(result, args.json)
    return 0
